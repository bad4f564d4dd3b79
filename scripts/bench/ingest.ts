/**
 * Ingest throughput against its floor, measured in the same run:
 *
 * 1. A fresh node is started as a child process. Synthetic accounts are
 *    streamed to it over SubmitRecords, then the repayments (the measured
 *    phase: first write to last acknowledgement), with at most `--window`
 *    batches unacknowledged, so neither side buffers without bound.
 * 2. The node is stopped and raw LevelDB (`level`, a new directory, same
 *    filesystem) takes the same repayments as synced batches of the same
 *    size, with exactly the keys and values the node's record store writes
 *    for them (encoded by the store itself, account refs under the node's
 *    own key), timed over the batch calls only: through `level`'s batch()
 *    (the floor) and, for comparison, through classic-level's native batch
 *    call, which the node itself uses and which skips abstract-level's
 *    per-operation work (most of the floor's own cost).
 *
 * Both steps run `--rounds` times, alternating, and the best round of each
 * side is compared, so that a busy spell of the machine (other processes,
 * disk flushes) does not decide the ratio. Prints records/s of both, their
 * ratio (target ≥ 0.5), CPU time, and the peak RSS of the node and of this
 * client; writes the figures to bench/results/ingest.json.
 *
 *   node --import tsx scripts/bench/ingest.ts [--records N] [--batch N] [--window N]
 *        [--rounds N] [--accounts N] [--seed S] [--out FILE] [--dir DIR] [--node-flags="FLAGS"]
 */
import "../../src/polyfill.js";
import { once } from "node:events";
import path from "node:path";
import { parseArgs } from "node:util";
import { Level } from "level";
import { readSecrets } from "../../src/config/secrets.js";
import type { GetNodeStatusResponse, SubmitRecordsResponse } from "../../src/gen/creditmesh/v1/node.js";
import { NodeClient } from "../../src/testnet/node-client.js";
import type { Record as WireRecord } from "../../src/gen/creditmesh/v1/records.js";
import { accountRefFor } from "../../src/records/ingest.js";
import { validateRecord } from "../../src/records/validate.js";
import { NodeDatabase, rawBatch, type WriteOp } from "../../src/store/database.js";
import { LevelRecordStore } from "../../src/store/level-record-store.js";
import type { StoredRepayment } from "../../src/store/types.js";
import { MAX_BENCH_INSTALLMENTS, benchAccountId, generateAccounts, generateRepaymentBatches } from "../../src/synthetic/bench.js";
import {
  makeTempDir,
  printTable,
  readProcCpuMs,
  RssSampler,
  startChildNode,
  toMB,
  positiveInt,
  writeResults,
} from "./common.js";
import { perSecond, round, summarize } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    records: { type: "string", default: "200000" },
    batch: { type: "string", default: "1000" },
    window: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    accounts: { type: "string" },
    seed: { type: "string", default: "bench-ingest" },
    out: { type: "string" },
    dir: { type: "string" },
    "node-flags": { type: "string", default: "" },
    "record-versions": { type: "string", default: "on" },
    help: { type: "boolean", short: "h" },
  },
});

if (args.help) {
  process.stdout.write(
    [
      "usage: ingest.ts [options]",
      "  --records N       repayment records to stream (default 200000)",
      "  --batch N         records per SubmitRecords message and per raw LevelDB batch (default 1000)",
      "  --window N        batches sent but not yet acknowledged, at most (default 8)",
      "  --rounds N        alternating gRPC and raw runs; the best of each side is compared (default 3)",
      "  --accounts N      accounts ingested first (default records/24, at least records/360)",
      "  --seed S          synthetic data seed (default bench-ingest)",
      "  --out FILE        results file (default bench/results/ingest.json)",
      "  --dir DIR         parent of the temporary data directories (default the OS temp dir)",
      "  --record-versions on|off  the node's tlog.recordVersions: a log leaf per record version (default on)",
      '  --node-flags="F"  extra flags for the node process, e.g. --node-flags="--cpu-prof --cpu-prof-dir=/tmp/prof"',
      "",
    ].join("\n"),
  );
  process.exit(0);
}


