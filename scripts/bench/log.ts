/**
 * The transparency log's cost, against LevelDB in the same run:
 *
 *   appends: leaves appended in synced batches of --batch (default 1000) up
 *   to --leaves (default 1,000,000), leaf hashing and tile building included;
 *   raw: the same entry bytes put one key per leaf through level's batch(),
 *   synced, same batches (the floor). Target: log ≥ 0.5 × raw.
 *
 *   proofs: inclusion proofs of random leaves at the full size, sequential,
 *   from a log opened afresh (no tile cached). Target: p50 ≤ 2 ms.
 */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { Level } from "level";
import { NodeDatabase } from "../../src/store/database.js";
import { LevelLogStore } from "../../src/store/level-log-store.js";
import { answerLeaf, inquiryLeaf, newSalt, recordVersionLeaf, sha256 } from "../../src/tlog/leaves.js";
import { leafHash, verifyInclusion } from "../../src/tlog/merkle.js";
import { TiledLog } from "../../src/tlog/tiled-log.js";
import { makeTempDir, printTable, writeResults, positiveInt } from "./common.js";
import { perSecond, round, summarize } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    leaves: { type: "string", default: "1000000" },
    batch: { type: "string", default: "1000" },
    proofs: { type: "string", default: "2000" },
    rounds: { type: "string", default: "1" },
    out: { type: "string" },
    dir: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (args.help) {
  process.stdout.write(
    "usage: log.ts [--leaves N] [--batch N] [--proofs N] [--rounds N] [--out FILE] [--dir DIR]\n" +
      "  rounds alternate raw and log runs; the best of each side is compared\n",
  );
  process.exit(0);
}
const LEAVES = positiveInt("leaves", args.leaves!);
const BATCH = positiveInt("batch", args.batch!);
const PROOFS = positiveInt("proofs", args.proofs!);
const ROUNDS = positiveInt("rounds", args.rounds!);

/** The mix a holder logs: a record version per answered inquiry and answer, roughly. */
function makeEntries(): Uint8Array[] {
  const salt = newSalt();
  const out: Uint8Array[] = new Array(LEAVES);
  for (let i = 0; i < LEAVES; i++) {
    const h = sha256(Buffer.from(`bench ${i}`));
    out[i] =
      i % 3 === 0
        ? recordVersionLeaf({ recordKind: "repayment", subjectToken: `t${i % 9973}`, accountRef: `r${i}`, version: 1, canonicalRecord: h, salt })
        : i % 3 === 1
          ? inquiryLeaf(h)
          : answerLeaf(h);
  }
  return out;
}

/** Wall and CPU time (every thread of this process: LevelDB's compaction included) of one timed run. */
interface Timed {
  ms: number;
  cpuMs: number;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1000;
}

async function rawRun(entries: Uint8Array[]): Promise<Timed> {
  const tmp = await makeTempDir("creditmesh-bench-lograw-", args.dir);
  const db = new Level<string, Uint8Array>(tmp.dir, { keyEncoding: "utf8", valueEncoding: "view" });
  await db.open();
  try {
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let at = 0; at < entries.length; at += BATCH) {
      const ops = [];
      for (let i = at; i < Math.min(at + BATCH, entries.length); i++) {
        ops.push({ type: "put" as const, key: `e!${i.toString(16).padStart(12, "0")}`, value: entries[i]! });
      }
      await db.batch(ops, { sync: true });
    }
    return { ms: performance.now() - start, cpuMs: cpuMsSince(cpu) };
  } finally {
    await db.close();
    await tmp.remove();
  }
}

async function logRun(entries: Uint8Array[], keep: boolean): Promise<Timed & { dir?: Awaited<ReturnType<typeof makeTempDir>> }> {
  const tmp = await makeTempDir("creditmesh-bench-log-", args.dir);
  const db = await NodeDatabase.open(tmp.dir);
  try {
    const log = await TiledLog.init(new LevelLogStore(db));
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let at = 0; at < entries.length; at += BATCH) await log.append(entries.slice(at, at + BATCH));
    const ms = performance.now() - start;
    const cpuMs = cpuMsSince(cpu);
    if (log.size !== entries.length) throw new Error(`log holds ${log.size} leaves, expected ${entries.length}`);
    return { ms, cpuMs, dir: keep ? tmp : undefined };
  } finally {
    await db.close();
    if (!keep) await tmp.remove();
  }
}

