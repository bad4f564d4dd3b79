import { describe, expect, test } from "vitest";
import { Backoff } from "../../../src/p2p/backoff.js";

describe("Backoff", () => {
  test("grows exponentially up to the cap, jittered within [step/2, step]", () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    const high = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
    expect(Array.from({ length: 7 }, () => low.next())).toEqual([50, 100, 200, 400, 500, 500, 500]);
    expect(Array.from({ length: 7 }, () => high.next())).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  test("reset starts over", () => {
    const b = new Backoff({ initialMs: 10, maxMs: 1000, random: () => 1 });
    b.next();
    b.next();
    expect(b.attempts).toBe(2);
    b.reset();
    expect(b.next()).toBe(10);
  });
});
