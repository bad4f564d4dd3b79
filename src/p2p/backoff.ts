/**
 * Capped exponential backoff with jitter, so members that lost the same peer
 * do not all redial it in the same instant.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(opts: { initialMs: number; maxMs: number; factor?: number; random?: () => number }) {
    this.#initialMs = Math.max(1, opts.initialMs);
    this.#maxMs = Math.max(this.#initialMs, opts.maxMs);
    this.#factor = opts.factor ?? 2;
    this.#random = opts.random ?? Math.random;
  }

  get attempts(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt: between half and all of the capped exponential step. */
  next(): number {
    const step = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt);
    if (step < this.#maxMs) this.#attempt++;
    return Math.round(step / 2 + (step / 2) * this.#random());
  }

  reset(): void {
    this.#attempt = 0;
  }
}
