/**
 * At most `limit` operations running at once across all members; the rest
 * wait, and a freed turn goes to the members waiting one after another (round
 * robin), each member's own operations in arrival order. So a member with
 * many operations waiting delays another member's next one by at most one
 * turn of each member waiting, not by everything it queued. Work-conserving:
 * a member alone gets every turn.
 *
 * A waiter whose signal aborts leaves without taking a turn.
 */
export class FairTurns {
  #running = 0;
  /** Members with operations waiting, in the order their turn comes (Map keeps insertion order). */
  readonly #waiting = new Map<string, Array<() => void>>();

  /** `limit` 0 means no limit. */
  constructor(readonly limit: number) {}

  /**
   * A turn taken now when one is free and nobody waits for one, without a
   * promise (the caller goes on in the same job); undefined otherwise.
   */
  tryTake(): (() => void) | undefined {
    if (this.#waiting.size > 0 || (this.limit > 0 && this.#running >= this.limit)) return undefined;
    this.#running++;
    return this.#releaser();
  }

  /** A turn for `member`: resolves with its release (call it once), or rejects with the signal's reason. */
  take(member: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.tryTake();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      let queue = this.#waiting.get(member);
      if (queue === undefined) {
        queue = [];
        this.#waiting.set(member, queue);
      }
      const own = queue;
      const onAbort = (): void => {
        const at = own.indexOf(grant);
        if (at >= 0) own.splice(at, 1);
        if (own.length === 0 && this.#waiting.get(member) === own) this.#waiting.delete(member);
        reject(signal?.reason);
      };
      // Called by a release with the turn already counted for this waiter.
      const grant = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve(this.#releaser());
      };
      own.push(grant);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Operations running now. */
  get running(): number {
    return this.#running;
  }

  /** Operations waiting for a turn, of `member` or of everyone. */
  waiting(member?: string): number {
    if (member !== undefined) return this.#waiting.get(member)?.length ?? 0;
    let n = 0;
    for (const queue of this.#waiting.values()) n += queue.length;
    return n;
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#next();
      // The turn passes straight to the next waiter: the count stays.
      if (next) return next();
      this.#running--;
    };
  }

  /** The first waiter of the member whose turn it is; that member goes to the back of the line. */
  #next(): (() => void) | undefined {
    for (const [member, queue] of this.#waiting) {
      this.#waiting.delete(member);
      const grant = queue.shift();
      if (queue.length > 0) this.#waiting.set(member, queue);
      if (grant) return grant;
    }
    return undefined;
  }
}
