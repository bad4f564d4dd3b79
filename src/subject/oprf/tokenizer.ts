import { CreditMeshError } from "../../errors.js";
import type { NormalizedSubject } from "../normalize.js";
import type { Committee, CommitteeMember } from "./committee.js";
import { oprfInput } from "./input.js";
import { InProcessBatchMath, type BatchMath } from "./batch-math.js";
import { MAX_BATCH, type PartialProblem } from "./threshold.js";

/**
 * Subject tokens from the evaluator committee: blind, ask t evaluators (one
 * more when one is slow or fails), verify every proof, combine, finalize.
 * Known subjects come from the cache and cost no evaluation.
 */

export type TokenPurpose = "ONBOARD" | "LOOKUP" | "BULK" | "REINDEX";
export type SubjectKey = Pick<NormalizedSubject, "idTypeName" | "normalizedId">;

export interface EvaluationRequest {
  purpose: TokenPurpose;
  epoch: number;
  blindedElements: Uint8Array[];
}

/** What an evaluator returned, its envelope signature already checked by the transport. */
export interface EvaluationAnswer {
  evaluatorId: string;
  epoch: number;
  evaluatedElements: Uint8Array[];
  proof: Uint8Array;
}

/**
 * The network side (p2p implements it, tests use in-memory evaluators):
 * send one signed request to one committee member and return its signed
 * answer; reject (any error) when it refuses, times out or is unreachable.
 */
export interface Evaluators {
  evaluate(member: CommitteeMember, request: EvaluationRequest, signal: AbortSignal): Promise<EvaluationAnswer>;
}

/**
 * Tokens already computed by this node. `keyId` names the OPRF key (the
 * committee's public key): a new key means new tokens, a reshare does not.
 * The node's implementation keeps entries encrypted like other personal data.
 */
export interface TokenCache {
  get(keyId: string, subjects: readonly SubjectKey[], signal?: AbortSignal): Promise<(string | undefined)[]>;
  /** The same answer read in place, for a cache that can (one lookup per report must not cost an I/O round trip). */
  getSync?(keyId: string, subjects: readonly SubjectKey[]): (string | undefined)[];
  put(keyId: string, entries: readonly { subject: SubjectKey; token: string }[], signal?: AbortSignal): Promise<void>;
}

export interface AsyncSubjectTokenizer {
  tokens(subjects: readonly SubjectKey[], purpose: TokenPurpose, signal?: AbortSignal): Promise<string[]>;
}

/** Why an evaluator did not contribute to a batch (for logs and metrics; never carries subject data). */
export interface EvaluatorFault {
  institutionId: string;
  fault: "NO_ANSWER" | "WRONG_EPOCH" | "WRONG_EVALUATOR" | PartialProblem;
  detail?: string;
}

export interface ThresholdTokenizerOptions {
  /** Per-batch deadline for gathering t valid answers. */
  deadlineMs?: number;
  /** Ask one more evaluator when the first t have not all answered by then. */
  hedgeAfterMs?: number;
  /** Batches in flight at once (each asks t evaluators). */
  concurrency?: number;
  onFault?: (f: EvaluatorFault) => void;
}

const DEFAULTS = { deadlineMs: 30_000, hedgeAfterMs: 2_000, concurrency: 4 };

/**
 * Up to this many subjects are looked up in the cache in place (an API call's
 * one or few); an ingest batch's thousand go through the async read, so that
 * cold reads from disk never hold up the event loop.
 */
const IN_PLACE_LOOKUPS = 8;

export class ThresholdOprfTokenizer implements AsyncSubjectTokenizer {
  private readonly opts: typeof DEFAULTS & Pick<ThresholdTokenizerOptions, "onFault">;
  private rotation = 0;

  private readonly math: BatchMath;

  constructor(
    private readonly modules: {
      committee: Committee;
      evaluators: Evaluators;
      cache?: TokenCache;
      /** Where blinding, proof checks and combining run; default this thread (a node passes its worker's). */
      math?: BatchMath;
    },
    opts: ThresholdTokenizerOptions = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
    this.math = modules.math ?? new InProcessBatchMath();
  }

