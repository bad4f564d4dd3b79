import { describe, expect, it } from "vitest";
import { isCreditMeshError } from "../../../src/errors.js";
import { AccountStatus, ProductType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { Summary } from "../../../src/gen/creditmesh/v1/report.js";
import { summarize } from "../../../src/report/summary.js";
import { AS_OF, history, inquiry, tradeline } from "./fixtures.js";

const card = tradeline({
  institutionId: "bank-a",
  accountRef: "a-card",
  productType: ProductType.CREDIT_CARD,
  openedOn: "2020-01-15",
  creditLimit: "1000000",
  balance: "250000",
  paymentHistory: "000000000000100000000000",
});
const newLoan = tradeline({
  institutionId: "bank-a",
  accountRef: "a-loan",
  openedOn: "2026-02-10",
  creditLimit: "500000",
  balance: "450000",
  paymentHistory: history("00"),
});
const lateLine = tradeline({
  institutionId: "bank-b",
  accountRef: "b-line",
  productType: ProductType.REVOLVING_LINE,
  openedOn: "2023-06-01",
  creditLimit: "500000",
  balance: "400000",
  amountPastDue: "60000",
  status: AccountStatus.PAST_DUE_60,
  paymentHistory: history("21", "0"),
});
const paidLoan = tradeline({
  institutionId: "bank-c",
  accountRef: "c-paid",
  productType: ProductType.CASH_LOAN,
  openedOn: "2025-01-05",
  closedOn: "2025-07-05",
  creditLimit: "200000",
  status: AccountStatus.PAID,
  paymentHistory: history("EEEEEEEEE000000"),
});
const newCard = tradeline({
  institutionId: "bank-c",
  accountRef: "c-card",
  productType: ProductType.CREDIT_CARD,
  openedOn: "2026-01-01",
  creditLimit: "300000",
  paymentHistory: history("000"),
});
const chargedOff = tradeline({
  institutionId: "bank-d",
  accountRef: "d-loan",
  productType: ProductType.CASH_LOAN,
  openedOn: "2024-03-01",
  creditLimit: "100000",
  balance: "120000",
  amountPastDue: "120000",
  status: AccountStatus.CHARGED_OFF,
  paymentHistory: history("666666654321", "0"),
});
const autoLoanOn90thDay = tradeline({
  institutionId: "bank-e",
  accountRef: "e-auto",
  productType: ProductType.AUTO_LOAN,
  openedOn: "2025-12-31",
  creditLimit: "10000000",
  balance: "9000000",
  paymentHistory: history("000"),
});
const closedOnReportDate = tradeline({
  institutionId: "bank-f",
  accountRef: "f-loan",
  openedOn: "2025-12-30",
  closedOn: AS_OF,
  creditLimit: "100000",
  paymentHistory: history("E00"),
});

const everyone = [card, newLoan, lateLine, paidLoan, newCard, chargedOff, autoLoanOn90thDay, closedOnReportDate];

const inquiries = [
  inquiry("q1", "bank-x", "2026-03-31T23:59:59.999Z"),
  inquiry("q2", "bank-y", "2026-03-02T00:00:00Z"),
  inquiry("q3", "bank-y", "2026-03-01T23:59:59Z"),
  inquiry("q4", "bank-x", "2026-03-15T10:00:00Z"),
  inquiry("q5", "bank-z", "2026-04-01T00:00:00Z"),
];

describe("summarize", () => {
  it("adds up a multi-institution file", () => {
    expect(summarize(everyone, inquiries, AS_OF)).toEqual({
      accounts: 8,
      // not the paid loan, the charge-off, or the loan closed on the report date
      openAccounts: 5,
      institutions: 6,
      totalBalance: "10220000",
      // 1,000,000 + 500,000 + 500,000 + 300,000 + 10,000,000 over open accounts
      totalLimit: "12300000",
      // open revolving: (250,000 + 400,000 + 0) / (1,000,000 + 500,000 + 300,000)
      utilizationBp: 3611,
      totalPastDue: "180000",
      worstStatus24m: AccountStatus.CHARGED_OFF,
      // opened 2026-02-10, 2026-01-01 and exactly 90 days before (2025-12-31); not 2025-12-30
      institutionsOpened90d: 3,
      accountsOpened90d: 3,
      // q1 at the last millisecond of as_of, q2 at the first of the window, q4; not q3 or q5
      inquiries30d: 3,
      inquiringInstitutions30d: 2,
      delinquentAccounts: 2,
    });
  });

  it("takes the worst status from the current statuses", () => {
    const s = summarize(everyone.filter((t) => t !== chargedOff), [], AS_OF);
    expect(s.worstStatus24m).toBe(AccountStatus.PAST_DUE_60);
    expect(s.delinquentAccounts).toBe(1);
  });

  it("maps payment-history digits back to statuses", () => {
    expect(summarize([card], [], AS_OF).worstStatus24m).toBe(AccountStatus.PAST_DUE_30);
    const cured = { ...card, paymentHistory: history("0000006", "0") };
    expect(summarize([cured], [], AS_OF).worstStatus24m).toBe(AccountStatus.PAST_DUE_180_PLUS);
    const beyond24 = { ...card, paymentHistory: `${"0".repeat(24)}6` };
    expect(summarize([beyond24], [], AS_OF).worstStatus24m).toBe(AccountStatus.CURRENT);
  });

  it("counts only applications for credit among the multi-lending inquiries", () => {
    const day = `${AS_OF}T08:00:00Z`;
    const s = summarize([], [
      inquiry("q1", "bank-a", day, Purpose.LOAN_ORIGINATION),
      inquiry("q2", "bank-b", day, Purpose.CREDIT_LIMIT_REVIEW),
      inquiry("q3", "bank-c", day, Purpose.SUBJECT_REQUEST),
      inquiry("q4", "bank-d", day, Purpose.POST_LOAN_MANAGEMENT),
    ], AS_OF);
    expect(s.inquiries30d).toBe(2);
    expect(s.inquiringInstitutions30d).toBe(2);
  });

  it("counts several accounts at one institution once among institutions", () => {
    const s = summarize([card, newLoan], [], AS_OF);
    expect(s.institutions).toBe(1);
    expect(s.institutionsOpened90d).toBe(1);
    expect(s.accountsOpened90d).toBe(1);
  });

  it("reports -1 utilization without revolving credit, and an empty file", () => {
    expect(summarize([newLoan, autoLoanOn90thDay], [], AS_OF).utilizationBp).toBe(-1);
    expect(summarize([], [], AS_OF)).toMatchObject({
      accounts: 0,
      utilizationBp: -1,
      totalBalance: "0",
      worstStatus24m: AccountStatus.ACCOUNT_STATUS_UNSPECIFIED,
    });
  });

  it("saturates totals at int64 and lets no negative amount cancel another's, so the report always encodes", () => {
    const max = "9223372036854775807";
    const huge = [card, newLoan].map((t) => ({ ...t, balance: max, creditLimit: max, amountPastDue: max }));
    const s = summarize(huge, [], AS_OF);
    expect([s.totalBalance, s.totalLimit, s.totalPastDue]).toEqual([max, max, max]);
    expect(() => Summary.encode(s).finish()).not.toThrow();
    const credit = { ...newLoan, balance: "-250000", amountPastDue: "-60000" };
    expect(summarize([lateLine, credit], [], AS_OF)).toMatchObject({ totalPastDue: lateLine.amountPastDue, totalBalance: lateLine.balance });
  });

  it("rejects a malformed date or amount naming the field", () => {
    try {
      summarize([], [], "2026-02-30");
      expect.unreachable();
    } catch (err) {
      expect(isCreditMeshError(err, "VALIDATION_FAILED") && err.field).toBe("as_of");
    }
    try {
      summarize([card, { ...newLoan, balance: "12.5" }], [], AS_OF);
      expect.unreachable();
    } catch (err) {
      expect(isCreditMeshError(err, "VALIDATION_FAILED") && err.field).toBe("tradelines[1].balance");
    }
  });
});