process.stderr.write(`preparing ${LEAVES} entries\n`);
const entries = makeEntries();
const bytes = entries.reduce((n, e) => n + e.length, 0);
const rawRuns: Timed[] = [];
const logRuns: Timed[] = [];
let kept: Awaited<ReturnType<typeof makeTempDir>> | undefined;
for (let r = 1; r <= ROUNDS; r++) {
  process.stderr.write(`round ${r}: raw LevelDB, ${LEAVES} entries in synced batches of ${BATCH}\n`);
  rawRuns.push(await rawRun(entries));
  process.stderr.write(`round ${r}: log appends\n`);
  const last = r === ROUNDS;
  const run = await logRun(entries, last);
  logRuns.push(run);
  if (last) kept = run.dir;
}

process.stderr.write(`${PROOFS} inclusion proofs at size ${LEAVES}\n`);
const db = await NodeDatabase.open(kept!.dir);
const proofMs: number[] = [];
let hashes = 0;
try {
  const log = await TiledLog.init(new LevelLogStore(db));
  const root = await log.root();
  for (let i = 0; i < PROOFS; i++) {
    const index = randomInt(LEAVES);
    const start = performance.now();
    const proof = await log.inclusionProof(index);
    proofMs.push(performance.now() - start);
    hashes += proof.length;
    const failure = verifyInclusion(index, LEAVES, leafHash(entries[index]!), proof, root);
    if (failure !== null) throw new Error(`proof of leaf ${index} does not verify: ${failure}`);
  }
} finally {
  await db.close();
  await kept!.remove();
}

const rawMs = rawRuns.map((r) => r.ms);
const logMs = logRuns.map((r) => r.ms);
const rawRate = perSecond(LEAVES, Math.min(...rawMs));
const logRate = perSecond(LEAVES, Math.min(...logMs));
const rawCpu = Math.min(...rawRuns.map((r) => r.cpuMs));
const logCpu = Math.min(...logRuns.map((r) => r.cpuMs));
const proofs = summarize(proofMs, 3);
const figures = {
  leaves: LEAVES,
  batch: BATCH,
  rounds: ROUNDS,
  entryBytes: round(bytes / LEAVES, 1),
  method:
    "best round of each side; raw: the same entry bytes, one key per leaf, through level's batch() with sync; log: TiledLog.append (leaf hashing, tiles, bundles, one synced batch per append); proofs: fresh TiledLog over the finished database, random leaves, sequential",
  rawLevelDb: {
    leavesPerSec: Math.round(rawRate),
    seconds: rawMs.map((ms) => round(ms / 1000, 2)),
    cpuSeconds: rawRuns.map((r) => round(r.cpuMs / 1000, 2)),
  },
  log: {
    leavesPerSec: Math.round(logRate),
    seconds: logMs.map((ms) => round(ms / 1000, 2)),
    cpuSeconds: logRuns.map((r) => round(r.cpuMs / 1000, 2)),
  },
  ratio: round(logRate / rawRate, 3),
  /** Raw CPU over log CPU (best runs): the same comparison, less sensitive to other work on the machine. */
  cpuRatio: round(rawCpu / logCpu, 3),
  ratioTarget: 0.5,
  inclusionProofMs: proofs,
  proofHashesMean: round(hashes / PROOFS, 1),
  proofP50TargetMs: 2,
};
const file = await writeResults("log", figures, args.out);
printTable([
  ["figure", "value", "target"],
  ["leaves", LEAVES, ""],
  ["bytes per entry", figures.entryBytes, ""],
  ["raw LevelDB leaves/s", figures.rawLevelDb.leavesPerSec, ""],
  ["log appends/s", figures.log.leavesPerSec, ""],
  ["log / raw", figures.ratio, "≥ 0.5"],
  ["raw CPU s / log CPU s", `${round(rawCpu / 1000, 2)} / ${round(logCpu / 1000, 2)} = ${figures.cpuRatio}`, ""],
  ["inclusion proof p50 ms", proofs.p50, "≤ 2"],
  ["inclusion proof p99 ms", proofs.p99, ""],
]);
process.stdout.write(`results: ${file}\n`);
if (figures.ratio < 0.5 || proofs.p50 > 2) process.exitCode = 1;
