import { afterAll, describe, expect, it, vi } from "vitest";
import { CreditMeshError, isCreditMeshError } from "../../../../src/errors.js";
import { Committee, type CommitteeMember } from "../../../../src/subject/oprf/committee.js";
import { encodeElement, mulBase } from "../../../../src/subject/oprf/group.js";
import { oprfInput } from "../../../../src/subject/oprf/input.js";
import { MemoryTokenCache } from "../../../../src/subject/oprf/memory-cache.js";
import { splitSecret } from "../../../../src/subject/oprf/shamir.js";
import { randomScalar } from "../../../../src/subject/oprf/suite.js";
import { SplitBatchMath, type BatchMath } from "../../../../src/subject/oprf/batch-math.js";
import { BlindedBatch, ShareEvaluator } from "../../../../src/subject/oprf/threshold.js";
import { WorkerBatchMath } from "../../../../src/subject/oprf/worker-batch-math.js";
import {
  ThresholdOprfTokenizer, type EvaluationAnswer, type EvaluationRequest, type EvaluatorFault, type Evaluators, type SubjectKey,
} from "../../../../src/subject/oprf/tokenizer.js";
import { evaluateDirect } from "../../../../src/subject/oprf/voprf.js";

const subjects: SubjectKey[] = [
  { idTypeName: "CN_RESIDENT_ID", normalizedId: "11010519491231002X" },
  { idTypeName: "CN_RESIDENT_ID", normalizedId: "440524188001010014" },
  { idTypeName: "UNIFIED_PHONE", normalizedId: "13800138000" },
];

type Behaviour = "honest" | "liar" | "silent" | "stale-epoch" | "down";

/** Three evaluators A, B, C holding a 2-of-3 sharing of one key, each with a set behaviour. */
function setup(behaviours: [Behaviour, Behaviour, Behaviour]) {
  const key = randomScalar();
  const shares = splitSecret(key, 2, 3);
  const ids = ["inst-a", "inst-b", "inst-c"];
  const evaluators = shares.map((s) => new ShareEvaluator({ index: s.index, secret: s.value }));
  const members: CommitteeMember[] = evaluators.map((e, k) => ({ institutionId: ids[k], index: e.public.index, publicShare: e.public.bytes }));
  const committee = new Committee({ epoch: 7, threshold: 2, publicKey: encodeElement(mulBase(key)), members });
  const asked: string[] = [];
  let elements = 0;
  const network: Evaluators = {
    async evaluate(member: CommitteeMember, request: EvaluationRequest, signal: AbortSignal): Promise<EvaluationAnswer> {
      asked.push(member.institutionId);
      elements += request.blindedElements.length;
      const k = ids.indexOf(member.institutionId);
      const behaviour = behaviours[k];
      await new Promise((r) => setImmediate(r));
      if (behaviour === "down") throw new CreditMeshError("P2P_UNREACHABLE", "connection refused");
      if (behaviour === "silent") {
        return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
      }
      const evaluator = behaviour === "liar" ? new ShareEvaluator({ index: k + 1, secret: randomScalar() }) : evaluators[k];
      const { evaluated, proof } = evaluator.evaluate(request.blindedElements);
      return { evaluatorId: member.institutionId, epoch: behaviour === "stale-epoch" ? 6 : request.epoch, evaluatedElements: evaluated, proof };
    },
  };
  const expected = subjects.map((s) => Buffer.from(evaluateDirect(key, oprfInput(s))).toString("hex"));
  return { committee, network, asked, elementsAsked: () => elements, expected };
}

function tokenizer(s: ReturnType<typeof setup>, opts: { hedgeAfterMs?: number; deadlineMs?: number; cache?: MemoryTokenCache; math?: BatchMath } = {}) {
  const faults: EvaluatorFault[] = [];
  const t = new ThresholdOprfTokenizer(
    { committee: s.committee, evaluators: s.network, cache: opts.cache, math: opts.math },
    { hedgeAfterMs: opts.hedgeAfterMs ?? 60_000, deadlineMs: opts.deadlineMs ?? 60_000, onFault: (f) => faults.push(f) },
  );
  return { t, faults };
}

async function failure(p: Promise<unknown>): Promise<CreditMeshError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CreditMeshError) return err;
    throw err;
  }
  throw new Error("expected a failure");
}

