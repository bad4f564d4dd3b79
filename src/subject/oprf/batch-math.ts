import { CreditMeshError } from "../../errors.js";
import { BlindedBatch, publicShare, type PartialEvaluation, type PartialProblem, type VerifiedPartial } from "./threshold.js";

/** One batch's blinded elements, and the handle under which its blinds are kept. */
export interface BlindedHandle {
  readonly id: number;
  readonly blinded: Uint8Array[];
}

/**
 * The requester's group arithmetic for a batch: blinding, checking each
 * evaluator's proof and combining. A 1,024-element batch costs ~1.3 s of CPU
 * with a 2-of-3 committee, so a node does it on a worker thread
 * (WorkerBatchMath) and its event loop keeps serving while it ingests new
 * subjects. The blinds stay where the arithmetic is: only blinded and
 * evaluated elements cross, and the outputs once combined.
 */
export interface BatchMath {
  blind(inputs: readonly Uint8Array[]): Promise<BlindedHandle>;
  /** Whether an evaluator's answer holds against its public share (then kept for combine), else why not. */
  verify(handle: BlindedHandle, partial: PartialEvaluation, share: { index: number; bytes: Uint8Array }): Promise<true | PartialProblem>;
  /** The OPRF outputs from the kept answers of exactly `threshold` evaluators, by share index. */
  combine(handle: BlindedHandle, indices: readonly number[], threshold: number): Promise<Uint8Array[]>;
  /** Forgets the batch's blinds and answers (after combine, or when the batch is given up). */
  release(handle: BlindedHandle): void;
}

/** BatchMath on the calling thread (tests, and the worker's own side). */
export class InProcessBatchMath implements BatchMath {
  readonly #batches = new Map<number, { batch: BlindedBatch; verified: Map<number, VerifiedPartial> }>();
  #next = 0;

  async blind(inputs: readonly Uint8Array[]): Promise<BlindedHandle> {
    return this.blindNow(inputs);
  }

  blindNow(inputs: readonly Uint8Array[], id = this.#next++): BlindedHandle {
    const batch = BlindedBatch.create(inputs);
    this.#batches.set(id, { batch, verified: new Map() });
    return { id, blinded: batch.blinded };
  }

  async verify(handle: BlindedHandle, partial: PartialEvaluation, share: { index: number; bytes: Uint8Array }): Promise<true | PartialProblem> {
    return this.verifyNow(handle.id, partial, share);
  }

  verifyNow(id: number, partial: PartialEvaluation, share: { index: number; bytes: Uint8Array }): true | PartialProblem {
    const held = this.#held(id);
    const v = held.batch.verify(partial, publicShare(share.index, share.bytes));
    if (typeof v === "string") return v;
    held.verified.set(share.index, v);
    return true;
  }

  async combine(handle: BlindedHandle, indices: readonly number[], threshold: number): Promise<Uint8Array[]> {
    return this.combineNow(handle.id, indices, threshold);
  }

  combineNow(id: number, indices: readonly number[], threshold: number): Uint8Array[] {
    const held = this.#held(id);
    const partials = indices.map((i) => {
      const v = held.verified.get(i);
      if (!v) throw new CreditMeshError("INTERNAL", `no verified answer of evaluator ${i} to combine`);
      return v;
    });
    return held.batch.combine(partials, threshold);
  }

  release(handle: BlindedHandle): void {
    this.releaseNow(handle.id);
  }

  releaseNow(id: number): void {
    this.#batches.delete(id);
  }

  #held(id: number): { batch: BlindedBatch; verified: Map<number, VerifiedPartial> } {
    const held = this.#batches.get(id);
    if (!held) throw new CreditMeshError("INTERNAL", `no blinded batch ${id}`);
    return held;
  }
}

/**
 * Batches of up to this many elements stay on the calling thread. A lone
 * subject (a report's lookup, a consent grant) costs ~3.5 ms of arithmetic
 * with a 2-of-3 committee, mostly the fixed cost of checking each proof, and
 * is on the path of the call that asked for it; four round trips to the
 * worker would add their wake-ups to it. A bulk batch of new subjects (up to
 * 1,024: ~1.3 s) would stall the event loop, so it goes to the worker.
 */
export const INLINE_BATCH_ELEMENTS = 1;

/** A lone subject in process, larger batches (ingest) on `bulk`. */
export class SplitBatchMath implements BatchMath {
  readonly #inline = new InProcessBatchMath();
  readonly #bulk: BatchMath;
  readonly #inlineUpTo: number;
  readonly #onBulk = new WeakSet<BlindedHandle>();

  constructor(bulk: BatchMath, inlineUpTo = INLINE_BATCH_ELEMENTS) {
    this.#bulk = bulk;
    this.#inlineUpTo = inlineUpTo;
  }

  async blind(inputs: readonly Uint8Array[]): Promise<BlindedHandle> {
    if (inputs.length <= this.#inlineUpTo) return this.#inline.blind(inputs);
    const handle = await this.#bulk.blind(inputs);
    this.#onBulk.add(handle);
    return handle;
  }

  verify(handle: BlindedHandle, partial: PartialEvaluation, share: { index: number; bytes: Uint8Array }): Promise<true | PartialProblem> {
    return this.#of(handle).verify(handle, partial, share);
  }

  combine(handle: BlindedHandle, indices: readonly number[], threshold: number): Promise<Uint8Array[]> {
    return this.#of(handle).combine(handle, indices, threshold);
  }

  release(handle: BlindedHandle): void {
    this.#of(handle).release(handle);
  }

  #of(handle: BlindedHandle): BatchMath {
    return this.#onBulk.has(handle) ? this.#bulk : this.#inline;
  }
}
