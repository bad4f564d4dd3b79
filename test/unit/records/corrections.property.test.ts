import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import { addDays, addMonths } from "../../../src/records/dates.js";
import { isCreditMeshError } from "../../../src/errors.js";
import { checkAccountAgainstRepayments, narrowsTerms, repaymentHolds, type RepaymentTerms, type ValidRepayment } from "../../../src/records/validate.js";

const terms: fc.Arbitrary<RepaymentTerms> = fc.record({
  openedOn: fc.integer({ min: 0, max: 40 }).map((m) => addMonths("2023-01-15", m)),
  termMonths: fc.integer({ min: 0, max: 24 }),
  productType: fc.constantFrom(ProductType.INSTALLMENT_LOAN, ProductType.CASH_LOAN, ProductType.CREDIT_CARD, ProductType.REVOLVING_LINE),
});

const repayments: fc.Arbitrary<ValidRepayment[]> = fc.array(
  fc.record({ installment: fc.integer({ min: 1, max: 30 }), due: fc.integer({ min: 0, max: 60 }), paidDaysAfter: fc.option(fc.integer({ min: -60, max: 30 })) }).map(({ installment, due, paidDaysAfter }) => {
    const dueOn = addMonths("2023-01-15", due);
    const paid = paidDaysAfter !== null;
    return { accountId: "A", installment, dueOn, amountDue: 1, paidOn: paid ? addDays(dueOn, paidDaysAfter) : "", amountPaid: paid ? 1 : 0, balanceAfter: 0 };
  }),
  { maxLength: 12 },
);

describe("account corrections against the repayments on file", () => {
  it("refuses a correction exactly when some repayment on file would not hold for it", () => {
    fc.assert(
      fc.property(terms, repayments, (a, rs) => {
        let refused = false;
        try {
          checkAccountAgainstRepayments(a, rs);
        } catch (err) {
          if (!isCreditMeshError(err, "VALIDATION_FAILED")) throw err;
          refused = true;
          expect(["account.opened_on", "account.term_months"]).toContain(err.field);
        }
        expect(refused).toBe(rs.some((r) => !repaymentHolds(r, a)));
      }),
      { numRuns: 1000 },
    );
  });

  it("reads nothing it needs to: a correction that does not narrow the terms keeps every repayment that held before", () => {
    fc.assert(
      fc.property(terms, terms, repayments, (before, after, rs) => {
        fc.pre(!narrowsTerms(before, after));
        for (const r of rs) if (repaymentHolds(r, before)) expect(repaymentHolds(r, after)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
