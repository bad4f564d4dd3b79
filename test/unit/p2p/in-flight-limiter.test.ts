import { describe, expect, it } from "vitest";
import { InFlightLimiter } from "../../../src/p2p/in-flight-limiter.js";

const never = new AbortController().signal;

describe("InFlightLimiter", () => {
  it("takes a free slot at once with tryAcquire, and none while others wait or the key is full", async () => {
    const limiter = new InFlightLimiter(1);
    const release = limiter.tryAcquire("peer-1");
    expect(release).toBeTypeOf("function");
    expect(limiter.active("peer-1")).toBe(1);
    expect(limiter.tryAcquire("peer-1")).toBeUndefined();
    const queued = limiter.acquire("peer-1", never);
    release!();
    // The released slot went to the waiter, not to a later tryAcquire.
    expect(limiter.tryAcquire("peer-1")).toBeUndefined();
    (await queued).release();
    expect(limiter.active("peer-1")).toBe(0);
    expect(new InFlightLimiter(0).tryAcquire("peer-1")).toBeTypeOf("function");
  });

  it("lets `limit` through per key, queues the rest in order and hands each released slot to the next", async () => {
    const limiter = new InFlightLimiter(2);
    const a = await limiter.acquire("peer-1", never);
    const b = await limiter.acquire("peer-1", never);
    expect(a.waited || b.waited).toBe(false);
    // Another key has its own slots.
    expect((await limiter.acquire("peer-2", never)).waited).toBe(false);
    const order: number[] = [];
    const c = limiter.acquire("peer-1", never).then((s) => (order.push(3), s));
    const d = limiter.acquire("peer-1", never).then((s) => (order.push(4), s));
    expect(limiter.waiting("peer-1")).toBe(2);
    a.release();
    a.release(); // twice is once
    const cs = await c;
    expect(cs.waited).toBe(true);
    expect(order).toEqual([3]);
    expect(limiter.active("peer-1")).toBe(2);
    b.release();
    (await d).release();
    cs.release();
    expect(limiter.active("peer-1")).toBe(0);
    expect(limiter.waiting("peer-1")).toBe(0);
  });

  it("a waiter whose signal aborts leaves the queue with the signal's reason and takes no slot", async () => {
    const limiter = new InFlightLimiter(1);
    const held = await limiter.acquire("peer-1", never);
    const controller = new AbortController();
    const waiting = limiter.acquire("peer-1", controller.signal);
    const reason = new DOMException("the report deadline passed", "TimeoutError");
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(limiter.waiting("peer-1")).toBe(0);
    held.release();
    expect(limiter.active("peer-1")).toBe(0);
    await expect(limiter.acquire("peer-1", controller.signal)).rejects.toBe(reason);
  });

  it("0 is no limit", async () => {
    const limiter = new InFlightLimiter(0);
    const slots = await Promise.all(Array.from({ length: 1000 }, () => limiter.acquire("peer-1", never)));
    expect(slots.every((s) => !s.waited)).toBe(true);
  });
});
