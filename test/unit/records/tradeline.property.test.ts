import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import type { Tradeline } from "../../../src/gen/creditmesh/v1/report.js";
import { addDays, addMonths, daysFromCivil, fromDay } from "../../../src/records/dates.js";
import {
  deriveTradeline,
  historyCharRank,
  statusRank,
  type AccountFacts,
  type RepaymentFacts,
} from "../../../src/records/tradeline.js";
import { tradelineProblem } from "../../../src/report/tradeline-shape.js";

interface Scenario {
  account: AccountFacts;
  repayments: RepaymentFacts[];
  asOf: string;
}

const PRODUCTS = [
  ProductType.INSTALLMENT_LOAN,
  ProductType.REVOLVING_LINE,
  ProductType.CASH_LOAN,
  ProductType.CREDIT_CARD,
  ProductType.MORTGAGE,
  ProductType.AUTO_LOAN,
];

const installmentArb = fc.record({
  // Mostly a monthly schedule, sometimes shifted by a few days.
  shift: fc.oneof(fc.constant(0), fc.integer({ min: -5, max: 20 })),
  amountDue: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 500_000 })),
  payment: fc.option(
    fc.record({
      lateness: fc.oneof(fc.integer({ min: -10, max: 0 }), fc.integer({ min: 1, max: 400 })),
      share: fc.constantFrom(1, 1, 1, 0.5, 1.2),
    }),
    { freq: 3 },
  ),
  balanceAfter: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000_000 })),
});

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    productType: fc.constantFrom(...PRODUCTS),
    opened: fc.integer({ min: daysFromCivil(2018, 1, 1), max: daysFromCivil(2025, 12, 31) }),
    closedAfter: fc.option(fc.integer({ min: 0, max: 1500 })),
    creditLimit: fc.integer({ min: 1, max: 10_000_000 }),
    termMonths: fc.integer({ min: 1, max: 36 }),
    chargedOff: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    installments: fc.array(installmentArb, { maxLength: 30 }),
    asOfAfter: fc.integer({ min: -60, max: 1500 }),
  })
  .map(({ productType, opened, closedAfter, creditLimit, termMonths, chargedOff, installments, asOfAfter }) => {
    const openedOn = fromDay(opened);
    const revolving = productType === ProductType.REVOLVING_LINE || productType === ProductType.CREDIT_CARD;
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
    return {
      account: {
        productType,
        openedOn,
        closedOn: closedAfter === null ? "" : addDays(openedOn, closedAfter),
        creditLimit,
        termMonths: revolving ? 0 : termMonths,
        currency: "CNY",
        chargedOff,
      },
      repayments,
      asOf: addDays(openedOn, asOfAfter),
    };
  });

function derive(s: Scenario): Tradeline {
  return deriveTradeline({ institutionId: "inst-a", accountRef: "ref", account: s.account, repayments: s.repayments, asOf: s.asOf });
}

/** A scenario together with one of its payments made later, or not at all. */
const worsenedArb = scenarioArb
  .filter((s) => s.repayments.some((r) => r.paidOn !== ""))
  .chain((s) => {
    const paid = s.repayments.flatMap((r, i) => (r.paidOn !== "" ? [i] : []));
    return fc.record({
      scenario: fc.constant(s),
      index: fc.constantFrom(...paid),
      delay: fc.option(fc.integer({ min: 1, max: 400 }), { freq: 4 }),
    });
  })
  .map(({ scenario, index, delay }) => {
    const repayments = scenario.repayments.map((r, i) => {
      if (i !== index) return r;
      return delay === null ? { ...r, paidOn: "", amountPaid: 0 } : { ...r, paidOn: addDays(r.paidOn, delay) };
    });
    return { before: scenario, after: { ...scenario, repayments } };
  });

const RUNS = { numRuns: 500 };

describe("deriveTradeline properties", () => {
  it("always yields a tradeline of the shape a requester accepts from a holder", () => {
    fc.assert(
      fc.property(scenarioArb, fc.constantFrom("", "CNY", "USD"), (s, currency) => {
        const t = deriveTradeline({ institutionId: "inst-a", accountRef: "0123456789abcdef0123456789abcdef", account: { ...s.account, currency }, repayments: s.repayments, asOf: s.asOf });
        expect(tradelineProblem(t)).toBeUndefined();
      }),
      RUNS,
    );
  });

  it("always yields 24 history characters from 0-6, B, D, E", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        expect(derive(s).paymentHistory).toMatch(/^[0-6BDE]{24}$/);
      }),
      RUNS,
    );
  });

  it("never shows B after (in time) a month that is not B", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const h = derive(s).paymentHistory;
        // Newest first: once a B appears, every older month is B too.
        const firstB = h.indexOf("B");
        if (firstB >= 0) expect(h.slice(firstB)).toBe("B".repeat(24 - firstB));
      }),
      RUNS,
    );
  });

  it("is deterministic and independent of the order of repayments", () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer(), (s, seed) => {
        const shuffled = [...s.repayments];
        let x = seed >>> 0;
        for (let i = shuffled.length - 1; i > 0; i--) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          const j = x % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        const t = derive(s);
        expect(derive(s)).toEqual(t);
        expect(derive({ ...s, repayments: shuffled })).toEqual(t);
      }),
      RUNS,
    );
  });

  it("paying later or not at all never improves history, status, days past due or amount past due", () => {
    fc.assert(
      fc.property(worsenedArb, ({ before, after }) => {
        const a = derive(before);
        const b = derive(after);
        for (let i = 0; i < 24; i++) {
          expect(historyCharRank(b.paymentHistory[i]), `month ${i}: ${a.paymentHistory} → ${b.paymentHistory}`).toBeGreaterThanOrEqual(
            historyCharRank(a.paymentHistory[i]),
          );
        }
        expect(b.maxDaysPastDue).toBeGreaterThanOrEqual(a.maxDaysPastDue);
        expect(BigInt(b.amountPastDue) >= BigInt(a.amountPastDue)).toBe(true);
        expect(statusRank(b.status)).toBeGreaterThanOrEqual(statusRank(a.status));
      }),
      RUNS,
    );
  });

  it("keeps max_days_past_due, first_delinquency_on, status and history consistent", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const t = derive(s);
        expect(t.firstDelinquencyOn !== "").toBe(t.maxDaysPastDue >= 30);
        if (t.firstDelinquencyOn !== "") expect(t.firstDelinquencyOn <= s.asOf).toBe(true);
        const worstMonth = Math.max(...[...t.paymentHistory].map(historyCharRank));
        expect(t.maxDaysPastDue).toBeGreaterThanOrEqual(30 * worstMonth);
        if (!s.account.chargedOff && t.paymentHistory[0] !== "B") {
          expect(statusRank(t.status)).toBe(historyCharRank(t.paymentHistory[0]));
        }
        if (t.lastPaymentOn !== "") expect(t.lastPaymentOn <= s.asOf).toBe(true);
        expect(t.reportedOn).toBe(s.asOf);
      }),
      RUNS,
    );
  });
});
