import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isoDate } from "../../src/clock.js";

describe("isoDate", () => {
  it("is the UTC calendar date of every date, in any order of calls (the last day is remembered)", () => {
    const instants = fc.integer({ min: -8.64e15, max: 8.64e15 });
    // Runs of instants near one another, so that consecutive calls often fall on the same day or either side of midnight.
    const runs = fc.array(fc.tuple(instants, fc.array(fc.integer({ min: -2 * 86_400_000, max: 2 * 86_400_000 }), { maxLength: 8 })), { maxLength: 20 });
    fc.assert(
      fc.property(runs, (list) => {
        for (const [base, offsets] of list) {
          for (const ms of [base, ...offsets.map((o) => Math.max(-8.64e15, Math.min(8.64e15, base + o)))]) {
            const d = new Date(ms);
            expect(isoDate(d)).toBe(d.toISOString().slice(0, 10));
          }
        }
      }),
    );
  });

  it("tells the last millisecond of a day from the first of the next", () => {
    expect(isoDate(new Date("2026-12-03T23:59:59.999Z"))).toBe("2026-12-03");
    expect(isoDate(new Date("2026-12-04T00:00:00.000Z"))).toBe("2026-12-04");
    expect(isoDate(new Date("1969-12-31T23:59:59.999Z"))).toBe("1969-12-31");
    expect(isoDate(new Date("1970-01-01T00:00:00.000Z"))).toBe("1970-01-01");
  });

  it("refuses an invalid date however often it is asked", () => {
    isoDate(new Date("2026-12-03T12:00:00Z"));
    expect(() => isoDate(new Date(Number.NaN))).toThrow(RangeError);
    expect(() => isoDate(new Date(Number.NaN))).toThrow(RangeError);
  });
});
