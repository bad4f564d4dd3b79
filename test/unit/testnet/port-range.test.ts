import { describe, expect, it } from "vitest";
import { freePort, portRange } from "../../../src/testnet/layout.js";

describe("test-network port ranges", () => {
  it("gives parallel test workers disjoint slices below the ephemeral range", () => {
    const slices = [1, 2, 3, 4].map((id) => portRange({ VITEST_POOL_ID: String(id) }));
    for (const [i, a] of slices.entries()) {
      expect(a.from).toBeGreaterThanOrEqual(20_000);
      expect(a.to).toBeLessThanOrEqual(32_768);
      expect(a.to - a.from).toBeGreaterThan(1_000);
      for (const b of slices.slice(i + 1)) expect(a.to <= b.from || b.to <= a.from).toBe(true);
    }
    expect(portRange({ VITEST_POOL_ID: "5" })).toEqual(portRange({ VITEST_POOL_ID: "1" }));
  });

  it("uses the whole range outside a test worker", () => {
    expect(portRange({})).toEqual({ from: 20_000, to: 32_000 });
    expect(portRange({ VITEST_POOL_ID: "zero" })).toEqual({ from: 20_000, to: 32_000 });
  });

  it("hands out ports from this worker's slice", async () => {
    const range = portRange();
    for (let i = 0; i < 5; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(range.from);
      expect(port).toBeLessThan(range.to);
    }
  });
});
