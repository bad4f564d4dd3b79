import { Worker } from "node:worker_threads";
import { CreditMeshError } from "../../errors.js";
import { workerEntry } from "../../worker-entry.js";
import { publicShareOf, type KeyShare, type PartialEvaluation, type PublicShare } from "./threshold.js";
import { fromWorkerError, type WorkerError } from "./worker-errors.js";

const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./share-worker.ts" : "./share-worker.js", import.meta.url);

/**
 * A key share evaluated on its own worker thread: a 1024-element batch costs
 * a second or more of CPU, which must not stall an evaluator node's network
 * and API handling. Requests queue in the worker in arrival order.
 */
export class WorkerShareEvaluator {
  readonly public: PublicShare;
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (p: PartialEvaluation | undefined) => void; reject: (e: unknown) => void }>();
  private nextId = 0;
  private stopped: unknown;

  constructor(share: KeyShare) {
    this.public = publicShareOf(share);
    this.worker = new Worker(workerEntry(WORKER_URL), { workerData: { index: share.index, secret: share.secret.toString(16) } });
    this.worker.on("message", (m: { id: number; evaluated?: Uint8Array[]; proof?: Uint8Array; error?: WorkerError }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error) w.reject(fromWorkerError(m.error));
      else w.resolve(m.evaluated ? { index: share.index, evaluated: m.evaluated, proof: m.proof! } : undefined);
    });
    this.worker.on("error", (err) => this.failAll(err));
    this.worker.on("exit", () => this.failAll(new CreditMeshError("UNAVAILABLE", "evaluator worker exited")));
    this.worker.unref();
  }

  async evaluate(blinded: readonly Uint8Array[], signal?: AbortSignal): Promise<PartialEvaluation> {
    return (await this.post(blinded, false, signal))!;
  }

  /**
   * Checks every element decodes, on the worker (VALIDATION_FAILED naming the
   * first that does not). `signal` frees the caller from waiting behind other
   * requesters' batches, not the worker from the work.
   */
  async check(blinded: readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    await this.post(blinded, true, signal);
  }

  /** Queues a batch on the worker, in arrival order with the others. */
  private post(blinded: readonly Uint8Array[], checkOnly: boolean, signal?: AbortSignal): Promise<PartialEvaluation | undefined> {
    signal?.throwIfAborted();
    if (this.stopped !== undefined) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        // The worker still finishes the batch; its answer is dropped.
        this.waiting.delete(id);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(id, {
        resolve: (p) => (signal?.removeEventListener("abort", onAbort), resolve(p)),
        reject: (e) => (signal?.removeEventListener("abort", onAbort), reject(e)),
      });
      this.worker.postMessage({ id, blinded, checkOnly });
    });
  }

  async close(): Promise<void> {
    this.failAll(new CreditMeshError("UNAVAILABLE", "evaluator stopped"));
    await this.worker.terminate();
  }

  private failAll(err: unknown): void {
    this.stopped ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
