import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addDays,
  addMonths,
  diffDays,
  endOfMonth,
  fromDay,
  isoDateProblem,
  monthIndex,
  toDay,
} from "../../../src/records/dates.js";

describe("calendar dates", () => {
  it("agrees with the UTC Date calendar for every day from 1900 to 2200", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1900, 0, 1) / 86_400_000, max: Date.UTC(2200, 11, 31) / 86_400_000 }), (day) => {
        const iso = new Date(day * 86_400_000).toISOString().slice(0, 10);
        expect(fromDay(day)).toBe(iso);
        expect(toDay(iso)).toBe(day);
      }),
    );
  });

  it("explains why a string is not a date", () => {
    expect(isoDateProblem("2025-02-28")).toBeUndefined();
    expect(isoDateProblem("2024-02-29")).toBeUndefined();
    expect(isoDateProblem("2025-02-30")).toBe("2025-02-30 is not a real date");
    expect(isoDateProblem("2100-02-29")).toBe("2100-02-29 is not a real date");
    expect(isoDateProblem("2025-13-01")).toBe("2025-13-01 is not a real date");
    expect(isoDateProblem("2025/01/01")).toBe('must be a date in YYYY-MM-DD form, got "2025/01/01"');
    expect(isoDateProblem("2025-1-1")).toMatch(/YYYY-MM-DD/);
    expect(isoDateProblem("2025-01-01T00:00:00Z")).toMatch(/YYYY-MM-DD/);
  });

  it("throws RangeError when handed a non-date", () => {
    expect(() => toDay("2025-02-30")).toThrow(RangeError);
    expect(() => toDay("")).toThrow(RangeError);
  });

  it("adds and subtracts days across months and leap years", () => {
    expect(addDays("2024-02-28", 1)).toBe("2024-02-29");
    expect(addDays("2025-02-28", 1)).toBe("2025-03-01");
    expect(addDays("2025-01-01", -1)).toBe("2024-12-31");
    expect(diffDays("2025-06-15", "2025-03-10")).toBe(97);
    expect(diffDays("2025-01-01", "2024-01-01")).toBe(366);
  });

  it("does month arithmetic, clamping to shorter months", () => {
    expect(addMonths("2025-01-31", 1)).toBe("2025-02-28");
    expect(addMonths("2024-01-31", 1)).toBe("2024-02-29");
    expect(addMonths("2025-11-15", 3)).toBe("2026-02-15");
    expect(addMonths("2025-03-15", -3)).toBe("2024-12-15");
    expect(monthIndex("2025-03-15") - monthIndex("2024-12-01")).toBe(3);
    expect(endOfMonth("2024-02-10")).toBe("2024-02-29");
    expect(endOfMonth("2025-12-01")).toBe("2025-12-31");
  });
});
