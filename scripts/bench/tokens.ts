/**
 * Subject tokens through the threshold OPRF against the one-process floor,
 * measured in the same run:
 *
 * 1. Raw rate: blind + evaluate + finalize in this one process with the
 *    whole key (wire encodings included, no proof, no threshold), on the
 *    libsodium group path this project uses and on noble's
 *    `ristretto255_oprf` for comparison; the faster is the floor. It is
 *    measured before and after step 2 and the better figure is kept, so a
 *    busy spell of the machine does not flatter the ratio.
 * 2. Threshold path: `--subjects` new subjects (synthetic resident IDs)
 *    through ThresholdOprfTokenizer with a 2-of-3 committee (shares dealt
 *    here; in production they come from the DKG), batches of `--batch`,
 *    every proof verified, every answer combined. By default the subjects
 *    are split over one requester thread per core (`--clients`, see below);
 *    with `--clients 1` one requester runs on the main thread and each
 *    evaluator on its own worker thread (`--no-workers`: all on the main
 *    thread).
 * 3. The key holder's rate: tokens/s of whoever holds the whole key (t
 *    colluding evaluators), and the core-days that makes for all ~10^11
 *    resident IDs (docs/privacy.md quotes it).
 *
 * Prints tokens/s of both and the ratio (target >= 0.5); writes
 * bench/results/tokens.json.
 *
 * `--clients K` (K > 1; default: the cores, at most 4) splits the subjects
 * over K worker threads, each a requester with its own in-process 2-of-3
 * committee over the same shares: the whole path on every core, as a node
 * onboarding in parallel would run it. (The requester's own work, blinding,
 * 2 proof checks and combining, costs more than the raw floor by itself, so
 * a single requester thread cannot reach the target whatever the evaluators
 * do.)
 *
 *   node --import tsx scripts/bench/tokens.ts [--subjects N] [--batch N] [--raw N]
 *        [--concurrency N] [--no-workers] [--clients K] [--out FILE]
 */
import { availableParallelism } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { ristretto255_oprf } from "@noble/curves/ed25519.js";
import { residentIdCheckChar } from "../../src/subject/resident-id.js";
import { Committee, type CommitteeMember } from "../../src/subject/oprf/committee.js";
import { decodeElement, encodeElement, mulBase, mulQuad } from "../../src/subject/oprf/group.js";
import { InProcessEvaluators } from "../../src/subject/oprf/in-process.js";
import { oprfInput } from "../../src/subject/oprf/input.js";
import { splitSecret } from "../../src/subject/oprf/shamir.js";
import { randomScalar, type Scalar } from "../../src/subject/oprf/suite.js";
import { ShareEvaluator } from "../../src/subject/oprf/threshold.js";
import { ThresholdOprfTokenizer, type Evaluators, type SubjectKey } from "../../src/subject/oprf/tokenizer.js";
import { blind, evaluateDirect, finalize } from "../../src/subject/oprf/voprf.js";
import { WorkerShareEvaluator } from "../../src/subject/oprf/worker-evaluator.js";
import { workerEntry } from "../../src/worker-entry.js";
import { printTable, writeResults } from "./common.js";
import { perSecond, round } from "./stats.js";

const { values: args } = parseArgs({
  args: isMainThread ? process.argv.slice(2) : (workerData as { args: string[] }).args,
  options: {
    subjects: { type: "string", default: "100000" },
    batch: { type: "string", default: "1024" },
    raw: { type: "string", default: "3000" },
    concurrency: { type: "string", default: "3" },
    "no-workers": { type: "boolean", default: false },
    clients: { type: "string", default: String(Math.min(4, availableParallelism())) },
    out: { type: "string" },
  },
});
const SUBJECTS = Number(args.subjects);
const RAW = Number(args.raw);
const BATCH = Number(args.batch);
const THRESHOLD = 2;
const COMMITTEE = 3;
const ID_SPACE = 1e11;
const CLIENTS = Number(args.clients);

/** Distinct, valid resident IDs: one region, consecutive birth dates, then sequence numbers. */
function syntheticSubjects(n: number): SubjectKey[] {
  const start = Date.UTC(1950, 0, 1);
  const days = 20_000;
  return Array.from({ length: n }, (_, i) => {
    const birth = new Date(start + (i % days) * 86_400_000).toISOString().slice(0, 10).replace(/-/g, "");
    const first17 = `110105${birth}${String(Math.floor(i / days) % 1000).padStart(3, "0")}`;
    return { idTypeName: "CN_RESIDENT_ID", normalizedId: first17 + residentIdCheckChar(first17) };
  });
}

function timed<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: performance.now() - t0 };
}

let rawCpuMsPerToken = Infinity;