describe("ThresholdOprfTokenizer", () => {
  it("gives the tokens of the whole key from t honest evaluators", async () => {
    const s = setup(["honest", "honest", "honest"]);
    const { t, faults } = tokenizer(s);
    expect(await t.tokens(subjects, "LOOKUP")).toEqual(s.expected);
    expect(s.asked).toHaveLength(2);
    expect(faults).toEqual([]);
  });

  it("replaces a lying evaluator at once, and reports it", async () => {
    const s = setup(["liar", "honest", "honest"]);
    const { t, faults } = tokenizer(s);
    expect(await t.tokens(subjects, "ONBOARD")).toEqual(s.expected);
    expect(faults).toEqual([{ institutionId: "inst-a", fault: "BAD_PROOF" }]);
    expect([...s.asked].sort()).toEqual(["inst-a", "inst-b", "inst-c"]);
  });

  it("hedges past a silent evaluator", async () => {
    const s = setup(["silent", "honest", "honest"]);
    const { t } = tokenizer(s, { hedgeAfterMs: 5 });
    expect(await t.tokens(subjects, "LOOKUP")).toEqual(s.expected);
  });

  it("refuses an answer for another epoch", async () => {
    const s = setup(["stale-epoch", "honest", "down"]);
    const { t, faults } = tokenizer(s);
    const err = await failure(t.tokens(subjects, "LOOKUP"));
    expect(err.code).toBe("UNAVAILABLE");
    expect(faults.map((f) => [f.institutionId, f.fault])).toEqual(expect.arrayContaining([["inst-a", "WRONG_EPOCH"], ["inst-c", "NO_ANSWER"]]));
  });

  it("fails UNAVAILABLE naming the committee and how many answered when fewer than t can", async () => {
    const s = setup(["liar", "silent", "honest"]);
    const { t } = tokenizer(s, { hedgeAfterMs: 5, deadlineMs: 300 });
    const err = await failure(t.tokens(subjects, "ONBOARD"));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toContain("1 of the 2 evaluators needed");
    expect(err.message).toContain("inst-a, inst-b, inst-c");
    expect(err.message).toContain("inst-a BAD_PROOF");
    for (const subject of subjects) expect(err.message).not.toContain(subject.normalizedId);
  });

  it("fails at once, without waiting for the deadline, when every member has failed", async () => {
    const s = setup(["down", "liar", "honest"]);
    const { t } = tokenizer(s);
    expect((await failure(t.tokens(subjects, "LOOKUP"))).code).toBe("UNAVAILABLE");
  });

  it("serves known subjects from the cache, and evaluates a repeated subject once", async () => {
    const s = setup(["honest", "honest", "honest"]);
    const cache = new MemoryTokenCache();
    const { t } = tokenizer(s, { cache });
    expect(await t.tokens([subjects[0], subjects[1], subjects[0]], "ONBOARD")).toEqual([s.expected[0], s.expected[1], s.expected[0]]);
    expect(s.elementsAsked()).toBe(2 * 2);
    expect(await t.tokens(subjects, "LOOKUP")).toEqual(s.expected);
    expect(s.elementsAsked()).toBe(2 * 2 + 2 * 1);

    // With the committee gone, known subjects still resolve; a new one fails.
    const down = setup(["down", "down", "down"]);
    const offline = new ThresholdOprfTokenizer({ committee: s.committee, evaluators: down.network, cache });
    expect(await offline.tokens(subjects.slice(0, 2), "LOOKUP")).toEqual(s.expected.slice(0, 2));
    const other = { idTypeName: "PASSPORT", normalizedId: "E12345678" };
    expect((await failure(offline.tokens([other], "LOOKUP"))).code).toBe("UNAVAILABLE");
  });

  it("reads a small lookup in place, without the cache's async read, and asks nobody when every subject is known", async () => {
    const s = setup(["honest", "honest", "honest"]);
    const memory = new MemoryTokenCache();
    const { t: warm } = tokenizer(s, { cache: memory });
    await warm.tokens(subjects, "ONBOARD");
    const asked = s.elementsAsked();
    const asyncReads: number[] = [];
    const cache = {
      get: async (keyId: string, subs: readonly SubjectKey[]) => {
        asyncReads.push(subs.length);
        return memory.get(keyId, subs);
      },
      getSync: (keyId: string, subs: readonly SubjectKey[]) => memory.getSync(keyId, subs),
      put: (keyId: string, entries: readonly { subject: SubjectKey; token: string }[]) => memory.put(keyId, entries),
    };
    const t = new ThresholdOprfTokenizer({ committee: s.committee, evaluators: s.network, cache });
    expect(await t.tokens(subjects, "LOOKUP")).toEqual(s.expected);
    expect(s.elementsAsked()).toBe(asked);
    // A subject not yet known is still evaluated, and only that one.
    const other = { idTypeName: "PASSPORT", normalizedId: "E12345678" };
    const [, fresh] = await t.tokens([subjects[0], other], "LOOKUP");
    expect(fresh).toMatch(/^[0-9a-f]+$/);
    expect(s.elementsAsked()).toBe(asked + s.committee.threshold);
    expect(asyncReads).toEqual([]);
    // A batch of ingest size goes through the async read.
    const many = Array.from({ length: 9 }, (_, i) => subjects[i % subjects.length]);
    await t.tokens(many, "BULK");
    expect(asyncReads).toEqual([9]);
  });

  it("refuses a subject without an input encoding before asking anyone", async () => {
    const s = setup(["honest", "honest", "honest"]);
    const { t } = tokenizer(s);
    const err = await failure(t.tokens([subjects[0], { idTypeName: "DRIVING_LICENCE", normalizedId: "X1" }], "LOOKUP"));
    expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
    expect(err.field).toBe("subjects[1].id_type");
    expect(s.asked).toEqual([]);
  });

  it("stops when the caller aborts", async () => {
    const s = setup(["silent", "silent", "silent"]);
    const { t } = tokenizer(s);
    const ac = new AbortController();
    const p = t.tokens(subjects, "LOOKUP", ac.signal);
    ac.abort(new CreditMeshError("DEADLINE_EXCEEDED", "caller gave up"));
    expect((await failure(p)).code).toBe("DEADLINE_EXCEEDED");
  });
});

