import { Worker } from "node:worker_threads";
import { CreditMeshError } from "../../errors.js";
import { workerEntry } from "../../worker-entry.js";
import type { BatchMath, BlindedHandle } from "./batch-math.js";
import type { PartialEvaluation, PartialProblem } from "./threshold.js";
import { fromWorkerError, type WorkerError } from "./worker-errors.js";

const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./batch-math-worker.ts" : "./batch-math-worker.js", import.meta.url);

/** A call to the worker; `call` matches the answer to it, `id` names the batch. */
export type BatchMathCall =
  | { op: "blind"; call: number; id: number; inputs: readonly Uint8Array[] }
  | { op: "verify"; call: number; id: number; partial: PartialEvaluation; share: { index: number; bytes: Uint8Array } }
  | { op: "combine"; call: number; id: number; indices: readonly number[]; threshold: number }
  | { op: "release"; call: number; id: number };

type Answer = { call: number; result?: unknown; error?: WorkerError };

/**
 * BatchMath on a worker thread of its own, shared by every batch of the
 * node's tokenizers: calls run there in arrival order, and the event loop
 * only posts and receives elements. The worker starts on first use; after
 * close(), or if it dies, the batches in flight fail and the next call
 * starts a new one.
 */
export class WorkerBatchMath implements BatchMath {
  private worker?: Worker;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextCall = 0;
  private nextBatch = 0;

  async blind(inputs: readonly Uint8Array[]): Promise<BlindedHandle> {
    const id = this.nextBatch++;
    const blinded = (await this.send({ op: "blind", call: 0, id, inputs })) as Uint8Array[];
    return { id, blinded };
  }

  async verify(handle: BlindedHandle, partial: PartialEvaluation, share: { index: number; bytes: Uint8Array }): Promise<true | PartialProblem> {
    return (await this.send({ op: "verify", call: 0, id: handle.id, partial, share })) as true | PartialProblem;
  }

  async combine(handle: BlindedHandle, indices: readonly number[], threshold: number): Promise<Uint8Array[]> {
    return (await this.send({ op: "combine", call: 0, id: handle.id, indices, threshold })) as Uint8Array[];
  }

  release(handle: BlindedHandle): void {
    this.worker?.postMessage({ op: "release", call: -1, id: handle.id } satisfies BatchMathCall);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new CreditMeshError("UNAVAILABLE", "token arithmetic stopped"));
    await worker?.terminate();
  }

  private send(call: BatchMathCall): Promise<unknown> {
    const worker = (this.worker ??= this.start());
    const n = this.nextCall++;
    return new Promise((resolve, reject) => {
      this.waiting.set(n, { resolve, reject });
      worker.postMessage({ ...call, call: n });
    });
  }

  private start(): Worker {
    const worker = new Worker(workerEntry(WORKER_URL));
    worker.on("message", (m: Answer) => {
      const w = this.waiting.get(m.call);
      if (!w) return;
      this.waiting.delete(m.call);
      if (m.error) w.reject(fromWorkerError(m.error));
      else w.resolve(m.result);
    });
    const gone = (err: unknown) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(err);
    };
    worker.on("error", gone);
    worker.on("exit", () => gone(new CreditMeshError("UNAVAILABLE", "token arithmetic worker exited")));
    worker.unref();
    return worker;
  }

  private failAll(err: unknown): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

let shared: WorkerBatchMath | undefined;

/**
 * The process's one WorkerBatchMath: nodes hosted together (`creditmesh host`)
 * share its thread rather than start one each. It is never closed by a node
 * (another may be using it); its thread does not keep the process alive.
 */
export function sharedBatchMath(): WorkerBatchMath {
  return (shared ??= new WorkerBatchMath());
}