const RECORDS = positiveInt("records", args.records!);
const BATCH = positiveInt("batch", args.batch!);
const WINDOW = positiveInt("window", args.window!);
const ROUNDS = positiveInt("rounds", args.rounds!);
const MIN_ACCOUNTS = Math.ceil(RECORDS / MAX_BENCH_INSTALLMENTS);
/** Two years of monthly installments per account by default. */
const ACCOUNTS = args.accounts ? positiveInt("accounts", args.accounts) : Math.max(MIN_ACCOUNTS, Math.ceil(RECORDS / 24));
if (ACCOUNTS < MIN_ACCOUNTS) {
  process.stderr.write(`--accounts must be at least records/${MAX_BENCH_INSTALLMENTS} = ${MIN_ACCOUNTS}\n`);
  process.exit(2);
}
const SEED = args.seed!;
const NODE_FLAGS = args["node-flags"]!.split(/\s+/).filter(Boolean);
if (args["record-versions"] !== "on" && args["record-versions"] !== "off") {
  process.stderr.write("--record-versions must be on or off\n");
  process.exit(2);
}
const RECORD_VERSIONS = args["record-versions"] === "on";
/** Raw-floor batches prepared ahead of each timed run of writes (bounds memory, keeps the writes back to back). */
const FLOOR_CHUNK_RECORDS = 50_000;

const accountIds = Array.from({ length: ACCOUNTS }, (_, i) => benchAccountId(i));

