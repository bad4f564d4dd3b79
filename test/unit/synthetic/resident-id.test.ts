import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRng } from "../../../src/synthetic/prng.js";
import { generateResidentId, REGION_CODES } from "../../../src/synthetic/resident-id.js";
import { residentIdProblem } from "../../../src/subject/resident-id.js";

/** ISO 7064 MOD 11-2 written out independently of the code under test. */
function mod11_2(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * (2 ** (17 - i) % 11);
  const c = (12 - (sum % 11)) % 11;
  return c === 10 ? "X" : String(c);
}

function birthDate(id: string): string {
  return `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`;
}

function isRealDate(iso: string): boolean {
  const d = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === iso;
}

describe("generateResidentId", () => {
  it("the independent check agrees with known IDs", () => {
    expect(mod11_2("11010519491231002")).toBe("X");
    expect(mod11_2("44030420000229001")).toBe("4");
  });

  it("makes IDs with a real region, a real birth date in 1960–2004 and a correct check character", () => {
    const rng = createRng(3);
    const regions = new Set(REGION_CODES);
    const bad: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const id = generateResidentId(rng);
      const born = birthDate(id);
      const ok =
        /^\d{17}[\dX]$/.test(id) &&
        id[17] === mod11_2(id.slice(0, 17)) &&
        regions.has(id.slice(0, 6)) &&
        isRealDate(born) &&
        born >= "1960-01-01" &&
        born <= "2004-12-31" &&
        id.slice(14, 17) !== "000";
      if (!ok) bad.push(id);
    }
    expect(bad).toEqual([]);
  });

  it("passes the node's own resident-ID validation for any seed", () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(residentIdProblem(generateResidentId(createRng(seed)))).toBeUndefined();
      }),
    );
  });

  it("honours region, birth range and sex", () => {
    const rng = createRng(4);
    for (let i = 0; i < 2_000; i++) {
      const female = generateResidentId(rng, { region: "440305", bornFrom: "2000-02-28", bornTo: "2000-03-01", sex: "female" });
      expect(female.slice(0, 6)).toBe("440305");
      expect(["2000-02-28", "2000-02-29", "2000-03-01"]).toContain(birthDate(female));
      expect(Number(female.slice(14, 17)) % 2).toBe(0);
      expect(female[17]).toBe(mod11_2(female.slice(0, 17)));
      const male = generateResidentId(rng, { sex: "male" });
      expect(Number(male.slice(14, 17)) % 2).toBe(1);
    }
  });

  it("refuses a malformed region or an empty birth range", () => {
    expect(() => generateResidentId(createRng(1), { region: "4403" })).toThrow(RangeError);
    expect(() => generateResidentId(createRng(1), { bornFrom: "2000-01-02", bornTo: "2000-01-01" })).toThrow(RangeError);
  });
});
