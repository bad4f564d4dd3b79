import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";
import { CreditMeshError } from "./errors.js";

/**
 * Token buckets keyed by caller (API key, requesting institution): `ratePerSec`
 * sustained, bursts up to `burst`. One caller over its limit is refused
 * without slowing anyone else.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst = Math.max(1, Math.ceil(ratePerSec)),
    private readonly clock: Clock = systemClock,
  ) {}

  /** True if `key` may proceed now (and spends one token). */
  tryTake(key: string): boolean {
    if (this.ratePerSec <= 0) return true;
    const now = this.clock.now().getTime();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSec);
    b.at = now;
    // Refills add up in floating point: a token earned in several steps may fall short of 1 by rounding.
    const ok = b.tokens >= 1 - 1e-9;
    if (ok) b.tokens -= 1;
    this.buckets.set(key, b);
    return ok;
  }

  take(key: string): void {
    if (!this.tryTake(key)) throw new CreditMeshError("RATE_LIMITED", `rate limit of ${this.ratePerSec}/s exceeded; retry later`);
  }
}
