import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { CreditMeshError } from "../../src/errors.js";
import { RateLimiter } from "../../src/rate-limit.js";

describe("RateLimiter", () => {
  it("allows a burst of ceil(rate), then refills at the rate, per caller", () => {
    const clock = new ManualClock(new Date("2026-12-01T00:00:00Z"));
    const limiter = new RateLimiter(2, undefined, clock);
    expect([limiter.tryTake("a"), limiter.tryTake("a"), limiter.tryTake("a")]).toEqual([true, true, false]);
    // Another caller has a bucket of its own.
    expect(limiter.tryTake("b")).toBe(true);
    clock.advance(499);
    expect(limiter.tryTake("a")).toBe(false);
    clock.advance(1);
    expect(limiter.tryTake("a")).toBe(true);
    expect(limiter.tryTake("a")).toBe(false);
    // A long pause refills up to the burst, not beyond.
    clock.advance(60_000);
    expect([limiter.tryTake("a"), limiter.tryTake("a"), limiter.tryTake("a")]).toEqual([true, true, false]);
  });

  it("a rate below one per second still allows one call, then one per 1/rate seconds", () => {
    const clock = new ManualClock(new Date("2026-12-01T00:00:00Z"));
    const limiter = new RateLimiter(0.01, undefined, clock);
    expect(limiter.tryTake("a")).toBe(true);
    clock.advance(99_999);
    expect(limiter.tryTake("a")).toBe(false);
    clock.advance(1);
    expect(limiter.tryTake("a")).toBe(true);
  });

  it("take() refuses with RATE_LIMITED; a zero rate never limits", () => {
    const clock = new ManualClock(new Date("2026-12-01T00:00:00Z"));
    const limiter = new RateLimiter(1, undefined, clock);
    limiter.take("a");
    expect(() => limiter.take("a")).toThrow(expect.objectContaining({ code: "RATE_LIMITED" }) as unknown as CreditMeshError);
    const off = new RateLimiter(0, undefined, clock);
    for (let i = 0; i < 100; i++) expect(off.tryTake("a")).toBe(true);
  });
});
