import { describe, expect, it } from "vitest";
import { median, percentile, summarize } from "../../../scripts/bench/stats.js";

describe("benchmark statistics", () => {
  it("takes nearest-rank percentiles: always one of the samples", () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(s, 50), percentile(s, 90), percentile(s, 99), percentile(s, 100)]).toEqual([50, 90, 99, 100]);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("summarizes unsorted samples, rounded", () => {
    expect(summarize([3, 1, 2.00049, 10], 3)).toEqual({ n: 4, min: 1, p50: 2, p90: 10, p99: 10, max: 10, mean: 4 });
    expect(median([5, 1, 3])).toBe(3);
  });
});