/** Client and server of a one-key OPRF in one process, through the wire encodings. */
function rawSodium(k: Scalar, inputs: readonly Uint8Array[]): number {
  const cpu0 = process.cpuUsage();
  const rate = perSecond(inputs.length, timed(() => {
    for (const input of inputs) {
      const b = blind(input);
      const evaluated = encodeElement(mulQuad(k, decodeElement(b.bytes)));
      finalize(b, decodeElement(evaluated));
    }
  }).ms);
  const cpu = process.cpuUsage(cpu0);
  rawCpuMsPerToken = Math.min(rawCpuMsPerToken, (cpu.user + cpu.system) / 1000 / inputs.length);
  return rate;
}

function rawNoble(inputs: readonly Uint8Array[]): number {
  const { oprf } = ristretto255_oprf;
  const keys = oprf.generateKeyPair();
  return perSecond(inputs.length, timed(() => {
    for (const input of inputs) {
      const b = oprf.blind(input);
      oprf.finalize(input, b.blind, oprf.blindEvaluate(keys.secretKey, b.blinded));
    }
  }).ms);
}

type ShareHex = { index: number; secret: string };

function inProcessTokenizer(shares: readonly ShareHex[], publicKey: Uint8Array): ThresholdOprfTokenizer {
  const local = shares.map((s) => new ShareEvaluator({ index: s.index, secret: BigInt("0x" + s.secret) }));
  const ids = local.map((e) => `evaluator-${e.public.index}`);
  const members = local.map((e, k) => ({ institutionId: ids[k], index: e.public.index, publicShare: e.public.bytes }));
  const committee = new Committee({ epoch: 1, threshold: THRESHOLD, publicKey, members });
  const evaluators = new InProcessEvaluators(new Map(local.map((e, k) => [ids[k], e])), 1);
  return new ThresholdOprfTokenizer({ committee, evaluators }, { concurrency: Number(args.concurrency), deadlineMs: 600_000, hedgeAfterMs: 600_000 });
}

/** One requester thread of `--clients`: waits for "go", tokenizes its slice, returns the tokens. */
async function clientThread(): Promise<void> {
  const { shares, publicKey, from, to } = workerData as { shares: ShareHex[]; publicKey: Uint8Array; from: number; to: number };
  const tokenizer = inProcessTokenizer(shares, publicKey);
  const subjects = syntheticSubjects(to).slice(from);
  parentPort!.once("message", async () => {
    const tokens: string[] = [];
    for (let i = 0; i < subjects.length; i += BATCH * 16) tokens.push(...(await tokenizer.tokens(subjects.slice(i, i + BATCH * 16), "BULK")));
    parentPort!.postMessage(tokens);
  });
  parentPort!.postMessage("ready");
}

/** Runs `--clients` requester threads over slices of the subjects; resolves with all tokens and the wall time from "go". */
async function runClients(shares: readonly ShareHex[], publicKey: Uint8Array): Promise<{ tokens: string[]; ms: number }> {
  const per = Math.ceil(SUBJECTS / CLIENTS);
  const threads = Array.from({ length: CLIENTS }, (_, k) =>
    new Worker(workerEntry(new URL(import.meta.url)), { workerData: { args: process.argv.slice(2), shares, publicKey, from: k * per, to: Math.min(SUBJECTS, (k + 1) * per) } }));
  await Promise.all(threads.map((w) => new Promise((resolve, reject) => { w.once("message", resolve); w.once("error", reject); })));
  const t0 = performance.now();
  const parts = await Promise.all(threads.map((w) => {
    const done = new Promise<string[]>((resolve, reject) => { w.once("message", resolve); w.once("error", reject); });
    w.postMessage("go");
    return done;
  }));
  const ms = performance.now() - t0;
  await Promise.all(threads.map((w) => w.terminate()));
  return { tokens: parts.flat(), ms };
}

