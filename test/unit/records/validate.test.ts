import { describe, expect, it } from "vitest";
import { IdType, ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import type { AccountRecord, RepaymentRecord } from "../../../src/gen/creditmesh/v1/records.js";
import { checkRepaymentAgainstAccount, recordLimits, validateAccount, validateRecord, validateRepayment } from "../../../src/records/validate.js";
import { expectInvalid } from "./expect-invalid.js";

function account(overrides: Partial<AccountRecord> = {}): AccountRecord {
  return {
    accountId: "LN-2025-0001",
    subject: { idType: IdType.CN_RESIDENT_ID, idNumber: "11010519491231002x", name: "张三", phone: "" },
    productType: ProductType.INSTALLMENT_LOAN,
    openedOn: "2025-01-10",
    creditLimit: "300000",
    termMonths: 3,
    currency: "",
    closedOn: "",
    furnishingConsentRef: "auth-77",
    chargedOff: false,
    ...overrides,
  };
}

function repayment(overrides: Partial<RepaymentRecord> = {}): RepaymentRecord {
  return {
    accountId: "LN-2025-0001",
    installment: 1,
    dueOn: "2025-02-10",
    amountDue: "100000",
    paidOn: "2025-02-09",
    amountPaid: "100000",
    balanceAfter: "200000",
    ...overrides,
  };
}

describe("validateAccount", () => {
  it("turns a good record into domain values", () => {
    expect(validateAccount(account())).toEqual({
      accountId: "LN-2025-0001",
      subject: {
        idType: IdType.CN_RESIDENT_ID,
        idTypeName: "CN_RESIDENT_ID",
        normalizedId: "11010519491231002X",
        name: "张三",
        phone: "",
      },
      productType: ProductType.INSTALLMENT_LOAN,
      openedOn: "2025-01-10",
      closedOn: "",
      creditLimit: 300000,
      termMonths: 3,
      currency: "CNY",
      chargedOff: false,
      furnishingConsentRef: "auth-77",
    });
  });

  it("checks account_id: required, at most 64 printable ASCII characters, no spaces", () => {
    expectInvalid(() => validateAccount(account({ accountId: "" })), "account.account_id");
    expectInvalid(() => validateAccount(account({ accountId: "LN 1" })), "account.account_id");
    expectInvalid(() => validateAccount(account({ accountId: "LN\u00001" })), "account.account_id");
    expectInvalid(() => validateAccount(account({ accountId: "账户1" })), "account.account_id");
    expectInvalid(() => validateAccount(account({ accountId: "a".repeat(65) })), "account.account_id");
    expect(validateAccount(account({ accountId: "a".repeat(64) })).accountId).toHaveLength(64);
    expect(validateAccount(account({ accountId: "!~#/:" })).accountId).toBe("!~#/:");
  });

  it("puts subject problems under account.subject", () => {
    expectInvalid(() => validateAccount(account({ subject: undefined })), "account.subject");
    const err = expectInvalid(
      () => validateAccount(account({ subject: { idType: IdType.CN_RESIDENT_ID, idNumber: "110105194912310021", name: "张三", phone: "" } })),
      "account.subject.id_number",
    );
    expect(err.message).toContain("expected X");
    expectInvalid(
      () => validateAccount(account({ subject: { idType: IdType.CN_RESIDENT_ID, idNumber: "11010519491231002X", name: "", phone: "" } })),
      "account.subject.name",
    );
  });

  it("requires a known, non-zero product_type and names the bad value", () => {
    expect(expectInvalid(() => validateAccount(account({ productType: 0 })), "account.product_type").message).toContain("got 0");
    expect(expectInvalid(() => validateAccount(account({ productType: 42 as ProductType })), "account.product_type").message).toContain("got 42");
    expectInvalid(() => validateAccount(account({ productType: ProductType.UNRECOGNIZED })), "account.product_type");
  });

  it("requires opened_on to be a real ISO date", () => {
    expectInvalid(() => validateAccount(account({ openedOn: "" })), "account.opened_on");
    const err = expectInvalid(() => validateAccount(account({ openedOn: "2025-02-30" })), "account.opened_on");
    expect(err.message).toBe("account.opened_on: 2025-02-30 is not a real date");
    expectInvalid(() => validateAccount(account({ openedOn: "20250110" })), "account.opened_on");
  });

  it("accepts only non-negative integer amounts in minor units", () => {
    const err = expectInvalid(() => validateAccount(account({ creditLimit: "-5" })), "account.credit_limit");
    expect(err.message).toBe('account.credit_limit: must be a non-negative integer amount in minor units, got "-5"');
    for (const bad of ["1.5", "1e6", " 100", "", "0x10", "9007199254740992"]) {
      expectInvalid(() => validateAccount(account({ creditLimit: bad })), "account.credit_limit");
    }
    expect(validateAccount(account({ creditLimit: "9007199254740991" })).creditLimit).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("requires a positive principal for term products but allows a zero revolving limit", () => {
    expectInvalid(() => validateAccount(account({ creditLimit: "0" })), "account.credit_limit");
    const revolving = validateAccount(account({ productType: ProductType.REVOLVING_LINE, termMonths: 0, creditLimit: "0" }));
    expect(revolving.creditLimit).toBe(0);
  });

  it("requires term_months 0 for revolving products and 1..480 otherwise", () => {
    expectInvalid(() => validateAccount(account({ productType: ProductType.CREDIT_CARD, termMonths: 12 })), "account.term_months");
    expectInvalid(() => validateAccount(account({ productType: ProductType.REVOLVING_LINE, termMonths: 1 })), "account.term_months");
    expectInvalid(() => validateAccount(account({ termMonths: 0 })), "account.term_months");
    expectInvalid(() => validateAccount(account({ productType: ProductType.MORTGAGE, termMonths: 481 })), "account.term_months");
    expectInvalid(() => validateAccount(account({ termMonths: -1 })), "account.term_months");
    expectInvalid(() => validateAccount(account({ termMonths: 1.5 })), "account.term_months");
    expect(validateAccount(account({ productType: ProductType.MORTGAGE, termMonths: 480 })).termMonths).toBe(480);
    expect(validateAccount(account({ productType: ProductType.CASH_LOAN, termMonths: 1 })).termMonths).toBe(1);
  });

  it("defaults currency to CNY and otherwise requires 3 uppercase letters", () => {
    expect(validateAccount(account({ currency: "USD" })).currency).toBe("USD");
    for (const bad of ["usd", "US", "USDT", "U5D", " CNY"]) {
      expectInvalid(() => validateAccount(account({ currency: bad })), "account.currency");
    }
  });

  it("allows closed_on empty, on or after opened_on, never before", () => {
    expect(validateAccount(account({ closedOn: "2025-01-10" })).closedOn).toBe("2025-01-10");
    expect(validateAccount(account({ closedOn: "2026-01-10" })).closedOn).toBe("2026-01-10");
    const err = expectInvalid(() => validateAccount(account({ closedOn: "2025-01-09" })), "account.closed_on");
    expect(err.message).toContain("opened_on 2025-01-10");
    expectInvalid(() => validateAccount(account({ closedOn: "2025-04-31" })), "account.closed_on");
  });

  it("requires furnishing_consent_ref of 1 to 128 characters", () => {
    expectInvalid(() => validateAccount(account({ furnishingConsentRef: "" })), "account.furnishing_consent_ref");
    expectInvalid(() => validateAccount(account({ furnishingConsentRef: "   " })), "account.furnishing_consent_ref");
    expectInvalid(() => validateAccount(account({ furnishingConsentRef: "r".repeat(129) })), "account.furnishing_consent_ref");
    expect(validateAccount(account({ furnishingConsentRef: "r".repeat(128) })).furnishingConsentRef).toHaveLength(128);
  });

  it("reports the first problem in field order, under the given field prefix", () => {
    expectInvalid(() => validateAccount(account({ accountId: "", productType: 0, currency: "x" })), "account.account_id");
    expectInvalid(() => validateAccount(account({ productType: 0, currency: "x" }), "records[3].account"), "records[3].account.product_type");
  });

  it("keeps charged_off", () => {
    expect(validateAccount(account({ chargedOff: true })).chargedOff).toBe(true);
  });
});

describe("validateRepayment", () => {
  it("turns a good record into domain values", () => {
    expect(validateRepayment(repayment())).toEqual({
      accountId: "LN-2025-0001",
      installment: 1,
      dueOn: "2025-02-10",
      amountDue: 100000,
      paidOn: "2025-02-09",
      amountPaid: 100000,
      balanceAfter: 200000,
    });
  });

  it("checks account_id like an account does", () => {
    expectInvalid(() => validateRepayment(repayment({ accountId: "" })), "repayment.account_id");
    expectInvalid(() => validateRepayment(repayment({ accountId: "a b" })), "repayment.account_id");
  });

  it("requires installment 1..10000", () => {
    for (const bad of [0, -1, 10001, 2.5]) expectInvalid(() => validateRepayment(repayment({ installment: bad })), "repayment.installment");
    expect(validateRepayment(repayment({ installment: 10000 })).installment).toBe(10000);
  });

  it("requires due_on and checks paid_on when present", () => {
    expectInvalid(() => validateRepayment(repayment({ dueOn: "" })), "repayment.due_on");
    expectInvalid(() => validateRepayment(repayment({ dueOn: "2025-02-29" })), "repayment.due_on");
    expectInvalid(() => validateRepayment(repayment({ paidOn: "2025-2-9" })), "repayment.paid_on");
  });

  it("checks every amount", () => {
    expect(expectInvalid(() => validateRepayment(repayment({ amountDue: "-5" })), "repayment.amount_due").message).toContain('got "-5"');
    expectInvalid(() => validateRepayment(repayment({ amountPaid: "1.00" })), "repayment.amount_paid");
    expectInvalid(() => validateRepayment(repayment({ balanceAfter: "abc" })), "repayment.balance_after");
  });

  it("requires paid_on when something was paid, and allows an unpaid installment", () => {
    const err = expectInvalid(() => validateRepayment(repayment({ paidOn: "" })), "repayment.paid_on");
    expect(err.message).toContain("amount_paid");
    const unpaid = validateRepayment(repayment({ paidOn: "", amountPaid: "0" }));
    expect(unpaid.paidOn).toBe("");
    expect(unpaid.amountPaid).toBe(0);
  });
});

describe("validateRecord", () => {
  it("dispatches on the record kind with account/repayment paths", () => {
    expect(validateRecord({ kind: { $case: "account", value: account() } }).kind).toBe("account");
    const r = validateRecord({ kind: { $case: "repayment", value: repayment() } });
    expect(r.kind === "repayment" && r.repayment.installment).toBe(1);
    expectInvalid(() => validateRecord({ kind: { $case: "account", value: account({ currency: "x" }) } }), "account.currency");
    expectInvalid(() => validateRecord({ kind: { $case: "repayment", value: repayment({ dueOn: "" }) } }), "repayment.due_on");
  });

  it("rejects a record with no kind", () => {
    const err = expectInvalid(() => validateRecord({}), "kind");
    expect(err.message).toBe("kind: record must hold an account, a repayment or a deletion");
    expectInvalid(() => validateRecord({ kind: undefined }), "kind");
  });
});

describe("plausibility rules (records that cannot be true)", () => {
  const limits = recordLimits(new Date("2026-12-03T10:00:00Z"), 1_000_000);

  it("refuses dates after today (a day's allowance for timezones) and before 1900", () => {
    expect(validateAccount(account({ openedOn: "2026-12-04" }), "account", limits).openedOn).toBe("2026-12-04");
    expectInvalid(() => validateAccount(account({ openedOn: "2026-12-05" }), "account", limits), "account.opened_on");
    expectInvalid(() => validateAccount(account({ openedOn: "2031-01-01" }), "account", limits), "account.opened_on");
    expectInvalid(() => validateAccount(account({ openedOn: "0001-01-01" }), "account", limits), "account.opened_on");
    expectInvalid(() => validateAccount(account({ openedOn: "1899-12-31" })), "account.opened_on");
    expectInvalid(() => validateAccount(account({ closedOn: "2099-01-01" }), "account", limits), "account.closed_on");
    expectInvalid(() => validateRepayment(repayment({ paidOn: "2099-01-01" }), "repayment", limits), "repayment.paid_on");
    expectInvalid(() => validateRepayment(repayment({ paidOn: "1899-06-01" }), "repayment", limits), "repayment.paid_on");
    expectInvalid(() => validateRepayment(repayment({ dueOn: "1899-06-01", paidOn: "", amountPaid: "0" }), "repayment", limits), "repayment.due_on");
  });

  it("refuses a payment more than a month before the first installment fell due", () => {
    // Installment 3 due 2025-04-10: installment 1 fell due 2025-02-10.
    expect(validateRepayment(repayment({ installment: 3, dueOn: "2025-04-10", paidOn: "2025-01-15" }), "repayment", limits).paidOn).toBe("2025-01-15");
    const err = expectInvalid(() => validateRepayment(repayment({ installment: 3, dueOn: "2025-04-10", paidOn: "2025-01-09" }), "repayment", limits), "repayment.paid_on");
    expect(err.message).toContain("2025-01-10");
  });

  it("refuses amounts above the configured ceiling, naming the setting", () => {
    const err = expectInvalid(() => validateAccount(account({ creditLimit: "1000001" }), "account", limits), "account.credit_limit");
    expect(err.message).toContain("records.maxAmountMinor");
    expectInvalid(() => validateRepayment(repayment({ amountDue: "1000001" }), "repayment", limits), "repayment.amount_due");
    expectInvalid(() => validateRepayment(repayment({ balanceAfter: "5000000" }), "repayment", limits), "repayment.balance_after");
    expect(validateAccount(account({ creditLimit: "1000000" }), "account", limits).creditLimit).toBe(1_000_000);
  });

  it("checks a repayment against its account: due before opening, installment beyond the term", () => {
    const a = validateAccount(account());
    expectInvalid(() => checkRepaymentAgainstAccount(validateRepayment(repayment({ dueOn: "2025-01-09", paidOn: "", amountPaid: "0" })), a), "repayment.due_on");
    expectInvalid(() => checkRepaymentAgainstAccount(validateRepayment(repayment({ installment: 4, dueOn: "2025-05-10", paidOn: "", amountPaid: "0" })), a), "repayment.installment");
    expectInvalid(() => checkRepaymentAgainstAccount(validateRepayment(repayment({ dueOn: "2025-02-05", paidOn: "2025-01-07" })), a), "repayment.paid_on");
    expect(() => checkRepaymentAgainstAccount(validateRepayment(repayment({ installment: 3, dueOn: "2025-04-10" })), a)).not.toThrow();
    // A revolving line's statement number has no term to exceed.
    const line = validateAccount(account({ productType: ProductType.REVOLVING_LINE, termMonths: 0 }));
    expect(() => checkRepaymentAgainstAccount(validateRepayment(repayment({ installment: 40, dueOn: "2028-05-10", paidOn: "", amountPaid: "0" })), line)).not.toThrow();
  });
});
