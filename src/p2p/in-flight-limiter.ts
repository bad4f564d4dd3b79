/**
 * At most `limit` operations in flight per key (a holder's peer id), the rest
 * waiting in arrival order. A waiter whose signal aborts leaves the queue
 * without taking a slot, so a queue never outlives the deadlines of the
 * reports in it.
 */
export class InFlightLimiter {
  readonly #active = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();

  /** `limit` 0 means no limit. */
  constructor(readonly limit: number) {}

  /**
   * A slot for `key`: `release` gives it back (call it once), `waited` says
   * whether it had to queue. Rejects with the signal's reason if the signal
   * aborts first.
   */
  acquire(key: string, signal: AbortSignal): Promise<{ release: () => void; waited: boolean }> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const release = this.tryAcquire(key);
    if (release) return Promise.resolve({ release, waited: false });
    return new Promise((resolve, reject) => {
      const queue = this.#waiting.get(key) ?? [];
      this.#waiting.set(key, queue);
      const onAbort = (): void => {
        const at = queue.indexOf(grant);
        if (at >= 0) queue.splice(at, 1);
        if (queue.length === 0 && this.#waiting.get(key) === queue) this.#waiting.delete(key);
        reject(signal.reason);
      };
      // Called by a release with the slot already counted for this waiter.
      const grant = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve({ release: this.#releaser(key), waited: true });
      };
      queue.push(grant);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * A free slot for `key` taken now, without a promise, so that the caller's
   * request can leave in the same job; undefined when it would have to wait.
   */
  tryAcquire(key: string): (() => void) | undefined {
    const active = this.#active.get(key) ?? 0;
    if (this.limit > 0 && active >= this.limit) return undefined;
    this.#active.set(key, active + 1);
    return this.#releaser(key);
  }

  /** Operations in flight for `key`. */
  active(key: string): number {
    return this.#active.get(key) ?? 0;
  }

  /** Operations waiting for `key`. */
  waiting(key: string): number {
    return this.#waiting.get(key)?.length ?? 0;
  }

  #releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const queue = this.#waiting.get(key);
      const next = queue?.shift();
      if (queue && queue.length === 0) this.#waiting.delete(key);
      // The slot passes straight to the next waiter: the count stays.
      if (next) return next();
      const left = (this.#active.get(key) ?? 1) - 1;
      if (left > 0) this.#active.set(key, left);
      else this.#active.delete(key);
    };
  }
}