describe("Committee", () => {
  it("refuses public shares that do not lie on one polynomial through the key", () => {
    const s = setup(["honest", "honest", "honest"]);
    const members = s.committee.members.map(({ share: _, ...m }) => m);
    const wrong = encodeElement(mulBase(randomScalar()));
    const bad = [members[0], members[1], { ...members[2], publicShare: wrong }];
    const build = (m: CommitteeMember[], publicKey = encodeElement(mulBase(1n))) => () =>
      new Committee({ epoch: 1, threshold: 2, publicKey, members: m });
    const key = Buffer.from(s.committee.keyId, "hex");
    expect(build(members, key)).not.toThrow();
    expect(build(bad, key)).toThrow(/members\[2\]\.public_share/);
    expect(build(members)).toThrow(/public_key/);
  });
});


describe("ThresholdOprfTokenizer with its arithmetic on a worker thread", () => {
  const math = new WorkerBatchMath();
  afterAll(() => math.close());

  it("gives the same tokens, and blinds, checks and combines nothing on this thread", async () => {
    const onThisThread = vi.spyOn(BlindedBatch, "create");
    try {
      const s = setup(["honest", "honest", "honest"]);
      expect(await tokenizer(s, { math }).t.tokens(subjects, "LOOKUP")).toEqual(s.expected);
      expect(onThisThread).not.toHaveBeenCalled();
    } finally {
      onThisThread.mockRestore();
    }
  });

  it("checks every proof there: a lying evaluator is a BAD_PROOF fault and the third one is asked", async () => {
    const s = setup(["liar", "honest", "honest"]);
    const { t, faults } = tokenizer(s, { math });
    expect(await t.tokens(subjects, "LOOKUP")).toEqual(s.expected);
    expect(faults.map((f) => [f.institutionId, f.fault])).toEqual([["inst-a", "BAD_PROOF"]]);
  });

  it("fails the batches in flight when closed, and starts again on the next call", async () => {
    const s = setup(["honest", "honest", "honest"]);
    const { t } = tokenizer(s, { math });
    const during = failure(t.tokens(subjects, "LOOKUP"));
    await math.close();
    expect(isCreditMeshError(await during, "UNAVAILABLE")).toBe(true);
    expect(await t.tokens(subjects, "LOOKUP")).toEqual(s.expected);
  });
});

describe("SplitBatchMath: a report's subject in place, a bulk batch on the worker", () => {
  const worker = new WorkerBatchMath();
  afterAll(() => worker.close());

  /** The worker's math, with every call it receives named in `calls`. */
  function recorded(): { bulk: BatchMath; calls: string[] } {
    const calls: string[] = [];
    const bulk: BatchMath = {
      blind: (inputs) => (calls.push("blind"), worker.blind(inputs)),
      verify: (h, p, s) => (calls.push("verify"), worker.verify(h, p, s)),
      combine: (h, i, t) => (calls.push("combine"), worker.combine(h, i, t)),
      release: (h) => (calls.push("release"), worker.release(h)),
    };
    return { bulk, calls };
  }

  it("keeps a batch within its limit on this thread: the worker is never called", async () => {
    const { bulk, calls } = recorded();
    const s = setup(["honest", "honest", "honest"]);
    const math = new SplitBatchMath(bulk, 2);
    const { t } = tokenizer(s, { math });
    expect(await t.tokens(subjects.slice(0, 2), "LOOKUP")).toEqual(s.expected.slice(0, 2));
    expect(await t.tokens(subjects.slice(2), "LOOKUP")).toEqual(s.expected.slice(2));
    expect(calls).toEqual([]);
  });

  it("sends a larger batch to the worker, and every step of it goes there", async () => {
    const onThisThread = vi.spyOn(BlindedBatch, "create");
    try {
      const { bulk, calls } = recorded();
      const s = setup(["liar", "honest", "honest"]);
      const { t, faults } = tokenizer(s, { math: new SplitBatchMath(bulk, 2) });
      expect(await t.tokens(subjects, "LOOKUP")).toEqual(s.expected);
      expect(onThisThread).not.toHaveBeenCalled();
      // The liar's proof is checked (and refused) there too; then two good answers are combined.
      expect(faults.map((f) => [f.institutionId, f.fault])).toEqual([["inst-a", "BAD_PROOF"]]);
      expect(calls).toEqual(["blind", "verify", "verify", "verify", "combine", "release"]);
    } finally {
      onThisThread.mockRestore();
    }
  });
});