  async tokens(subjects: readonly SubjectKey[], purpose: TokenPurpose, signal?: AbortSignal): Promise<string[]> {
    const inputs = subjects.map((s, i) => oprfInput(s, `subjects[${i}]`));
    const { committee, cache } = this.modules;
    const out: (string | undefined)[] = !cache
      ? new Array<string | undefined>(subjects.length).fill(undefined)
      : cache.getSync && subjects.length <= IN_PLACE_LOOKUPS
        ? cache.getSync(committee.keyId, subjects)
        : await cache.get(committee.keyId, subjects, signal);
    if (out.length !== subjects.length) throw new CreditMeshError("INTERNAL", "token cache answered for a different number of subjects");
    // Known subjects (every report's lookup, after the first): nothing to evaluate, nothing to set up for it.
    if (!out.includes(undefined)) return out as string[];

    // One evaluation per distinct identifier, however often it repeats in the call.
    const pending = new Map<string, number[]>();
    out.forEach((token, i) => {
      if (token !== undefined) return;
      const key = Buffer.from(inputs[i]).toString("latin1");
      const at = pending.get(key);
      if (at) at.push(i);
      else pending.set(key, [i]);
    });
    const groups = [...pending.values()];
    const batches: number[][][] = [];
    for (let i = 0; i < groups.length; i += MAX_BATCH) batches.push(groups.slice(i, i + MAX_BATCH));

    // The first batch that fails stops the others: the call fails as a whole.
    const failed = new AbortController();
    const batchSignal = signal ? AbortSignal.any([signal, failed.signal]) : failed.signal;
    let next = 0;
    const worker = async () => {
      while (next < batches.length && !batchSignal.aborted) {
        const batch = batches[next++];
        const outputs = await this.evaluateBatch(batch.map((g) => inputs[g[0]]), purpose, batchSignal).catch((err: unknown) => {
          failed.abort(err);
          throw err;
        });
        const fresh: { subject: SubjectKey; token: string }[] = [];
        batch.forEach((g, k) => {
          const token = Buffer.from(outputs[k]).toString("hex");
          for (const i of g) out[i] = token;
          fresh.push({ subject: subjects[g[0]], token });
        });
        if (cache) await cache.put(committee.keyId, fresh, signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, batches.length) }, worker));
    if (out.some((t) => t === undefined)) throw failed.signal.reason ?? new CreditMeshError("INTERNAL", "token evaluation stopped");
    return out as string[];
  }

  /** One batch: t valid partial evaluations, gathered with hedging under the deadline. */
  private async evaluateBatch(inputs: readonly Uint8Array[], purpose: TokenPurpose, signal?: AbortSignal): Promise<Uint8Array[]> {
    const { committee, evaluators } = this.modules;
    const math = this.math;
    const t = committee.threshold;
    const batch = await math.blind(inputs);
    const request: EvaluationRequest = { purpose, epoch: committee.epoch, blindedElements: batch.blinded };
    const start = this.rotation++ % committee.members.length;
    const order = committee.members.map((_, k) => committee.members[(start + k) % committee.members.length]);

    const deadline = AbortSignal.timeout(this.opts.deadlineMs);
    const stop = new AbortController();
    const ask = AbortSignal.any([deadline, stop.signal, ...(signal ? [signal] : [])]);
    // Share indices of the evaluators whose answers verified (math keeps the answers).
    const verified: number[] = [];
    const faults: EvaluatorFault[] = [];
    let asked = 0;
    let settled = 0;

    return new Promise<Uint8Array[]>((resolve, reject) => {
      let done = false;
      let hedge: NodeJS.Timeout | undefined;
      const finish = (err?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(hedge);
        ask.removeEventListener("abort", onAbort);
        stop.abort();
        const outputs = err ? Promise.reject(err) : math.combine(batch, verified.slice(0, t), t);
        outputs.then(resolve, reject).finally(() => math.release(batch));
      };
      const fault = (f: EvaluatorFault) => {
        faults.push(f);
        this.opts.onFault?.(f);
      };
      // Evaluators that refused on this member's quota make it RESOURCE_EXHAUSTED, not a fault of the committee.
      const unavailable = (why: string) => {
        const overQuota = faults.filter((f) => f.detail === "RATE_LIMITED").map((f) => f.institutionId);
        const detail = `${verified.length} of the ${t} evaluators needed answered with a valid proof (committee ${committee.institutionIds.join(", ")}, epoch ${committee.epoch}); ${why}` +
          (faults.length ? `: ${faults.map((f) => `${f.institutionId} ${f.fault}${f.detail ? ` (${f.detail})` : ""}`).join("; ")}` : "");
        return overQuota.length > 0
          ? new CreditMeshError("RATE_LIMITED", `subject tokens refused: this member's daily evaluation quota is used up at ${overQuota.join(", ")} (tokens.dailyQuota there; an operator ticket allows more); ${detail}`)
          : new CreditMeshError("UNAVAILABLE", `subject tokens unavailable: ${detail}`);
      };
      const onAbort = () => {
        if (signal?.aborted) finish(signal.reason ?? new CreditMeshError("DEADLINE_EXCEEDED", "token evaluation cancelled"));
        else if (stop.signal.aborted) finish(new CreditMeshError("INTERNAL", "token evaluation stopped"));
        else finish(unavailable(`deadline of ${this.opts.deadlineMs} ms passed`));
      };
      if (ask.aborted) return onAbort();
      ask.addEventListener("abort", onAbort);

      const launch = () => {
        if (done || asked >= order.length) return;
        const member = order[asked++];
        evaluators.evaluate(member, request, ask).then(
          async (answer) => {
            if (done) return;
            if (answer.evaluatorId !== member.institutionId) return fault({ institutionId: member.institutionId, fault: "WRONG_EVALUATOR" });
            if (answer.epoch !== committee.epoch) return fault({ institutionId: member.institutionId, fault: "WRONG_EPOCH", detail: `epoch ${answer.epoch}` });
            const partial = { index: member.index, evaluated: answer.evaluatedElements, proof: answer.proof };
            // A failure of the arithmetic itself (its worker gone) is no evaluator's fault: the batch fails with it.
            const v = await math.verify(batch, partial, { index: member.share.index, bytes: member.share.bytes }).catch((err: unknown) => finish(err));
            if (done || v === undefined) return;
            if (v !== true) return fault({ institutionId: member.institutionId, fault: v });
            verified.push(member.index);
          },
          (err: unknown) => {
            if (!done) fault({ institutionId: member.institutionId, fault: "NO_ANSWER", detail: errorCode(err) });
          },
        ).finally(() => {
          settled++;
          if (done) return;
          if (verified.length >= t) return finish();
          // A failure is replaced at once; when nobody is left to ask and all have settled, give up now.
          if (asked - settled < t - verified.length) launch();
          if (settled === asked && asked >= order.length) finish(unavailable(`every member was asked`));
        });
      };
      for (let k = 0; k < t; k++) launch();
      if (order.length > t) {
        hedge = setTimeout(() => {
          if (!done && verified.length < t) launch();
        }, this.opts.hedgeAfterMs);
      }
    });
  }
}

function errorCode(err: unknown): string {
  if (err instanceof CreditMeshError) return err.code;
  if (err instanceof Error && err.name) return err.name;
  return "error";
}

