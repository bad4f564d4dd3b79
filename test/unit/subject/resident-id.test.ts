import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { daysFromCivil, fromDay } from "../../../src/records/dates.js";
import { residentIdCheckChar, residentIdProblem } from "../../../src/subject/resident-id.js";

const TODAY = new Date("2026-03-15T12:00:00Z");
const PROVINCES = [
  "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
  "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
];

function withCheck(first17: string): string {
  return first17 + residentIdCheckChar(first17);
}

describe("residentIdCheckChar", () => {
  it("computes ISO 7064 MOD 11-2 (known numbers)", () => {
    expect(residentIdCheckChar("11010519491231002")).toBe("X");
    expect(residentIdCheckChar("44030420000229001")).toBe("4");
    expect(residentIdCheckChar("11010518991231123")).toBe("7");
  });

  it("rejects anything but 17 digits", () => {
    expect(() => residentIdCheckChar("1101051949123100")).toThrow(RangeError);
    expect(() => residentIdCheckChar("1101051949123100A")).toThrow(RangeError);
  });
});

describe("residentIdProblem", () => {
  it("accepts a known valid ID, with upper or lower case x", () => {
    expect(residentIdProblem("11010519491231002X", TODAY)).toBeUndefined();
    expect(residentIdProblem("11010519491231002x", TODAY)).toBeUndefined();
  });

  it("names the wrong and the expected check character", () => {
    expect(residentIdProblem("110105194912310021", TODAY)).toBe("check character is 1, expected X");
    expect(residentIdProblem("440304200002290015", TODAY)).toBe("check character is 5, expected 4");
  });

  it("rejects a check character that is neither a digit nor X", () => {
    expect(residentIdProblem("11010519491231002Y", TODAY)).toBe("check character must be a digit or X");
  });

  it("rejects a wrong length", () => {
    expect(residentIdProblem("11010519491231002", TODAY)).toBe("must be 18 characters, got 17");
    expect(residentIdProblem("11010519491231002XX", TODAY)).toBe("must be 18 characters, got 19");
    expect(residentIdProblem("", TODAY)).toBe("must be 18 characters, got 0");
  });

  it("rejects a non-digit among the first 17 and says where", () => {
    expect(residentIdProblem("1101051949123A002X", TODAY)).toBe(
      "characters 1-17 must be digits, found a non-digit at position 14",
    );
  });

  it("rejects 30 February even with a matching check character", () => {
    expect(residentIdProblem(withCheck("11010519900230123"), TODAY)).toBe("birth date 19900230 is not a real date");
  });

  it("knows leap years: 2000-02-29 is real, 1900-02-29 is not", () => {
    expect(residentIdProblem(withCheck("44030420000229001"), TODAY)).toBeUndefined();
    expect(residentIdProblem(withCheck("11010519000229001"), TODAY)).toBe("birth date 19000229 is not a real date");
  });

  it("rejects a month 13 and a day 00", () => {
    expect(residentIdProblem(withCheck("11010519901301123"), TODAY)).toBe("birth date 19901301 is not a real date");
    expect(residentIdProblem(withCheck("11010519900100123"), TODAY)).toBe("birth date 19900100 is not a real date");
  });

  it("rejects a region that is not a province-level code", () => {
    for (const code of ["00", "10", "16", "20", "24", "30", "38", "47", "55", "60", "66", "70", "72", "80", "83", "99"]) {
      expect(residentIdProblem(withCheck(`${code}010519800101123`), TODAY)).toBe(
        `region code must start with a province-level code, got ${code}`,
      );
    }
  });

  it("accepts every province-level code", () => {
    for (const code of PROVINCES) expect(residentIdProblem(withCheck(`${code}010519800101123`), TODAY)).toBeUndefined();
  });

  it("rejects birth dates before 1900 and after today, accepts 1900-01-01 and today", () => {
    expect(residentIdProblem(withCheck("11010518991231123"), TODAY)).toBe("birth date 18991231 is before 1900");
    expect(residentIdProblem(withCheck("11010519000101123"), TODAY)).toBeUndefined();
    expect(residentIdProblem(withCheck("11010520260315123"), TODAY)).toBeUndefined();
    expect(residentIdProblem(withCheck("11010520260316123"), TODAY)).toBe("birth date 20260316 is after today (2026-03-15)");
  });

  it("judges 'today' as a UTC calendar date", () => {
    const lateUtc = new Date("2026-03-15T23:59:59Z");
    expect(residentIdProblem(withCheck("11010520260315123"), lateUtc)).toBeUndefined();
    expect(residentIdProblem(withCheck("11010520260316123"), lateUtc)).toMatch(/after today/);
  });

  const validFirst17 = fc
    .record({
      province: fc.constantFrom(...PROVINCES),
      region: fc.integer({ min: 0, max: 9999 }),
      birth: fc.integer({ min: daysFromCivil(1900, 1, 1), max: daysFromCivil(2026, 3, 15) }),
      sequence: fc.integer({ min: 0, max: 999 }),
    })
    .map(
      ({ province, region, birth, sequence }) =>
        `${province}${String(region).padStart(4, "0")}${fromDay(birth).replaceAll("-", "")}${String(sequence).padStart(3, "0")}`,
    );

  it("accepts every generated valid ID", () => {
    fc.assert(
      fc.property(validFirst17, (first17) => {
        expect(residentIdProblem(withCheck(first17), TODAY)).toBeUndefined();
      }),
    );
  });

  it("rejects any single-digit change in the first 17 that keeps the check character", () => {
    fc.assert(
      fc.property(validFirst17, fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 9 }), (first17, pos, delta) => {
        const check = residentIdCheckChar(first17);
        const changed = String((Number(first17[pos]) + delta) % 10);
        const tampered = first17.slice(0, pos) + changed + first17.slice(pos + 1) + check;
        expect(residentIdProblem(tampered, TODAY)).toBeTypeOf("string");
      }),
    );
  });

  it("rejects any other check character", () => {
    fc.assert(
      fc.property(validFirst17, fc.constantFrom(..."0123456789X"), (first17, other) => {
        fc.pre(other !== residentIdCheckChar(first17));
        expect(residentIdProblem(first17 + other, TODAY)).toMatch(/^check character is /);
      }),
    );
  });
});
