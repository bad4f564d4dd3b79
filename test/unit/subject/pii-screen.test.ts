import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCreditMeshError } from "../../../src/errors.js";
import { piiIn, screenFreeText } from "../../../src/subject/pii-screen.js";
import { residentIdCheckChar } from "../../../src/subject/resident-id.js";

const TODAY = new Date("2026-03-15T12:00:00Z");
const at = { today: TODAY };
const ID = "110105199203154215";
const PROVINCES = ["11", "31", "44", "51", "65", "81"];

const withCheck = (first17: string) => first17 + residentIdCheckChar(first17);
const toFullWidth = (s: string) => s.replace(/[0-9X]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

/** Valid resident IDs: a province, a real birth date before TODAY, any sequence. */
const residentIds = fc
  .record({
    province: fc.constantFrom(...PROVINCES),
    rest: fc.integer({ min: 0, max: 9999 }),
    day: fc.date({ min: new Date("1930-01-01T00:00:00Z"), max: new Date("2020-12-31T00:00:00Z"), noInvalidDate: true }),
    seq: fc.integer({ min: 0, max: 999 }),
  })
  .map(({ province, rest, day, seq }) =>
    withCheck(`${province}${String(rest).padStart(4, "0")}${day.toISOString().slice(0, 10).replace(/-/g, "")}${String(seq).padStart(3, "0")}`),
  );
const mobiles = fc.tuple(fc.integer({ min: 3, max: 9 }), fc.integer({ min: 0, max: 999_999_999 })).map(([d, n]) => `1${d}${String(n).padStart(9, "0")}`);
/** Text with no digits at all: it can carry neither kind of number. */
const wordsOnly = fc.string({ unit: fc.constantFrom(..."还款已按时到账银行回单附后 paid on time, see receipt：，。()".split("")), maxLength: 40 });

describe("piiIn", () => {
  it("finds a resident ID inside Chinese text, split by spaces or dashes, in full width, with a lowercase x", () => {
    expect(piiIn(`本人，身份证${ID}，请核实`, at)).toBe("resident ID number");
    expect(piiIn("id 1101 0519 9203 1542 15 attached", at)).toBe("resident ID number");
    expect(piiIn("110105-19920315-4215", at)).toBe("resident ID number");
    expect(piiIn(toFullWidth(ID), at)).toBe("resident ID number");
    const x = withCheck("11010519491231002");
    expect(x.endsWith("X")).toBe(true);
    expect(piiIn(`ref ${x.toLowerCase()}`, at)).toBe("resident ID number");
  });

  it("ignores 18 digits that are not a valid ID (check character, birth date, province)", () => {
    expect(piiIn("110105199203154216", at)).toBeUndefined();
    expect(piiIn(withCheck("11010519921315421"), at)).toBeUndefined();
    expect(piiIn(withCheck("99010519920315421"), at)).toBeUndefined();
    expect(piiIn(withCheck("11010520300315421"), at)).toBeUndefined();
  });

  it("finds mainland mobile numbers, with +86 or separators, but not inside longer digit runs", () => {
    expect(piiIn("手机13800138000", at)).toBe("mobile number");
    expect(piiIn("+86 138-0013-8000", at)).toBe("mobile number");
    expect(piiIn("0086 13800138000", at)).toBe("mobile number");
    expect(piiIn("order 913800138000123", at)).toBeUndefined();
    expect(piiIn("12800138000", at)).toBeUndefined();
    expect(piiIn("auth-2026-0001", at)).toBeUndefined();
    expect(piiIn("sha256:9f2c1e0a7b", at)).toBeUndefined();
  });

  it("finds the subject's name, ignoring case, spaces and width; short or absent names are not searched", () => {
    expect(piiIn("本人陈思远对此有异议", { ...at, names: ["陈思远"] })).toBe("the subject's name");
    expect(piiIn("evidence-zhangwei-2026", { ...at, names: ["Zhang Wei"] })).toBe("the subject's name");
    expect(piiIn("本人对此有异议", { ...at, names: ["陈思远"] })).toBeUndefined();
    expect(piiIn("本人对此有异议", { ...at, names: ["人", undefined, ""] })).toBeUndefined();
  });

  it("property: any valid ID or mobile number inside any digit-free text is found", () => {
    fc.assert(
      fc.property(wordsOnly, fc.oneof(residentIds, mobiles), wordsOnly, (before, number, after) => {
        expect(piiIn(before + number + after, at)).toBeDefined();
      }),
      { numRuns: 500 },
    );
  });

  it("property: text without digits and without the subject's name passes", () => {
    fc.assert(
      fc.property(wordsOnly, (text) => {
        expect(piiIn(text, { ...at, names: ["欧阳娜娜"] })).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it("property: hashes and UUIDs, however their hex digits fall, are not taken for numbers", () => {
    const hex = fc.string({ unit: fc.constantFrom(..."0123456789abcdef".split("")), minLength: 64, maxLength: 64 });
    fc.assert(
      fc.property(fc.oneof(hex.map((h) => `sha256:${h}`), hex, fc.uuid().map((u) => `consent-${u}`)), (ref) => {
        fc.pre(/[a-f]/.test(ref.replace(/^sha256:|^consent-/, "")));
        expect(piiIn(ref, at)).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
    // A digest made only of digits is not a hex token: an ID number hidden that way is still found.
    expect(piiIn(`sha256:${ID}`, at)).toBe("resident ID number");
  });

  it("property: never throws on arbitrary text", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), fc.string(), (text, name) => void piiIn(text, { names: [name] })), { numRuns: 500 });
  });
});

describe("screenFreeText", () => {
  it("refuses with a field error that names the kind and never repeats the value", () => {
    fc.assert(
      fc.property(fc.oneof(residentIds, mobiles), (number) => {
        let err: unknown;
        try {
          screenFreeText(`see ${number}`, "dispute.reason", at);
        } catch (e) {
          err = e;
        }
        expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
        expect((err as { field: string }).field).toBe("dispute.reason");
        expect((err as Error).message).not.toContain(number);
      }),
      { numRuns: 200 },
    );
    expect(() => screenFreeText("paid on time", "reason", at)).not.toThrow();
  });
});
