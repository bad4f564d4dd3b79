import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IdType, type SubjectId } from "../../../src/gen/creditmesh/v1/common.js";
import { normalizeSubject } from "../../../src/subject/normalize.js";
import { residentIdCheckChar } from "../../../src/subject/resident-id.js";
import { expectInvalid } from "../records/expect-invalid.js";

function subject(overrides: Partial<SubjectId> = {}): SubjectId {
  return { idType: IdType.CN_RESIDENT_ID, idNumber: "11010519491231002X", name: "张三", phone: "", ...overrides };
}

describe("normalizeSubject", () => {
  it("returns the canonical form of a resident ID subject", () => {
    expect(normalizeSubject(subject({ idNumber: "  11010519491231002x ", name: "  张三 " }))).toEqual({
      idType: IdType.CN_RESIDENT_ID,
      idTypeName: "CN_RESIDENT_ID",
      normalizedId: "11010519491231002X",
      name: "张三",
      phone: "",
    });
  });

  it("requires a subject", () => {
    expect(expectInvalid(() => normalizeSubject(undefined), "subject").message).toBe("subject: required");
    expectInvalid(() => normalizeSubject(undefined, "account.subject"), "account.subject");
  });

  it("requires a known, non-zero id_type", () => {
    expectInvalid(() => normalizeSubject(subject({ idType: IdType.ID_TYPE_UNSPECIFIED })), "subject.id_type");
    expectInvalid(() => normalizeSubject(subject({ idType: IdType.UNRECOGNIZED })), "subject.id_type");
    const err = expectInvalid(() => normalizeSubject(subject({ idType: 9 as IdType })), "subject.id_type");
    expect(err.message).toContain("got 9");
  });

  it("reports resident ID problems on id_number, under the given field", () => {
    const err = expectInvalid(
      () => normalizeSubject(subject({ idNumber: "110105194912310021" }), "account.subject"),
      "account.subject.id_number",
    );
    expect(err.message).toContain("check character is 1, expected X");
    expectInvalid(() => normalizeSubject(subject({ idNumber: "1101051949123100" })), "subject.id_number");
    expectInvalid(() => normalizeSubject(subject({ idNumber: "   " })), "subject.id_number");
  });

  it("gives a 15-digit first-generation resident ID the 18-digit form that replaced it", () => {
    // 110105 + 920315 + 421 → 110105 19 920315 421 + check character.
    expect(normalizeSubject(subject({ idNumber: "110105920315421" })).normalizedId).toBe("110105199203154215");
    expect(normalizeSubject(subject({ idNumber: "１１０１０５ ９２０３１５ ４２１" })).normalizedId).toBe("110105199203154215");
    // Its birth date is still checked, in the 18-digit form.
    const err = expectInvalid(() => normalizeSubject(subject({ idNumber: "110105921315421" })), "subject.id_number");
    expect(err.message).toBe("subject.id_number: a 15-digit (first-generation) number whose 18-digit form fails: birth date 19921315 is not a real date");
    // Only exactly 15 digits: 16 or 17 are still refused by length.
    expect(expectInvalid(() => normalizeSubject(subject({ idNumber: "1101059203154215" })), "subject.id_number").message).toContain("must be 18 characters, got 16");
  });

  it("says what a spreadsheet did to a resident ID, without repeating its digits", () => {
    const message = (idNumber: string) => expectInvalid(() => normalizeSubject(subject({ idNumber })), "subject.id_number").message;
    expect(message("1.10105E+17")).toBe("subject.id_number: is in scientific notation, so a spreadsheet has rounded away its last digits: export the column as text");
    expect(message("1.10105199203154e17")).toContain("scientific notation");
    expect(message("'110105199203154215")).toBe("subject.id_number: starts with an apostrophe, a spreadsheet's mark for text: export the column without it");
    expect(message("110105199203154215\u200b")).toBe("subject.id_number: contains an invisible character (U+200B) at position 19");
    expect(message("110\u2060105199203154215")).toContain("(U+2060) at position 4");
    for (const m of [message("1.10105E+17"), message("'110105199203154215"), message("110105199203154215\u200b")]) expect(m).not.toMatch(/1101/);
  });

  it("normalizes passports: uppercase, spaces removed, 5 to 20 letters or digits", () => {
    const s = normalizeSubject(subject({ idType: IdType.PASSPORT, idNumber: " e123 456 78 " }));
    expect(s.normalizedId).toBe("E12345678");
    expect(s.idTypeName).toBe("PASSPORT");
    expect(normalizeSubject(subject({ idType: IdType.PASSPORT, idNumber: "ab123" })).normalizedId).toBe("AB123");
    expect(normalizeSubject(subject({ idType: IdType.PASSPORT, idNumber: "A".repeat(20) })).normalizedId).toBe("A".repeat(20));
    for (const bad of ["A123", "A".repeat(21), "E1234-5678", "É12345678"]) {
      expectInvalid(() => normalizeSubject(subject({ idType: IdType.PASSPORT, idNumber: bad })), "subject.id_number");
    }
  });

  it("normalizes unified phone IDs to 11 mobile digits", () => {
    for (const raw of ["13812345678", "+86 138-1234-5678", "0086 13812345678", "138 1234 5678", "+8613812345678"]) {
      const s = normalizeSubject(subject({ idType: IdType.UNIFIED_PHONE, idNumber: raw }));
      expect(s.normalizedId).toBe("13812345678");
      expect(s.idTypeName).toBe("UNIFIED_PHONE");
    }
    for (const bad of ["12812345678", "1381234567", "138123456789", "8613812345678", "+1 13812345678", "1381234567a"]) {
      expectInvalid(() => normalizeSubject(subject({ idType: IdType.UNIFIED_PHONE, idNumber: bad })), "subject.id_number");
    }
  });

  it("folds full-width digits and letters and drops spaces, as a core system or a Chinese input method exports them", () => {
    const fullWidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
    expect(normalizeSubject(subject({ idNumber: fullWidth("11010519491231002x") })).normalizedId).toBe("11010519491231002X");
    expect(normalizeSubject(subject({ idNumber: "110105 19491231 002X" })).normalizedId).toBe("11010519491231002X");
    expect(normalizeSubject(subject({ idNumber: `${fullWidth("110105")}\u3000${fullWidth("19491231002X")}` })).normalizedId).toBe("11010519491231002X");
    expect(normalizeSubject(subject({ idType: IdType.PASSPORT, idNumber: fullWidth("e12345678") })).normalizedId).toBe("E12345678");
    expect(normalizeSubject(subject({ idType: IdType.UNIFIED_PHONE, idNumber: fullWidth("+86 138-1234-5678") })).normalizedId).toBe("13812345678");
    expect(normalizeSubject(subject({ phone: fullWidth("13812345678") })).phone).toBe("13812345678");
    // Only the full-width block is folded: other digit-like characters are still refused.
    for (const bad of ["①1010519491231002X", "¹1010519491231002X", "١1010519491231002X"]) {
      expectInvalid(() => normalizeSubject(subject({ idNumber: bad })), "subject.id_number");
    }
    expectInvalid(() => normalizeSubject(subject({ idType: IdType.UNIFIED_PHONE, idNumber: "①3812345678" })), "subject.id_number");
  });

  it("gives every spelling of a resident ID (full width, spaces, lowercase x) the canonical form of the plain one", () => {
    const ids = fc
      .tuple(fc.constantFrom("110105", "310104", "440305", "650102"), fc.date({ min: new Date("1930-01-01T00:00:00Z"), max: new Date("2015-12-31T00:00:00Z"), noInvalidDate: true }), fc.integer({ min: 0, max: 999 }))
      .map(([region, day, seq]) => {
        const first17 = `${region}${day.toISOString().slice(0, 10).replace(/-/g, "")}${String(seq).padStart(3, "0")}`;
        return first17 + residentIdCheckChar(first17);
      });
    const spelling = fc.array(fc.record({ wide: fc.boolean(), lower: fc.boolean(), space: fc.constantFrom("", "", " ", "\u3000") }), { minLength: 18, maxLength: 18 });
    fc.assert(
      fc.property(ids, spelling, (id, how) => {
        const spelled = [...id]
          .map((c, i) => {
            const ch = how[i]!.lower ? c.toLowerCase() : c;
            return (how[i]!.wide ? String.fromCharCode(ch.charCodeAt(0) + 0xfee0) : ch) + how[i]!.space;
          })
          .join("");
        expect(normalizeSubject(subject({ idNumber: spelled })).normalizedId).toBe(id);
      }),
      { numRuns: 500 },
    );
  });

  it("requires a name of 1 to 64 characters without control characters", () => {
    expectInvalid(() => normalizeSubject(subject({ name: "" })), "subject.name");
    expectInvalid(() => normalizeSubject(subject({ name: "  \t " })), "subject.name");
    expect(normalizeSubject(subject({ name: "张".repeat(64) })).name).toBe("张".repeat(64));
    const err = expectInvalid(() => normalizeSubject(subject({ name: "张".repeat(65) })), "subject.name");
    expect(err.message).toContain("got 65");
    expectInvalid(() => normalizeSubject(subject({ name: "Zhang\u0000San" })), "subject.name");
    expectInvalid(() => normalizeSubject(subject({ name: "Zhang\nSan" })), "subject.name");
  });

  it("counts a name's length in characters, not UTF-16 units", () => {
    expect(normalizeSubject(subject({ name: "𠀀".repeat(64) })).name).toHaveLength(128);
  });

  it("keeps the phone optional and normalizes it like a unified phone ID", () => {
    expect(normalizeSubject(subject({ phone: "" })).phone).toBe("");
    expect(normalizeSubject(subject({ phone: "  " })).phone).toBe("");
    expect(normalizeSubject(subject({ phone: "+86 139-0000-1111" })).phone).toBe("13900001111");
    expectInvalid(() => normalizeSubject(subject({ phone: "010-12345678" })), "subject.phone");
  });

  it("checks id_number before name, and name before phone", () => {
    expectInvalid(() => normalizeSubject(subject({ idNumber: "x", name: "", phone: "1" })), "subject.id_number");
    expectInvalid(() => normalizeSubject(subject({ name: "", phone: "1" })), "subject.name");
  });
});
