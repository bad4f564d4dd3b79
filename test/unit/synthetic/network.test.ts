import { describe, expect, it } from "vitest";
import { IdType, ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import type { AccountRecord, RepaymentRecord } from "../../../src/gen/creditmesh/v1/records.js";
import { diffDays } from "../../../src/records/dates.js";
import { deriveTradeline, isDelinquent } from "../../../src/records/tradeline.js";
import { checkRepaymentAgainstAccount, recordLimits, validateRecord, type ValidAccount } from "../../../src/records/validate.js";
import { residentIdProblem } from "../../../src/subject/resident-id.js";
import { generateBorrowers, generateNetworkData, institutionRecords, type NetworkData } from "../../../src/synthetic/index.js";

const INSTITUTIONS = ["bank-a", "consumer-finance-b", "ecommerce-c"];
const AS_OF = "2026-03-15";
const data = generateNetworkData(7, { institutions: INSTITUTIONS, borrowers: 600, asOf: AS_OF });

const AMOUNT = /^\d+$/;

function accountsOf(d: NetworkData): { institution: string; account: AccountRecord; repayments: RepaymentRecord[] }[] {
  return Object.entries(d.institutions).flatMap(([institution, inst]) =>
    inst.accounts.map((account) => ({
      institution,
      account,
      repayments: inst.repayments.filter((r) => r.accountId === account.accountId),
    })),
  );
}
const accounts = accountsOf(data);

function tradeline(institution: string, account: AccountRecord, repayments: RepaymentRecord[]) {
  return deriveTradeline({
    institutionId: institution,
    accountRef: account.accountId,
    account: { ...account, creditLimit: Number(account.creditLimit) },
    repayments: repayments.map((r) => ({
      ...r,
      amountDue: Number(r.amountDue),
      amountPaid: Number(r.amountPaid),
      balanceAfter: Number(r.balanceAfter),
    })),
    asOf: AS_OF,
  });
}

describe("generateBorrowers", () => {
  it("is reproducible from its seed, differs across seeds, and a longer list extends a shorter one", () => {
    expect(generateBorrowers(7, 50)).toEqual(generateBorrowers(7, 50));
    expect(generateBorrowers(8, 50)).not.toEqual(generateBorrowers(7, 50));
    expect(generateBorrowers(7, 80).slice(0, 50)).toEqual(generateBorrowers(7, 50));
  });

  it("gives distinct, valid identities", () => {
    const borrowers = generateBorrowers(1, 3_000);
    expect(new Set(borrowers.map((b) => b.idNumber)).size).toBe(3_000);
    for (const b of borrowers) {
      expect(residentIdProblem(b.idNumber)).toBeUndefined();
      expect(b.name).toMatch(/^\p{Script=Han}{2,3}$/u);
      expect(b.phone).toMatch(/^1[3-9]\d{9}$/);
    }
  });
});

describe("generateNetworkData", () => {
  it("is reproducible from its seed and differs across seeds", () => {
    const opts = { institutions: INSTITUTIONS, borrowers: 60, asOf: AS_OF };
    expect(generateNetworkData(7, opts)).toEqual(generateNetworkData(7, opts));
    expect(generateNetworkData(8, opts)).not.toEqual(generateNetworkData(7, opts));
  });

  it("uses the same borrowers as generateBorrowers with that seed", () => {
    expect(data.borrowers.map(({ profile: _, ...b }) => b)).toEqual(generateBorrowers(7, 600));
  });

  it("every record passes the node's validation, in the order institutionRecords gives", () => {
    for (const inst of Object.values(data.institutions)) {
      const known = new Map<string, ValidAccount>();
      for (const record of institutionRecords(inst)) {
        const v = validateRecord(record, recordLimits(new Date(`${AS_OF}T12:00:00Z`)));
        if (v.kind === "account") known.set(v.account.accountId, v.account);
        else if (v.kind === "repayment") checkRepaymentAgainstAccount(v.repayment, known.get(v.repayment.accountId)!);
        else throw new Error("the generator furnishes no deletions");
      }
    }
  });

  it("repayments reference the institution's own accounts; keys are unique", () => {
    for (const inst of Object.values(data.institutions)) {
      const ids = inst.accounts.map((a) => a.accountId);
      expect(new Set(ids).size).toBe(ids.length);
      const idSet = new Set(ids);
      const keys = new Set<string>();
      for (const r of inst.repayments) {
        expect(idSet.has(r.accountId), r.accountId).toBe(true);
        keys.add(`${r.accountId}#${r.installment}`);
      }
      expect(keys.size).toBe(inst.repayments.length);
    }
  });

  it("amounts are non-negative integers and nothing is dated after asOf", () => {
    const bad: unknown[] = [];
    for (const { account, repayments } of accounts) {
      const accountOk =
        AMOUNT.test(account.creditLimit) &&
        account.openedOn <= AS_OF &&
        (account.closedOn === "" || (account.closedOn >= account.openedOn && account.closedOn <= AS_OF));
      if (!accountOk) bad.push(account);
      for (const r of repayments) {
        const ok =
          [r.amountDue, r.amountPaid, r.balanceAfter].every((a) => AMOUNT.test(a)) &&
          r.dueOn <= AS_OF &&
          r.dueOn > account.openedOn &&
          (r.paidOn === "" || (r.paidOn <= AS_OF && r.paidOn >= account.openedOn));
        if (!ok) bad.push(r);
      }
    }
    expect(bad).toEqual([]);
    expect(accounts.length).toBeGreaterThan(600);
  });

  it("has the field's product shapes", () => {
    const byType = new Map<ProductType, AccountRecord[]>();
    for (const { account } of accounts) byType.set(account.productType, [...(byType.get(account.productType) ?? []), account]);
    expect([...byType.keys()].sort()).toEqual([ProductType.INSTALLMENT_LOAN, ProductType.REVOLVING_LINE, ProductType.CASH_LOAN].sort());
    for (const a of byType.get(ProductType.INSTALLMENT_LOAN)!) {
      expect(Number(a.creditLimit)).toBeGreaterThanOrEqual(500_00);
      expect(Number(a.creditLimit)).toBeLessThanOrEqual(3_000_00);
      expect(a.termMonths).toBeGreaterThanOrEqual(1);
      expect(a.termMonths).toBeLessThanOrEqual(3);
    }
    for (const a of byType.get(ProductType.CASH_LOAN)!) {
      expect(a.termMonths).toBeGreaterThanOrEqual(1);
      expect(a.termMonths).toBeLessThanOrEqual(12);
    }
    for (const a of byType.get(ProductType.REVOLVING_LINE)!) {
      expect(a.termMonths).toBe(0);
      expect(Number(a.creditLimit)).toBeGreaterThanOrEqual(2_000_00);
      expect(Number(a.creditLimit)).toBeLessThanOrEqual(20_000_00);
    }
    for (const { account } of accounts) expect(account.subject?.idType).toBe(IdType.CN_RESIDENT_ID);
  });

  it("most borrowers are clean, some multi-lend, some are delinquent — and their tradelines show it", () => {
    const profile = new Map(data.borrowers.map((b) => [b.idNumber, b.profile]));
    const counts = { clean: 0, multi_lending: 0, delinquent: 0 };
    for (const b of data.borrowers) counts[b.profile]++;
    expect(counts.clean / data.borrowers.length).toBeGreaterThan(0.6);
    expect(counts.multi_lending).toBeGreaterThan(20);
    expect(counts.delinquent).toBeGreaterThan(20);
    expect(data.borrowers[0].profile).toBe("multi_lending");
    expect(data.borrowers[1].profile).toBe("delinquent");

    const delinquentBorrowers = new Set<string>();
    const recentInstitutions = new Map<string, Set<string>>();
    for (const { institution, account, repayments } of accounts) {
      const id = account.subject!.idNumber;
      const t = tradeline(institution, account, repayments);
      if (isDelinquent(t.status) || t.maxDaysPastDue >= 30) delinquentBorrowers.add(id);
      if (diffDays(AS_OF, account.openedOn) < 90) {
        recentInstitutions.set(id, (recentInstitutions.get(id) ?? new Set()).add(institution));
      }
    }
    for (const b of data.borrowers) {
      if (b.profile === "clean") expect(delinquentBorrowers.has(b.idNumber), b.idNumber).toBe(false);
      if (b.profile === "delinquent") expect(delinquentBorrowers.has(b.idNumber), b.idNumber).toBe(true);
      if (b.profile === "multi_lending") expect(recentInstitutions.get(b.idNumber)?.size).toBe(INSTITUTIONS.length);
    }
    // The delinquent accounts span the 30–120+ day buckets, with some written off.
    const statuses = new Set(accounts.map((a) => tradeline(a.institution, a.account, a.repayments).status));
    expect(statuses.size).toBeGreaterThanOrEqual(6);
    expect(accounts.some((a) => a.account.chargedOff)).toBe(true);
    expect(profile.size).toBe(600);
  });

  it("gives even a two-borrower network one multi-lender and one delinquent", () => {
    const small = generateNetworkData(1, { institutions: ["a", "b"], borrowers: 2, asOf: AS_OF });
    expect(small.borrowers.map((b) => b.profile)).toEqual(["multi_lending", "delinquent"]);
    expect(small.institutions.a.accounts.length).toBeGreaterThan(0);
    expect(small.institutions.b.accounts.length).toBeGreaterThan(0);
  });

  it("refuses a bad asOf, no institutions or duplicate institutions", () => {
    expect(() => generateNetworkData(1, { institutions: ["a"], borrowers: 1, asOf: "2026-02-30" })).toThrow(RangeError);
    expect(() => generateNetworkData(1, { institutions: [], borrowers: 1, asOf: AS_OF })).toThrow(RangeError);
    expect(() => generateNetworkData(1, { institutions: ["a", "a"], borrowers: 1, asOf: AS_OF })).toThrow(RangeError);
  });
});
