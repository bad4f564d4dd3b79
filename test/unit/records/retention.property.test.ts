import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import { addDays, addMonths, daysFromCivil, fromDay } from "../../../src/records/dates.js";
import { negativeRetainedUntil, reportableTradeline } from "../../../src/records/retention.js";
import {
  deriveTradeline,
  historyCharRank,
  isDelinquent,
  statusRank,
  type AccountFacts,
  type RepaymentFacts,
  type TradelineInput,
} from "../../../src/records/tradeline.js";

const PRODUCTS = [
  ProductType.INSTALLMENT_LOAN,
  ProductType.REVOLVING_LINE,
  ProductType.CASH_LOAN,
  ProductType.CREDIT_CARD,
  ProductType.MORTGAGE,
  ProductType.AUTO_LOAN,
];
const isRevolving = (p: ProductType) => p === ProductType.REVOLVING_LINE || p === ProductType.CREDIT_CARD;

const installmentArb = fc.record({
  shift: fc.oneof(fc.constant(0), fc.integer({ min: -5, max: 20 })),
  amountDue: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 500_000 })),
  payment: fc.option(
    fc.record({
      lateness: fc.oneof(fc.integer({ min: -10, max: 0 }), fc.integer({ min: 1, max: 900 })),
      share: fc.constantFrom(1, 1, 1, 0.5, 1.2),
    }),
    { freq: 3 },
  ),
  balanceAfter: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000_000 })),
});

/** Accounts with histories of up to 8 years and report dates up to 14 years after opening. */
const inputArb: fc.Arbitrary<TradelineInput> = fc
  .record({
    productType: fc.constantFrom(...PRODUCTS),
    opened: fc.integer({ min: daysFromCivil(2010, 1, 1), max: daysFromCivil(2022, 12, 31) }),
    closedAfter: fc.option(fc.integer({ min: 0, max: 4000 })),
    creditLimit: fc.integer({ min: 1, max: 10_000_000 }),
    termMonths: fc.integer({ min: 1, max: 96 }),
    chargedOff: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
    installments: fc.array(installmentArb, { maxLength: 96 }),
    asOfAfter: fc.integer({ min: 0, max: 14 * 366 }),
  })
  .map(({ productType, opened, closedAfter, creditLimit, termMonths, chargedOff, installments, asOfAfter }) => {
    const openedOn = fromDay(opened);
    const repayments = installments.map((inst, i): RepaymentFacts => {
      const dueOn = addDays(addMonths(openedOn, i + 1), inst.shift);
      const amountPaid = inst.payment ? Math.round(inst.amountDue * inst.payment.share) : 0;
      return {
        installment: i + 1,
        dueOn,
        amountDue: inst.amountDue,
        paidOn: inst.payment && amountPaid > 0 ? addDays(dueOn, inst.payment.lateness) : "",
        amountPaid: inst.payment ? amountPaid : 0,
        balanceAfter: inst.balanceAfter,
      };
    });
    const account: AccountFacts = {
      productType,
      openedOn,
      closedOn: closedAfter === null ? "" : addDays(openedOn, closedAfter),
      creditLimit,
      termMonths: isRevolving(productType) ? 0 : termMonths,
      currency: "CNY",
      chargedOff,
    };
    return { institutionId: "inst-a", accountRef: "ref", account, repayments, asOf: addDays(openedOn, asOfAfter) };
  });

const RUNS = { numRuns: 1000 };

describe("retention properties", () => {
  it("never shows more negative information than the plain derivation, and changes nothing else", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plain = deriveTradeline(input);
        const kept = reportableTradeline(input);
        if (kept === undefined) return;
        expect(kept.maxDaysPastDue).toBeLessThanOrEqual(plain.maxDaysPastDue);
        if (kept.firstDelinquencyOn !== "") {
          expect(plain.firstDelinquencyOn).not.toBe("");
          expect(kept.firstDelinquencyOn >= plain.firstDelinquencyOn).toBe(true);
        }
        expect(statusRank(kept.status)).toBeLessThanOrEqual(statusRank(plain.status));
        expect(BigInt(kept.amountPastDue) <= BigInt(plain.amountPastDue)).toBe(true);
        for (let i = 0; i < kept.paymentHistory.length; i++) {
          expect(historyCharRank(kept.paymentHistory[i]!)).toBeLessThanOrEqual(historyCharRank(plain.paymentHistory[i]!));
        }
        expect({ ...kept, maxDaysPastDue: 0, firstDelinquencyOn: "" }).toEqual({ ...plain, maxDaysPastDue: 0, firstDelinquencyOn: "" });
      }),
      RUNS,
    );
  });

  it("changes nothing within 5 years of the account's opening (nothing can have ended before the cutoff)", () => {
    fc.assert(
      fc.property(
        inputArb.filter((i) => i.asOf <= negativeRetainedUntil(i.account.openedOn)),
        (input) => {
          expect(reportableTradeline(input)).toEqual(deriveTradeline(input));
        },
      ),
      RUNS,
    );
  });

  it("a delinquency that ended more than 5 years before as_of leaves no trace in the report", () => {
    const arb = fc.record({
      productType: fc.constantFrom(...PRODUCTS),
      opened: fc.integer({ min: daysFromCivil(2005, 1, 1), max: daysFromCivil(2018, 12, 31) }),
      months: fc.integer({ min: 1, max: 60 }),
      lateIndex: fc.nat(),
      lateDays: fc.integer({ min: 30, max: 1000 }),
      closed: fc.boolean(),
      daysPastFiveYears: fc.integer({ min: 1, max: 3000 }),
    });
    fc.assert(
      fc.property(arb, ({ productType, opened, months, lateIndex, lateDays, closed, daysPastFiveYears }) => {
        const openedOn = fromDay(opened);
        const late = lateIndex % months;
        const repayments: RepaymentFacts[] = [];
        for (let i = 0; i < months; i++) {
          const dueOn = addMonths(openedOn, i + 1);
          const paidOn = i === late ? addDays(dueOn, lateDays) : dueOn;
          repayments.push({ installment: i + 1, dueOn, amountDue: 10_000, paidOn, amountPaid: 10_000, balanceAfter: (months - i - 1) * 10_000 });
        }
        const cured = repayments[late]!.paidOn;
        const lastActivity = repayments.map((r) => r.paidOn).reduce((a, b) => (a > b ? a : b));
        const account: AccountFacts = {
          productType,
          openedOn,
          closedOn: closed ? lastActivity : "",
          creditLimit: months * 10_000,
          termMonths: isRevolving(productType) ? 0 : months,
          currency: "CNY",
          chargedOff: false,
        };
        // The delinquency ended on `cured`; as_of is more than 5 years after it.
        const asOf = addDays(addMonths(cured, 60), daysPastFiveYears);
        const input = { institutionId: "inst-a", accountRef: "ref", account, repayments, asOf };
        expect(deriveTradeline({ ...input, asOf: addMonths(cured, 60) }).maxDaysPastDue).toBe(lateDays);
        const t = reportableTradeline(input);
        if (t === undefined) return;
        expect(t.maxDaysPastDue).toBe(0);
        expect(t.firstDelinquencyOn).toBe("");
        expect(isDelinquent(t.status)).toBe(false);
        expect(t.paymentHistory).toMatch(/^[0BDE]{24}$/);
        expect(t.amountPastDue).toBe("0");
      }),
      RUNS,
    );
  });
});
