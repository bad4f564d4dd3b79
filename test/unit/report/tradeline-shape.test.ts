import { describe, expect, it } from "vitest";
import { AccountStatus, DisputeFlag, ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import type { Tradeline } from "../../../src/gen/creditmesh/v1/report.js";
import { tradelineProblem } from "../../../src/report/tradeline-shape.js";
import { tradeline } from "./fixtures.js";

const good = tradeline({ institutionId: "bank-a", accountRef: "0123456789abcdef0123456789abcdef", closedOn: "2025-06-30", lastPaymentOn: "2025-06-01", firstDelinquencyOn: "2024-03-31" });

describe("the shape of a holder's tradeline", () => {
  it("takes what a holder derives, empty optional dates and currency included", () => {
    expect(tradelineProblem(good)).toBeUndefined();
    expect(tradelineProblem({ ...good, closedOn: "", lastPaymentOn: "", firstDelinquencyOn: "", currency: "", paymentHistory: "" })).toBeUndefined();
    expect(tradelineProblem({ ...good, status: AccountStatus.CHARGED_OFF, dispute: DisputeFlag.RESOLVED_DISAGREES, productType: ProductType.AUTO_LOAN, termMonths: 480, maxDaysPastDue: 36_525 })).toBeUndefined();
  });

  const cases: [string, Partial<Tradeline>, string][] = [
    ["an empty account reference", { accountRef: "" }, "account_ref is not an account reference"],
    ["an account reference with an escape sequence", { accountRef: "ref\u001b[2J" }, "account_ref is not an account reference"],
    ["an account reference of 65 characters", { accountRef: "a".repeat(65) }, "account_ref is not an account reference"],
    ["a product no holder sends", { productType: 99 as ProductType }, "product_type is not a known product"],
    ["an unspecified product", { productType: ProductType.PRODUCT_TYPE_UNSPECIFIED }, "product_type is not a known product"],
    ["a status no holder derives", { status: 42 as AccountStatus }, "status is not a known account status"],
    ["an unspecified status", { status: AccountStatus.ACCOUNT_STATUS_UNSPECIFIED }, "status is not a known account status"],
    ["a dispute flag no holder sends", { dispute: 7 as DisputeFlag }, "dispute is not a known dispute flag"],
    ["no opening date", { openedOn: "" }, "opened_on is not a date"],
    ["an opening date that is not real", { openedOn: "2025-02-30" }, "opened_on is not a date"],
    ["a report date in another form", { reportedOn: "31/03/2026" }, "reported_on is not a date"],
    ["a closing date with a time", { closedOn: "2025-06-30T00:00:00Z" }, "closed_on is not a date"],
    ["a first delinquency that is text", { firstDelinquencyOn: "garbage" }, "first_delinquency_on is not a date"],
    ["a last payment with a full-width digit", { lastPaymentOn: "2025-06-0１" }, "last_payment_on is not a date"],
    ["a payment history of 25 months", { paymentHistory: "0".repeat(25) }, "payment_history is not up to 24 payment-history codes"],
    ["a payment history with a code no holder derives", { paymentHistory: "0".repeat(23) + "9" }, "payment_history is not up to 24 payment-history codes"],
    ["negative days past due", { maxDaysPastDue: -1 }, "max_days_past_due is not 0..36525"],
    ["days past due beyond a century", { maxDaysPastDue: 36_526 }, "max_days_past_due is not 0..36525"],
    ["a currency in lower case", { currency: "cny" }, "currency is not an ISO 4217 code"],
    ["a negative term", { termMonths: -1 }, "term_months is not 0..480"],
    ["a term beyond 40 years", { termMonths: 481 }, "term_months is not 0..480"],
  ];
  for (const [what, change, problem] of cases) {
    it(`refuses ${what}, naming the field`, () => {
      expect(tradelineProblem({ ...good, ...change })).toBe(problem);
    });
  }
});
