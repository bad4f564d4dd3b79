import { describe, expect, it } from "vitest";
import { AccountStatus, ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import {
  accountExpired,
  applyRetention,
  chargeOffDate,
  delinquencies,
  negativeRetainedUntil,
  reportableTradeline,
} from "../../../src/records/retention.js";
import { deriveTradeline, type AccountFacts, type RepaymentFacts } from "../../../src/records/tradeline.js";

/** A 20-year mortgage opened in 2018, so that it is still open years after an early delinquency. */
const MORTGAGE: AccountFacts = {
  productType: ProductType.MORTGAGE,
  openedOn: "2018-01-10",
  closedOn: "",
  creditLimit: 240_000_00,
  termMonths: 240,
  currency: "CNY",
  chargedOff: false,
};

/** Monthly installments due on the 10th from 2018-02 for `months` months, paid on time unless overridden. */
function schedule(months: number, overrides: Record<number, Partial<RepaymentFacts>> = {}): RepaymentFacts[] {
  const out: RepaymentFacts[] = [];
  for (let i = 1; i <= months; i++) {
    const month = 1 + i; // Feb 2018 is month 2
    const year = 2018 + Math.floor((month - 1) / 12);
    const dueOn = `${year}-${String(((month - 1) % 12) + 1).padStart(2, "0")}-10`;
    out.push({ installment: i, dueOn, amountDue: 1_000_00, paidOn: dueOn, amountPaid: 1_000_00, balanceAfter: (240 - i) * 1_000_00, ...overrides[i] });
  }
  return out;
}

function report(account: AccountFacts, repayments: RepaymentFacts[], asOf: string) {
  return reportableTradeline({ institutionId: "inst-a", accountRef: "ref-1", account, repayments, asOf });
}

function derived(account: AccountFacts, repayments: RepaymentFacts[], asOf: string) {
  return deriveTradeline({ institutionId: "inst-a", accountRef: "ref-1", account, repayments, asOf });
}

/** Installment 3 (due 2018-04-10) paid 95 days late, on 2018-07-14: a 90-day delinquency cured that day. */
const LATE_IN_2018 = { 3: { paidOn: "2018-07-14" } };

describe("retention of negative information (5 years after the delinquency ended)", () => {
  it("what ended on a day is reported until the same calendar day 5 years later", () => {
    expect(negativeRetainedUntil("2020-06-01")).toBe("2025-06-01");
    expect(negativeRetainedUntil("2019-02-28")).toBe("2024-02-28");
    expect(negativeRetainedUntil("2020-02-29")).toBe("2025-02-28");
  });

  it("a delinquency that ended on Feb 28 is gone on Feb 29 five years later (a leap day has no day 5 years before it)", () => {
    // Installment 3 (due 2018-04-10) cured on 2019-02-28; 2024 is a leap year.
    const reps = schedule(90, { 3: { paidOn: "2019-02-28" } });
    expect(report(MORTGAGE, reps, "2024-02-28")?.maxDaysPastDue).toBeGreaterThan(0);
    expect(report(MORTGAGE, reps, "2024-02-29")?.maxDaysPastDue).toBe(0);
  });

  it("keeps a cured delinquency exactly 5 years after it ended, and drops it the day after", () => {
    const reps = schedule(90, LATE_IN_2018);
    const atFive = report(MORTGAGE, reps, "2023-07-14");
    expect(atFive?.maxDaysPastDue).toBe(95);
    expect(atFive?.firstDelinquencyOn).toBe("2018-05-10");
    expect(atFive).toEqual(derived(MORTGAGE, reps, "2023-07-14"));

    const after = report(MORTGAGE, reps, "2023-07-15");
    expect(after).toBeDefined();
    expect(after!.maxDaysPastDue).toBe(0);
    expect(after!.firstDelinquencyOn).toBe("");
  });

  it("a 6-year-old ended delinquency is absent, while the open account is still reported with its balance", () => {
    const reps = schedule(90, LATE_IN_2018);
    const asOf = "2024-07-20";
    const before = derived(MORTGAGE, reps, asOf);
    const t = report(MORTGAGE, reps, asOf)!;
    expect(before.maxDaysPastDue).toBe(95);
    expect(t).toEqual({ ...before, maxDaysPastDue: 0, firstDelinquencyOn: "" });
    expect(t.status).toBe(AccountStatus.CURRENT);
    expect(t.balance).toBe(before.balance);
    expect(t.paymentHistory).toMatch(/^[0BDE]{24}$/);
  });

  it("keeps a recent delinquency while dropping an expired one on the same account", () => {
    // Installment 70 (due 2023-11-10) paid on 2024-01-20: 71 days late.
    const reps = schedule(80, { ...LATE_IN_2018, 70: { paidOn: "2024-01-20" } });
    const t = report(MORTGAGE, reps, "2024-09-01")!;
    expect(t.maxDaysPastDue).toBe(71);
    expect(t.firstDelinquencyOn).toBe("2023-12-10");
    expect(derived(MORTGAGE, reps, "2024-09-01").firstDelinquencyOn).toBe("2018-05-10");
  });

  it("omits a paid-off account whose only delinquency expired", () => {
    const loan: AccountFacts = { ...MORTGAGE, productType: ProductType.INSTALLMENT_LOAN, creditLimit: 300_00, termMonths: 3 };
    const reps: RepaymentFacts[] = [
      { installment: 1, dueOn: "2018-02-10", amountDue: 100_00, paidOn: "2018-02-10", amountPaid: 100_00, balanceAfter: 200_00 },
      { installment: 2, dueOn: "2018-03-10", amountDue: 100_00, paidOn: "2018-06-20", amountPaid: 100_00, balanceAfter: 100_00 },
      { installment: 3, dueOn: "2018-04-10", amountDue: 100_00, paidOn: "2018-06-20", amountPaid: 100_00, balanceAfter: 0 },
    ];
    expect(derived(loan, reps, "2024-01-01").status).toBe(AccountStatus.PAID);
    expect(report(loan, reps, "2023-06-20")?.maxDaysPastDue).toBe(102);
    expect(report(loan, reps, "2023-06-21")).toBeUndefined();
  });

  it("a clean closed account is reported whatever its age (positive information has no 5-year limit)", () => {
    const card: AccountFacts = { ...MORTGAGE, productType: ProductType.CREDIT_CARD, termMonths: 0, closedOn: "2018-06-30" };
    const reps = schedule(4).map((r) => ({ ...r, balanceAfter: 0 }));
    const t = report(card, reps, "2026-01-01");
    expect(t).toEqual(derived(card, reps, "2026-01-01"));
    expect(t?.status).toBe(AccountStatus.CLOSED);
  });

  it("a delinquency still unpaid on an open account never expires", () => {
    const reps = schedule(3, { 3: { paidOn: "", amountPaid: 0 } });
    const t = report(MORTGAGE, reps, "2026-01-01")!;
    expect(t.status).toBe(AccountStatus.PAST_DUE_180_PLUS);
    expect(t.firstDelinquencyOn).toBe("2018-05-10");
    expect(t).toEqual(derived(MORTGAGE, reps, "2026-01-01"));
  });

  it("closing the account ends an unpaid delinquency; 5 years after the closing the account is omitted", () => {
    const closed = { ...MORTGAGE, closedOn: "2019-03-31" };
    const reps = schedule(3, { 3: { paidOn: "", amountPaid: 0 } });
    expect(delinquencies(closed, reps, "2026-01-01")).toEqual([{ delinquentOn: "2018-05-10", daysPastDue: expect.any(Number), endedOn: "2019-03-31" }]);
    expect(report(closed, reps, "2024-03-31")?.status).toBe(AccountStatus.PAST_DUE_180_PLUS);
    expect(report(closed, reps, "2024-04-01")).toBeUndefined();
  });

  it("omits a charged-off account once the charge-off is more than 5 years old", () => {
    const chargedOff = { ...MORTGAGE, chargedOff: true, closedOn: "2019-01-15" };
    const reps = schedule(3, { 2: { paidOn: "", amountPaid: 0 }, 3: { paidOn: "", amountPaid: 0 } });
    expect(chargeOffDate(chargedOff, reps, "2026-01-01")).toBe("2019-01-15");
    expect(report(chargedOff, reps, "2024-01-15")?.status).toBe(AccountStatus.CHARGED_OFF);
    expect(report(chargedOff, reps, "2024-01-16")).toBeUndefined();
  });

  it("dates a charge-off without closed_on by the last due date furnished", () => {
    const chargedOff = { ...MORTGAGE, chargedOff: true };
    const reps = schedule(3, { 3: { paidOn: "", amountPaid: 0 } });
    expect(chargeOffDate(chargedOff, reps, "2026-01-01")).toBe("2018-04-10");
    expect(chargeOffDate(chargedOff, [], "2026-01-01")).toBe("2018-01-10");
    expect(report(chargedOff, reps, "2023-04-10")).toBeDefined();
    expect(report(chargedOff, reps, "2023-04-11")).toBeUndefined();
  });

  it("returns the derived tradeline itself when nothing has expired", () => {
    const reps = schedule(12, LATE_IN_2018);
    const input = { institutionId: "inst-a", accountRef: "ref-1", account: MORTGAGE, repayments: reps, asOf: "2019-01-31" };
    const t = deriveTradeline(input);
    expect(applyRetention(input, t)).toBe(t);
  });
});

describe("accountExpired (the scheduled purge's rule)", () => {
  const closedLoan: AccountFacts = { ...MORTGAGE, productType: ProductType.CASH_LOAN, termMonths: 1, creditLimit: 500_00, closedOn: "2018-03-01" };
  const paid: RepaymentFacts[] = [{ installment: 1, dueOn: "2018-02-10", amountDue: 500_00, paidOn: "2018-02-12", amountPaid: 500_00, balanceAfter: 0 }];

  it("purges a closed account 7 years after its last activity, not a day earlier", () => {
    expect(accountExpired(closedLoan, paid, "2025-03-01", 7)).toBe(false);
    expect(accountExpired(closedLoan, paid, "2025-03-02", 7)).toBe(true);
  });

  it("counts the latest payment as activity", () => {
    const latePayment = [{ ...paid[0], paidOn: "2020-06-01" }];
    expect(accountExpired(closedLoan, latePayment, "2026-01-01", 7)).toBe(false);
    expect(accountExpired(closedLoan, latePayment, "2027-06-02", 7)).toBe(true);
  });

  it("purges a paid-off loan that was never closed, and a charged-off one", () => {
    const open = { ...closedLoan, closedOn: "" };
    expect(accountExpired(open, paid, "2026-01-01", 7)).toBe(true);
    expect(accountExpired({ ...open, chargedOff: true }, [{ ...paid[0], paidOn: "", amountPaid: 0 }], "2026-01-01", 7)).toBe(true);
  });

  it("keeps an open account with an unpaid installment however old", () => {
    const open = { ...closedLoan, closedOn: "" };
    expect(accountExpired(open, [{ ...paid[0], paidOn: "", amountPaid: 0 }], "2040-01-01", 7)).toBe(false);
  });

  it("keeps an open revolving line that is merely dormant", () => {
    const card: AccountFacts = { ...MORTGAGE, productType: ProductType.CREDIT_CARD, termMonths: 0 };
    expect(accountExpired(card, [], "2040-01-01", 7)).toBe(false);
  });
});