function* accountBatches(): Generator<WireRecord[]> {
  let batch: WireRecord[] = [];
  for (const value of generateAccounts(SEED, ACCOUNTS)) {
    batch.push({ kind: { $case: "account", value } });
    if (batch.length === BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

function* repaymentBatches(): Generator<WireRecord[]> {
  for (const reps of generateRepaymentBatches(SEED, RECORDS, accountIds, BATCH)) {
    yield reps.map((value) => ({ kind: { $case: "repayment", value } }) as WireRecord);
  }
}

interface StreamResult {
  records: number;
  batches: number;
  accepted: number;
  rejected: number;
  firstRejection?: string;
  ms: number;
  /** Per batch: write to acknowledgement, ms. */
  ackMs: number[];
}

/**
 * One SubmitRecords stream carrying every batch of `batches`, never more than
 * WINDOW unacknowledged; resolves when the node has acknowledged them all.
 */
async function submitAll(
  client: NodeClient,
  batches: Iterable<WireRecord[]>,
  onAck?: (acked: number) => void,
): Promise<StreamResult> {
  const stream = client.raw.submitRecords(client.metadata);
  const sentAt: number[] = [];
  const result: StreamResult = { records: 0, batches: 0, accepted: 0, rejected: 0, ms: 0, ackMs: [] };
  let acked = 0;
  let wake: (() => void) | undefined;
  const done = new Promise<void>((resolve, reject) => {
    stream.on("data", (res: SubmitRecordsResponse) => {
      result.ackMs.push(performance.now() - sentAt[acked]);
      acked++;
      result.accepted += res.accepted;
      result.rejected += res.rejected.length;
      onAck?.(acked);
      if (res.rejected.length && !result.firstRejection) {
        const r = res.rejected[0];
        result.firstRejection = `batch ${res.batch} record ${r.index}: ${r.field}: ${r.reason}`;
      }
      wake?.();
    });
    stream.on("error", reject);
    stream.on("end", resolve);
  });
  // A failed stream must also release a sender waiting for room.
  done.catch(() => wake?.());
  let failed: unknown;
  done.catch((err) => (failed = err));

  const start = performance.now();
  for (const records of batches) {
    while (result.batches - acked >= WINDOW && failed === undefined) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (failed !== undefined) break;
    sentAt.push(performance.now());
    result.batches++;
    result.records += records.length;
    if (!stream.write({ records })) await once(stream, "drain");
  }
  stream.end();
  await done;
  result.ms = performance.now() - start;
  return result;
}

interface FloorResult {
  records: number;
  batches: number;
  keys: number;
  bytes: number;
  ms: number;
  /** CPU time of this process (all threads) during the timed writes. */
  cpuMs: number;
}

/**
 * Raw synced LevelDB batches of the repayments' keys and values as the node
 * stores them: the record store encodes each batch into a database whose
 * write() only captures the operations (untimed); the raw database then
 * writes them with its full sublevel-prefixed keys (timed): through `level`'s
 * batch() (the floor), or through classic-level's native batch call as the
 * node itself now writes (rawBatch; a comparison: it skips abstract-level's
 * per-operation work, which is most of the floor's own cost).
 */
async function rawFloor(accountRefKey: Uint8Array, parentDir: string | undefined, via: "level" | "native"): Promise<FloorResult> {
  const captureDir = await makeTempDir("creditmesh-bench-capture-", parentDir);
  const rawDir = await makeTempDir("creditmesh-bench-raw-", parentDir);
  const captureDb = await NodeDatabase.open(captureDir.dir);
  const raw = new Level<string, string>(rawDir.dir, { keyEncoding: "utf8", valueEncoding: "utf8" });
  await raw.open();
  const result: FloorResult = { records: 0, batches: 0, keys: 0, bytes: 0, ms: 0, cpuMs: 0 };
  try {
    let captured: readonly WriteOp[] = [];
    captureDb.write = async (ops) => {
      captured = ops;
    };
    const store = new LevelRecordStore(captureDb);
    const refs = new Map(accountIds.map((id) => [id, accountRefFor(accountRefKey, id)]));

    type Put = { type: "put"; key: string; value: string };
    let chunk: Put[][] = [];
    let chunkRecords = 0;
    const flush = async () => {
      const cpu = process.cpuUsage();
      const start = performance.now();
      for (const ops of chunk) await (via === "level" ? raw.batch(ops, { sync: true }) : rawBatch(raw, ops, { sync: true }));
      result.ms += performance.now() - start;
      const used = process.cpuUsage(cpu);
      result.cpuMs += (used.user + used.system) / 1000;
      chunk = [];
      chunkRecords = 0;
    };

    for (const batch of repaymentBatches()) {
      const stored: StoredRepayment[] = batch.map((record) => {
        const v = validateRecord(record);
        if (v.kind !== "repayment") throw new Error("expected a repayment");
        const { accountId, ...rest } = v.repayment;
        return { accountRef: refs.get(accountId)!, ...rest };
      });
      await store.writeRecords([], [], stored);
      const ops: Put[] = captured.map((op) => {
        if (op.type !== "put" || typeof op.value !== "string") throw new Error("the store wrote something other than text puts");
        const key = op.sublevel.prefix + op.key;
        result.bytes += Buffer.byteLength(key) + Buffer.byteLength(op.value);
        return { type: "put", key, value: op.value };
      });
      result.keys += ops.length;
      result.records += batch.length;
      result.batches++;
      chunk.push(ops);
      chunkRecords += batch.length;
      if (chunkRecords >= FLOOR_CHUNK_RECORDS) await flush();
    }
    if (chunk.length) await flush();
    return result;
  } finally {
    await raw.close();
    await captureDb.close();
    await rawDir.remove();
    await captureDir.remove();
  }
}

interface IngestRun {
  accounts: StreamResult;
  repayments: StreamResult;
  nodeCpuMs: number;
  clientCpuMs: number;
  nodeRss: {
    afterStartMB: number;
    afterAccountsMB: number;
    /** RSS when a quarter, half, three quarters and all of the repayments were acknowledged. */
    duringRepaymentsMB: number[];
    peakMB: number;
  };
  clientPeakRssMB: number;
  clientDuringRepaymentsMB: number[];
  accountRefKey: Uint8Array;
}

function quarterMarks(sampler: RssSampler): number[] {
  return Object.keys(sampler.marks)
    .filter((k) => k.startsWith("repayments"))
    .map((k) => toMB(sampler.marks[k]));
}

/** One fresh node in a child process: accounts, then the measured repayments. */
async function ingestRun(round: number): Promise<IngestRun> {
  const tmp = await makeTempDir("creditmesh-bench-ingest-", args.dir);
  try {
    const node = await startChildNode({
      dir: tmp.dir,
      config: {
        institution: { id: "bench-bank", name: "Bench Bank" },
        grpc: { host: "127.0.0.1", port: 0 },
        p2p: { enabled: false },
        metrics: { enabled: false },
        log: { level: "warn" },
        tlog: { recordVersions: RECORD_VERSIONS },
      },
      nodeArgs: NODE_FLAGS,
    });
    const nodeMem = new RssSampler(node.pid).start();
    // Sampled, not VmHWM: in later rounds this process has run the raw floor too.
    const clientMem = new RssSampler("self", { useHwm: false, intervalMs: 50 }).start();
    nodeMem.mark("afterStart");
    const client = new NodeClient(node.address, node.apiKey);

    let accounts: StreamResult;
    let repayments: StreamResult;
    let nodeCpuMs: number;
    let clientCpuMs: number;
    let status: GetNodeStatusResponse;
    try {
      process.stderr.write(`round ${round}: node pid ${node.pid}; ${ACCOUNTS} accounts, then ${RECORDS} repayments in batches of ${BATCH}\n`);
      accounts = await submitAll(client, accountBatches());
      nodeMem.mark("afterAccounts");

      const nodeCpu0 = readProcCpuMs(node.pid)!;
      const clientCpu0 = process.cpuUsage();
      const totalBatches = Math.ceil(RECORDS / BATCH);
      const quarters = new Set([1, 2, 3, 4].map((q) => Math.max(1, Math.round((totalBatches * q) / 4))));
      repayments = await submitAll(client, repaymentBatches(), (acked) => {
        if (quarters.has(acked)) {
          nodeMem.mark(`repayments${acked}`);
          clientMem.mark(`repayments${acked}`);
        }
      });
      nodeCpuMs = readProcCpuMs(node.pid)! - nodeCpu0;
      const c = process.cpuUsage(clientCpu0);
      clientCpuMs = (c.user + c.system) / 1000;
      status = await client.unary("getNodeStatus", {});
    } finally {
      nodeMem.stop();
      clientMem.stop();
      client.close();
      const code = await node.stop();
      if (code !== 0) process.stderr.write(`node exited with ${code}:\n${node.stderr()}\n`);
    }

    for (const [name, r] of [["accounts", accounts], ["repayments", repayments]] as const) {
      if (r.rejected > 0 || r.accepted !== r.records) {
        throw new Error(`${name}: ${r.accepted} of ${r.records} accepted, ${r.rejected} rejected; first: ${r.firstRejection}`);
      }
    }
    if (Number(status.accounts) !== ACCOUNTS) {
      throw new Error(`the node counts ${status.accounts} accounts, ${ACCOUNTS} were sent`);
    }
    const secrets = readSecrets(path.join(node.dataDir, "secrets.json"));
    return {
      accounts,
      repayments,
      nodeCpuMs,
      clientCpuMs,
      nodeRss: {
        afterStartMB: toMB(nodeMem.marks.afterStart),
        afterAccountsMB: toMB(nodeMem.marks.afterAccounts),
        duringRepaymentsMB: quarterMarks(nodeMem),
        peakMB: toMB(nodeMem.peak),
      },
      clientPeakRssMB: toMB(clientMem.peak),
      clientDuringRepaymentsMB: quarterMarks(clientMem),
      accountRefKey: Buffer.from(secrets.accountRefKey, "hex"),
    };
  } finally {
    await tmp.remove();
  }
}

async function main(): Promise<void> {
  const rounds: { ingest: IngestRun; floor: FloorResult; native: FloorResult }[] = [];
  // Alternating, so that a slow spell of the machine (other processes, disk) hits both sides alike.
  for (let r = 1; r <= ROUNDS; r++) {
    const ingest = await ingestRun(r);
    process.stderr.write(`round ${r}: raw LevelDB floor, ${RECORDS} repayments in synced batches of ${BATCH}\n`);
    const floor = await rawFloor(ingest.accountRefKey, args.dir, "level");
    const native = await rawFloor(ingest.accountRefKey, args.dir, "native");
    rounds.push({ ingest, floor, native });
    process.stderr.write(
      `round ${r}: gRPC ${Math.round(perSecond(ingest.repayments.records, ingest.repayments.ms))} records/s, ` +
        `raw ${Math.round(perSecond(floor.records, floor.ms))} records/s, ` +
        `native batch ${Math.round(perSecond(native.records, native.ms))} records/s\n`,
    );
  }
  const nativeRates = rounds.map((r) => perSecond(r.native.records, r.native.ms));
  const bestNative = Math.max(...nativeRates);

  const ingestRates = rounds.map((r) => perSecond(r.ingest.repayments.records, r.ingest.repayments.ms));
  const floorRates = rounds.map((r) => perSecond(r.floor.records, r.floor.ms));
  const bestIngest = Math.max(...ingestRates);
  const bestFloor = Math.max(...floorRates);
  const best = rounds[ingestRates.indexOf(bestIngest)];
  const ratio = bestIngest / bestFloor;
  const ack = summarize(best.ingest.repayments.ackMs, 2);
  const floor = rounds[0].floor;
  const nodePeak = Math.max(...rounds.map((r) => r.ingest.nodeRss.peakMB));
  // Round 1 only: from round 2 on, this process also holds what the raw floor left behind.
  const clientPeak = rounds[0].ingest.clientPeakRssMB;
  const figures = {
    records: RECORDS,
    batch: BATCH,
    window: WINDOW,
    accounts: ACCOUNTS,
    seed: SEED,
    rounds: ROUNDS,
    nodeFlags: NODE_FLAGS,
    recordVersions: RECORD_VERSIONS,
    method: "best round of each side; gRPC: first write to last ack of the repayments, node in a child process; raw: synced batches of the same keys and values through level's batch() (the floor) and through classic-level's native batch (comparison), batch calls timed",
    grpcIngest: {
      recordsPerSec: Math.round(bestIngest),
      seconds: round(best.ingest.repayments.ms / 1000, 3),
      batchAckMs: { p50: ack.p50, p90: ack.p90, p99: ack.p99, max: ack.max },
      nodeCpuSeconds: round(best.ingest.nodeCpuMs / 1000, 2),
      clientCpuSeconds: round(best.ingest.clientCpuMs / 1000, 2),
    },
    accountIngest: {
      records: ACCOUNTS,
      recordsPerSec: Math.round(perSecond(best.ingest.accounts.records, best.ingest.accounts.ms)),
    },
    rawLevelDb: {
      recordsPerSec: Math.round(bestFloor),
      cpuSeconds: round(rounds[floorRates.indexOf(bestFloor)].floor.cpuMs / 1000, 2),
      keys: floor.keys,
      bytes: floor.bytes,
      bytesPerRecord: round(floor.bytes / floor.records, 1),
    },
    rawLevelDbNativeBatch: {
      recordsPerSec: Math.round(bestNative),
      cpuSeconds: round(rounds[nativeRates.indexOf(bestNative)].native.cpuMs / 1000, 2),
      note: "classic-level's own batch call, as the node writes; not the floor: it skips abstract-level's per-operation work",
    },
    ratio: round(ratio, 3),
    ratioToNativeBatch: round(bestIngest / bestNative, 3),
    target: 0.5,
    meetsTarget: ratio >= 0.5,
    memory: {
      nodePeakRssMB: nodePeak,
      clientPeakRssMB: clientPeak,
      nodeRssMB: best.ingest.nodeRss,
      clientRssDuringRepaymentsMB: rounds[0].ingest.clientDuringRepaymentsMB,
    },
    allRounds: rounds.map((r, i) => ({
      grpcRecordsPerSec: Math.round(ingestRates[i]),
      rawRecordsPerSec: Math.round(floorRates[i]),
      nodeCpuSeconds: round(r.ingest.nodeCpuMs / 1000, 2),
      rawCpuSeconds: round(r.floor.cpuMs / 1000, 2),
      nodePeakRssMB: r.ingest.nodeRss.peakMB,
      clientPeakRssMB: r.ingest.clientPeakRssMB, // after round 1, includes what the raw floor left behind
    })),
  };

  printTable([
    ["records", RECORDS],
    ["batch size", BATCH],
    ["unacked batches (max)", WINDOW],
    ["accounts (ingested first)", ACCOUNTS],
    ["bytes per record (key + value)", figures.rawLevelDb.bytesPerRecord],
    ["rounds (best of each side)", ROUNDS],
    ["gRPC ingest records/s", figures.grpcIngest.recordsPerSec],
    ["raw LevelDB records/s", figures.rawLevelDb.recordsPerSec],
    ["ratio (target >= 0.5)", figures.ratio],
    ["raw native batch records/s (comparison)", figures.rawLevelDbNativeBatch.recordsPerSec],
    ["ratio to native batch", figures.ratioToNativeBatch],
    ["batch ack p50 / p99 ms", `${ack.p50} / ${ack.p99}`],
    ["CPU s: node / client / raw", `${figures.grpcIngest.nodeCpuSeconds} / ${figures.grpcIngest.clientCpuSeconds} / ${figures.rawLevelDb.cpuSeconds}`],
    ["node peak RSS MB", nodePeak],
    ["client peak RSS MB (round 1)", clientPeak],
  ]);
  const file = await writeResults("ingest", figures, args.out);
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

await main();