async function main(): Promise<void> {
  const subjects = syntheticSubjects(SUBJECTS);
  const rawInputs = syntheticSubjects(RAW).map((s) => oprfInput({ ...s, normalizedId: s.normalizedId.replace(/^110105/, "310104") }));
  const key = randomScalar();

  const sodiumBefore = rawSodium(key, rawInputs);
  const noble = rawNoble(rawInputs.slice(0, Math.max(50, Math.floor(RAW / 10))));
  const keyHolder = perSecond(rawInputs.length, timed(() => rawInputs.forEach((i) => evaluateDirect(key, i))).ms);

  const shares = splitSecret(key, THRESHOLD, COMMITTEE);
  const ids = shares.map((s) => `evaluator-${s.index}`);
  const members: CommitteeMember[] = [];
  let evaluators: Evaluators;
  const workers: WorkerShareEvaluator[] = [];
  if (args["no-workers"] || CLIENTS > 1) {
    const local = shares.map((s) => new ShareEvaluator({ index: s.index, secret: s.value }));
    local.forEach((e, k) => members.push({ institutionId: ids[k], index: e.public.index, publicShare: e.public.bytes }));
    evaluators = new InProcessEvaluators(new Map(local.map((e, k) => [ids[k], e])), 1);
  } else {
    for (const s of shares) workers.push(new WorkerShareEvaluator({ index: s.index, secret: s.value }));
    workers.forEach((w, k) => members.push({ institutionId: ids[k], index: w.public.index, publicShare: w.public.bytes }));
    evaluators = {
      async evaluate(member, request, signal) {
        const p = await workers[ids.indexOf(member.institutionId)].evaluate(request.blindedElements, signal);
        return { evaluatorId: member.institutionId, epoch: request.epoch, evaluatedElements: p.evaluated, proof: p.proof };
      },
    };
  }
  const committee = new Committee({ epoch: 1, threshold: THRESHOLD, publicKey: encodeElement(mulBase(key)), members });
  const tokenizer = new ThresholdOprfTokenizer({ committee, evaluators }, { concurrency: Number(args.concurrency), deadlineMs: 600_000, hedgeAfterMs: 600_000 });
  if (BATCH !== 1024) process.stderr.write("note: the tokenizer batches by 1024; --batch only splits the calls\n");

  const cpu0 = process.cpuUsage();
  let tokens: string[] = [];
  let thresholdMs: number;
  if (CLIENTS > 1) {
    const run = await runClients(shares.map((s) => ({ index: s.index, secret: s.value.toString(16) })), encodeElement(mulBase(key)));
    tokens = run.tokens;
    thresholdMs = run.ms;
  } else {
    const t0 = performance.now();
    for (let i = 0; i < subjects.length; i += BATCH * 16) {
      tokens.push(...(await tokenizer.tokens(subjects.slice(i, i + BATCH * 16), "BULK")));
    }
    thresholdMs = performance.now() - t0;
  }
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(workers.map((w) => w.close()));

  // The tokens must be the whole key's: a fast wrong answer is no result.
  for (let i = 0; i < subjects.length; i += Math.max(1, Math.floor(subjects.length / 25))) {
    const expected = Buffer.from(evaluateDirect(key, oprfInput(subjects[i]))).toString("hex");
    if (tokens[i] !== expected) throw new Error(`token ${i} differs from the whole key's`);
  }
  if (new Set(tokens).size !== subjects.length) throw new Error("distinct subjects got equal tokens");

  const sodiumAfter = rawSodium(key, rawInputs);
  const sodium = Math.max(sodiumBefore, sodiumAfter);
  const floor = Math.max(sodium, noble);
  const threshold = perSecond(subjects.length, thresholdMs);
  const figures = {
    subjects: subjects.length,
    batch: BATCH,
    committee: `${THRESHOLD} of ${COMMITTEE}`,
    workers: CLIENTS > 1 ? `${CLIENTS} requester threads, evaluators in each` : !args["no-workers"],
    raw: {
      inputs: rawInputs.length,
      sodiumTokensPerSec: Math.round(sodium),
      sodiumBeforeAfter: [Math.round(sodiumBefore), Math.round(sodiumAfter)],
      nobleTokensPerSec: Math.round(noble),
      floorTokensPerSec: Math.round(floor),
    },
    threshold: {
      tokensPerSec: Math.round(threshold),
      seconds: round(thresholdMs / 1000, 2),
      cpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
      cpuMsPerToken: round((cpu.user + cpu.system) / 1000 / subjects.length, 3),
    },
    rawCpuMsPerToken: round(rawCpuMsPerToken, 3),
    ratio: round(threshold / floor, 3),
    keyHolder: {
      tokensPerSec: Math.round(keyHolder),
      coreDaysFor1e11: round(ID_SPACE / keyHolder / 86_400, 1),
    },
  };
  printTable([
    ["subjects (new, distinct)", subjects.length],
    ["committee / batch", `${figures.committee} / ${BATCH}`],
    ["worker threads", String(figures.workers)],
    ["raw tokens/s, libsodium path (best of before/after)", `${figures.raw.sodiumTokensPerSec} (${figures.raw.sodiumBeforeAfter.join(" / ")})`],
    ["raw tokens/s, noble ristretto255_oprf", figures.raw.nobleTokensPerSec],
    ["threshold tokens/s", figures.threshold.tokensPerSec],
    ["ratio to the faster raw (target >= 0.5)", figures.ratio],
    ["threshold CPU s (all threads) / wall s", `${figures.threshold.cpuSeconds} / ${figures.threshold.seconds}`],
    ["CPU ms per token: raw / threshold (requester + t evaluators)", `${figures.rawCpuMsPerToken} / ${figures.threshold.cpuMsPerToken}`],
    ["key holder tokens/s (one core)", figures.keyHolder.tokensPerSec],
    ["core-days for 10^11 IDs at that rate", figures.keyHolder.coreDaysFor1e11],
  ]);
  const file = await writeResults("tokens", figures, args.out);
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

if (isMainThread) await main();
else await clientThread();
