import { describe, expect, it } from "vitest";
import type { Record as WireRecord } from "../../../src/gen/creditmesh/v1/records.js";
import { validateRecord } from "../../../src/records/validate.js";
import { portfolioFiller } from "../../../src/synthetic/index.js";

describe("portfolioFiller", () => {
  it("yields exactly `count` valid records, a tenth accounts and the rest their repayments, in batches of at most `batch`", () => {
    const batches = [...portfolioFiller("m1", 1_005, 64)];
    expect(batches.slice(0, -1).every((b) => b.length === 64)).toBe(true);
    expect(batches.at(-1)!.length).toBeGreaterThan(0);
    const records: WireRecord[] = batches.flat();
    expect(records).toHaveLength(1_005);
    const accounts = new Set<string>();
    const subjects = new Set<string>();
    const installments = new Map<string, number[]>();
    for (const r of records) {
      validateRecord(r);
      if (r.kind?.$case === "account") {
        accounts.add(r.kind.value.accountId);
        subjects.add(r.kind.value.subject!.idNumber);
      } else if (r.kind?.$case === "repayment") {
        // Every repayment names an account yielded before it.
        expect(accounts.has(r.kind.value.accountId)).toBe(true);
        installments.set(r.kind.value.accountId, [...(installments.get(r.kind.value.accountId) ?? []), r.kind.value.installment]);
      } else throw new Error(`unexpected record ${JSON.stringify(r)}`);
    }
    expect(accounts.size).toBe(101);
    expect(subjects.size).toBe(101);
    for (const list of installments.values()) expect(list).toEqual(Array.from({ length: list.length }, (_, i) => i + 1));
    expect(Math.max(...[...installments.values()].map((l) => l.length))).toBe(9);
  });

  it("is reproducible per seed, and differs between seeds", () => {
    const first = [...portfolioFiller("m1", 300)].flat();
    expect([...portfolioFiller("m1", 300)].flat()).toEqual(first);
    const other = [...portfolioFiller("m2", 300)].flat();
    expect(other).toHaveLength(300);
    expect(other).not.toEqual(first);
  });

  it("yields nothing for 0 and refuses a bad count or batch", () => {
    expect([...portfolioFiller("m1", 0)]).toEqual([]);
    expect(() => [...portfolioFiller("m1", -1)]).toThrow(/count must be/);
    expect(() => [...portfolioFiller("m1", 1.5)]).toThrow(/count must be/);
    expect(() => [...portfolioFiller("m1", 10, 0)]).toThrow(/batch must be/);
  });
});
