import { describe, expect, it } from "vitest";
import { AccountStatus, DisputeFlag, ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import {
  deriveTradeline,
  isDelinquent,
  worstStatus,
  type AccountFacts,
  type RepaymentFacts,
} from "../../../src/records/tradeline.js";
import { expectInvalid } from "./expect-invalid.js";

const LOAN: AccountFacts = {
  productType: ProductType.INSTALLMENT_LOAN,
  openedOn: "2025-01-10",
  closedOn: "",
  creditLimit: 300000,
  termMonths: 3,
  currency: "CNY",
  chargedOff: false,
};

const CARD: AccountFacts = { ...LOAN, productType: ProductType.CREDIT_CARD, termMonths: 0, creditLimit: 500000 };

/** Three monthly installments of 1000.00 CNY due on the 10th, paid on the due date unless overridden. */
function schedule(overrides: Partial<RepaymentFacts>[] = []): RepaymentFacts[] {
  return ["2025-02-10", "2025-03-10", "2025-04-10"].map((dueOn, i) => ({
    installment: i + 1,
    dueOn,
    amountDue: 100000,
    paidOn: dueOn,
    amountPaid: 100000,
    balanceAfter: 200000 - i * 100000,
    ...overrides[i],
  }));
}

function derive(account: AccountFacts, repayments: RepaymentFacts[], asOf: string) {
  return deriveTradeline({ institutionId: "inst-a", accountRef: "ref-1", account, repayments, asOf });
}

const B18 = "B".repeat(18);

describe("deriveTradeline", () => {
  it("reports a loan repaid on time as PAID, with E after payoff and B before opening", () => {
    const t = derive(LOAN, schedule(), "2025-06-15");
    expect(t).toEqual({
      institutionId: "inst-a",
      accountRef: "ref-1",
      productType: ProductType.INSTALLMENT_LOAN,
      openedOn: "2025-01-10",
      closedOn: "",
      creditLimit: "300000",
      balance: "0",
      amountPastDue: "0",
      status: AccountStatus.PAID,
      paymentHistory: `EEE00D${B18}`,
      maxDaysPastDue: 0,
      firstDelinquencyOn: "",
      lastPaymentOn: "2025-04-10",
      reportedOn: "2025-06-15",
      dispute: DisputeFlag.NONE,
      currency: "CNY",
      termMonths: 3,
    });
  });

  it("ages an unpaid installment month by month", () => {
    const t = derive(LOAN, schedule([{}, { paidOn: "", amountPaid: 0 }]), "2025-06-15");
    // Installment 2, due 03-10: 21 days at 03-31, 51 at 04-30, 82 at 05-31, 97 at 06-15.
    expect(t.paymentHistory).toBe(`32100D${B18}`);
    expect(t.status).toBe(AccountStatus.PAST_DUE_90);
    expect(t.maxDaysPastDue).toBe(97);
    expect(t.firstDelinquencyOn).toBe("2025-04-09");
    expect(t.amountPastDue).toBe("100000");
    expect(t.lastPaymentOn).toBe("2025-04-10");
    expect(isDelinquent(t.status)).toBe(true);
  });

  it("counts a late payment's lateness and shows it only in the months it was outstanding", () => {
    const t = derive(LOAN, schedule([{ paidOn: "2025-04-01" }]), "2025-04-05");
    // Installment 1, due 02-10: 18 days at 02-28, 49 at 03-31, paid 04-01 (50 days late).
    expect(t.paymentHistory).toBe(`010D${"B".repeat(20)}`);
    expect(t.maxDaysPastDue).toBe(50);
    expect(t.firstDelinquencyOn).toBe("2025-03-12");
    expect(t.status).toBe(AccountStatus.CURRENT);
    expect(t.amountPastDue).toBe("0");
  });

  it("treats a payment made after asOf as not made", () => {
    const t = derive(LOAN, schedule([{ paidOn: "2025-07-01" }]), "2025-06-15");
    expect(t.status).toBe(AccountStatus.PAST_DUE_120);
    expect(t.maxDaysPastDue).toBe(125);
    expect(t.amountPastDue).toBe("100000");
    expect(t.lastPaymentOn).toBe("2025-04-10");
  });

  it("ignores installments due after asOf", () => {
    const t = derive(LOAN, schedule([{}, {}, { paidOn: "", amountPaid: 0 }]), "2025-03-20");
    expect(t.balance).toBe("100000");
    expect(t.status).toBe(AccountStatus.CURRENT);
    expect(t.paymentHistory).toBe(`00D${"B".repeat(21)}`);
    expect(t.lastPaymentOn).toBe("2025-03-10");
  });

  it("does not count an installment due on asOf as past due", () => {
    const t = derive(LOAN, schedule([{}, { paidOn: "", amountPaid: 0 }]), "2025-03-10");
    expect(t.amountPastDue).toBe("0");
    expect(t.status).toBe(AccountStatus.CURRENT);
    expect(t.paymentHistory[0]).toBe("0");
  });

  it("keeps the unpaid part of a partial payment past due", () => {
    const t = derive(LOAN, schedule([{ amountPaid: 40000 }]), "2025-03-20");
    expect(t.amountPastDue).toBe("60000");
    expect(t.maxDaysPastDue).toBe(38);
    expect(t.status).toBe(AccountStatus.PAST_DUE_30);
    expect(t.lastPaymentOn).toBe("2025-03-10");
  });

  it("puts the 30/60/…/180 day boundaries where Metro 2 does", () => {
    const unpaid = schedule([{ paidOn: "", amountPaid: 0 }]).slice(0, 1);
    const cases: [number, AccountStatus][] = [
      [29, AccountStatus.CURRENT],
      [30, AccountStatus.PAST_DUE_30],
      [59, AccountStatus.PAST_DUE_30],
      [60, AccountStatus.PAST_DUE_60],
      [90, AccountStatus.PAST_DUE_90],
      [120, AccountStatus.PAST_DUE_120],
      [150, AccountStatus.PAST_DUE_150],
      [179, AccountStatus.PAST_DUE_150],
      [180, AccountStatus.PAST_DUE_180_PLUS],
      [700, AccountStatus.PAST_DUE_180_PLUS],
    ];
    for (const [days, status] of cases) {
      const asOf = new Date(Date.UTC(2025, 1, 10 + days)).toISOString().slice(0, 10);
      const t = derive(LOAN, unpaid, asOf);
      expect(t.status, `${days} days`).toBe(status);
      expect(t.maxDaysPastDue).toBe(days);
    }
  });

  it("reports CHARGED_OFF whatever the installments say", () => {
    expect(derive({ ...LOAN, chargedOff: true }, schedule(), "2025-06-15").status).toBe(AccountStatus.CHARGED_OFF);
  });

  it("reports a term loan closed with zero balance as PAID, before its last installment", () => {
    const early = schedule([{}, { balanceAfter: 0 }]).slice(0, 2);
    expect(derive({ ...LOAN, closedOn: "2025-03-12" }, early, "2025-03-20").status).toBe(AccountStatus.PAID);
    expect(derive(LOAN, early, "2025-03-20").status).toBe(AccountStatus.CURRENT);
  });

  it("does not report a term loan PAID while a balance remains", () => {
    const t = derive(LOAN, schedule([{}, {}, { balanceAfter: 5 }]), "2025-06-15");
    expect(t.status).toBe(AccountStatus.CURRENT);
    expect(t.balance).toBe("5");
    expect(t.paymentHistory.slice(0, 3)).toBe("000");
  });

  it("reports a closed revolving account with zero balance as CLOSED", () => {
    const statements: RepaymentFacts[] = [
      { installment: 1, dueOn: "2025-02-25", amountDue: 30000, paidOn: "2025-02-20", amountPaid: 30000, balanceAfter: 0 },
    ];
    const t = derive({ ...CARD, closedOn: "2025-03-01" }, statements, "2025-05-01");
    expect(t.status).toBe(AccountStatus.CLOSED);
    expect(t.closedOn).toBe("2025-03-01");
    expect(t.paymentHistory.slice(0, 5)).toBe("EEEED");
  });

  it("shows a revolving statement with nothing due and zero balance as E, never as late", () => {
    const statements: RepaymentFacts[] = [
      { installment: 1, dueOn: "2025-02-25", amountDue: 0, paidOn: "", amountPaid: 0, balanceAfter: 0 },
    ];
    const t = derive(CARD, statements, "2025-12-01");
    expect(t.status).toBe(AccountStatus.CURRENT);
    expect(t.maxDaysPastDue).toBe(0);
    expect(t.paymentHistory.slice(0, 13)).toBe("EEEEEEEEEEEDB");
    expect(t.balance).toBe("0");
  });

  it("uses the credit limit as the balance of a term loan with nothing due yet, 0 for revolving", () => {
    const loan = derive(LOAN, schedule(), "2025-01-20");
    expect(loan.balance).toBe("300000");
    expect(loan.paymentHistory).toBe(`D${"B".repeat(23)}`);
    expect(loan.status).toBe(AccountStatus.CURRENT);
    expect(derive(CARD, [], "2025-01-20").balance).toBe("0");
  });

  it("hides a closing dated after asOf", () => {
    const t = derive({ ...LOAN, closedOn: "2025-09-01" }, schedule(), "2025-06-15");
    expect(t.closedOn).toBe("");
  });

  it("takes the last submission of a repeated installment", () => {
    const first = schedule([{ paidOn: "", amountPaid: 0 }])[0];
    const corrected = { ...first, paidOn: "2025-02-10", amountPaid: 100000 };
    expect(derive(LOAN, [first, corrected], "2025-04-01").status).toBe(AccountStatus.CURRENT);
    expect(derive(LOAN, [corrected, first], "2025-04-01").status).toBe(AccountStatus.PAST_DUE_30);
  });

  it("passes the dispute flag through", () => {
    const t = deriveTradeline({
      institutionId: "inst-a",
      accountRef: "ref-1",
      account: LOAN,
      repayments: schedule(),
      asOf: "2025-06-15",
      dispute: DisputeFlag.DISPUTED,
    });
    expect(t.dispute).toBe(DisputeFlag.DISPUTED);
  });

  it("rejects a malformed asOf", () => {
    expectInvalid(() => derive(LOAN, schedule(), "2025-06-31"), "as_of");
    expectInvalid(() => derive(LOAN, schedule(), ""), "as_of");
  });

  it("sums amounts past due exactly beyond 2^53", () => {
    const big = Number.MAX_SAFE_INTEGER;
    const reps = schedule([{ paidOn: "", amountPaid: 0, amountDue: big }, { paidOn: "", amountPaid: 0, amountDue: big }]);
    expect(derive(LOAN, reps, "2025-03-20").amountPastDue).toBe((2n * BigInt(big)).toString());
  });
});

describe("worstStatus / isDelinquent", () => {
  it("orders statuses by severity, PAID and CLOSED with CURRENT", () => {
    const order = [
      AccountStatus.CURRENT,
      AccountStatus.PAST_DUE_30,
      AccountStatus.PAST_DUE_60,
      AccountStatus.PAST_DUE_90,
      AccountStatus.PAST_DUE_120,
      AccountStatus.PAST_DUE_150,
      AccountStatus.PAST_DUE_180_PLUS,
      AccountStatus.CHARGED_OFF,
    ];
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) {
        expect(worstStatus(order[i], order[j])).toBe(order[Math.max(i, j)]);
      }
    }
    expect(worstStatus(AccountStatus.PAID, AccountStatus.PAST_DUE_30)).toBe(AccountStatus.PAST_DUE_30);
    expect(worstStatus(AccountStatus.CLOSED, AccountStatus.CURRENT)).toBe(AccountStatus.CLOSED);
    expect(worstStatus(AccountStatus.ACCOUNT_STATUS_UNSPECIFIED, AccountStatus.PAID)).toBe(AccountStatus.PAID);
  });

  it("calls past-due and charged-off accounts delinquent, nothing else", () => {
    expect(isDelinquent(AccountStatus.PAST_DUE_30)).toBe(true);
    expect(isDelinquent(AccountStatus.PAST_DUE_180_PLUS)).toBe(true);
    expect(isDelinquent(AccountStatus.CHARGED_OFF)).toBe(true);
    for (const s of [AccountStatus.CURRENT, AccountStatus.PAID, AccountStatus.CLOSED, AccountStatus.ACCOUNT_STATUS_UNSPECIFIED]) {
      expect(isDelinquent(s)).toBe(false);
    }
  });
});
