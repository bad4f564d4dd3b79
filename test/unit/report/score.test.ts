import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccountStatus, ProductType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Inquiry, Score, Tradeline } from "../../../src/gen/creditmesh/v1/report.js";
import { addMonths, epochDay, isoOfEpochDay } from "../../../src/report/dates.js";
import { MODEL_VERSION, scoreReport } from "../../../src/report/score.js";
import { FACTOR_NAMES, maxPoints, REASON_TEXTS, SCORE_MAX, SCORE_MIN, SCORECARD } from "../../../src/report/scorecard.js";
import { summarize } from "../../../src/report/summary.js";
import {
  AS_OF,
  cleanLongHistory,
  history,
  inquiry,
  multiLending,
  oneNinetyDayDelinquency,
  thinFile,
  tradeline,
} from "./fixtures.js";

function scoreOf(tradelines: Tradeline[], inquiries: Inquiry[] = [], asOf = AS_OF): Score {
  return scoreReport({ tradelines, inquiries, summary: summarize(tradelines, inquiries, asOf), asOf });
}

const currentInquiry = [inquiry("q-now", "bank-a", "2026-03-31T08:00:00Z")];

describe("golden profiles", () => {
  it("clean long history scores in the exceptional band (>= 800)", () => {
    const s = scoreOf(cleanLongHistory(), currentInquiry);
    expect(s).toMatchObject({ scorable: true, modelVersion: MODEL_VERSION });
    expect(s.value).toBe(830);
    expect(s.value).toBeGreaterThanOrEqual(800);
    // only the card's 15 % utilization costs anything
    expect(s.reasons).toEqual([{ code: "U01", text: "High utilization of revolving credit" }]);
  });

  it("one cured 90-day delinquency drops to the good band (670-739), delinquency first", () => {
    const s = scoreOf(oneNinetyDayDelinquency(), currentInquiry);
    expect(s.value).toBe(710);
    expect(s.value).toBeGreaterThanOrEqual(670);
    expect(s.value).toBeLessThanOrEqual(739);
    expect(s.value).toBeLessThanOrEqual(scoreOf(cleanLongHistory(), currentInquiry).value - 100);
    expect(s.reasons[0]).toEqual({ code: "D01", text: "Serious delinquency in the last 24 months" });
  });

  it("a 30-day late payment is named as a late payment, not a serious delinquency", () => {
    const late = cleanLongHistory().map((t) => (t.accountRef === "c1" ? { ...t, paymentHistory: history("0001", "0") } : t));
    const s = scoreOf(late, currentInquiry);
    expect(s.reasons[0].code).toBe("D02");
    expect(s.value).toBeGreaterThan(scoreOf(oneNinetyDayDelinquency(), currentInquiry).value);
  });

  it("multi-lending across 4 institutions in 90 days leads with the multi-lending reason (650-739)", () => {
    const { tradelines, inquiries } = multiLending();
    const s = scoreOf(tradelines, inquiries);
    expect(s.value).toBe(713);
    expect(s.value).toBeGreaterThanOrEqual(650);
    expect(s.value).toBeLessThanOrEqual(739);
    expect(s.reasons.map((r) => r.code)).toEqual(["N01", "U01", "N04", "M01"]);
    expect(s.reasons[0].text).toBe("Loans opened at many institutions recently");
  });

  it("a thin file is not scorable", () => {
    const s = scoreOf(thinFile(), currentInquiry);
    expect(s).toEqual({
      scorable: false,
      value: 0,
      unscorableReason: expect.stringContaining("3 months"),
      reasons: [],
      modelVersion: MODEL_VERSION,
    });
    expect(scoreOf([]).scorable).toBe(false);
    // old enough, but without any month of actual history
    const noData = [tradeline({ institutionId: "x", accountRef: "1", openedOn: "2020-01-01", paymentHistory: "D".repeat(24) })];
    expect(scoreOf(noData).scorable).toBe(false);
  });

  it("three calendar months of history is enough", () => {
    const t = thinFile()[0];
    expect(scoreOf([{ ...t, openedOn: "2025-12-31" }]).scorable).toBe(true);
    expect(scoreOf([{ ...t, openedOn: "2026-01-01" }]).scorable).toBe(false);
  });
});

describe("scorecard table", () => {
  it("spends exactly the 550 points between 300 and 850, with the documented weights", () => {
    const byFactor = new Map<string, number>();
    for (const c of SCORECARD) byFactor.set(c.factor, (byFactor.get(c.factor) ?? 0) + maxPoints(c));
    expect(Object.fromEntries(byFactor)).toEqual({
      PAYMENT_HISTORY: 195,
      AMOUNTS_OWED: 165,
      HISTORY_LENGTH: 80,
      NEW_CREDIT: 55,
      CREDIT_MIX: 55,
    });
    expect([...byFactor.values()].reduce((a, b) => a + b)).toBe(SCORE_MAX - SCORE_MIN);
  });

  it("never pays more points for more risk", () => {
    for (const c of SCORECARD) {
      const bounds = c.bins.map((b) => b.upTo);
      expect(bounds, c.id).toEqual([...bounds].sort((a, b) => a - b));
      expect(bounds.at(-1), c.id).toBe(Number.POSITIVE_INFINITY);
      for (let i = 1; i < c.bins.length; i++) {
        const [prev, next] = [c.bins[i - 1].points, c.bins[i].points];
        if (c.higherIs === "riskier") expect(next, `${c.id} bin ${i}`).toBeLessThanOrEqual(prev);
        else expect(next, `${c.id} bin ${i}`).toBeGreaterThanOrEqual(prev);
      }
    }
  });

  it("is printed in docs/scoring.md exactly as the code has it", () => {
    const docs = readFileSync(new URL("../../../docs/scoring.md", import.meta.url), "utf8");
    expect(docs).toContain(MODEL_VERSION);
    for (const c of SCORECARD) {
      for (const b of c.bins) {
        const reason = b.points < maxPoints(c) ? (b.reason ?? c.reason) : "";
        expect(docs, `${c.id} ${b.label}`).toContain(`| ${c.id} | ${c.name} | ${b.label} | ${b.points} | ${reason} |`);
      }
      if (c.missing) {
        expect(docs).toContain(`| ${c.id} | ${c.name} | ${c.missing.label} | ${c.missing.points} | ${c.missing.reason} |`);
      }
    }
    for (const [code, text] of Object.entries(REASON_TEXTS)) expect(docs).toContain(`| ${code} | ${text} |`);
    for (const name of Object.values(FACTOR_NAMES)) expect(docs).toContain(name);
  });
});

// ---- properties -------------------------------------------------------------

const AS_OF_DATES = ["2026-03-31", "2026-05-01", "2025-02-28", "2024-02-29"];
const INSTITUTIONS = ["bank-a", "bank-b", "bank-c", "lender-d", "lender-e", "lender-f"];
const CHAIN = [
  AccountStatus.CURRENT,
  AccountStatus.PAST_DUE_30,
  AccountStatus.PAST_DUE_60,
  AccountStatus.PAST_DUE_90,
  AccountStatus.PAST_DUE_120,
  AccountStatus.PAST_DUE_150,
  AccountStatus.PAST_DUE_180_PLUS,
  AccountStatus.CHARGED_OFF,
];

const day = (asOf: string, offset: number) => isoOfEpochDay((epochDay(asOf) as number) + offset);

const amount = (max: number) => fc.integer({ min: 0, max }).map(String);

function arbTradeline(asOf: string, openedOffset: fc.Arbitrary<number>): fc.Arbitrary<Tradeline> {
  return fc
    .record({
      institutionId: fc.constantFrom(...INSTITUTIONS),
      accountRef: fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 4, maxLength: 8 }),
      productType: fc.integer({ min: 1, max: 6 }) as fc.Arbitrary<ProductType>,
      opened: openedOffset,
      closedAfter: fc.option(fc.integer({ min: 0, max: 4000 }), { nil: undefined }),
      creditLimit: amount(20_000_000),
      balance: amount(20_000_000),
      amountPastDue: amount(2_000_000),
      status: fc.integer({ min: 1, max: 10 }) as fc.Arbitrary<AccountStatus>,
      paymentHistory: fc.array(fc.constantFrom(..."00000000123456BDE"), { minLength: 24, maxLength: 24 }).map((a) => a.join("")),
    })
    .map(({ opened, closedAfter, ...t }) =>
      tradeline({
        ...t,
        openedOn: day(asOf, -opened),
        closedOn: closedAfter === undefined ? "" : day(asOf, -opened + closedAfter),
      }),
    );
}

const arbInquiry = (asOf: string) =>
  fc
    .record({
      id: fc.uuid(),
      requester: fc.constantFrom(...INSTITUTIONS, "lender-g", "lender-h"),
      minutesBefore: fc.integer({ min: -60 * 24, max: 60 * 24 * 60 }),
    })
    .map(({ id, requester, minutesBefore }) =>
      inquiry(id, requester, new Date(Date.parse(`${asOf}T23:59:00Z`) - minutesBefore * 60_000).toISOString()),
    );

const arbFile = fc.constantFrom(...AS_OF_DATES).chain((asOf) =>
  fc.record({
    asOf: fc.constant(asOf),
    tradelines: fc.array(arbTradeline(asOf, fc.integer({ min: 0, max: 4000 })), { minLength: 1, maxLength: 7 }),
    inquiries: fc.array(arbInquiry(asOf), { maxLength: 6 }),
  }),
);

type File = { asOf: string; tradelines: Tradeline[]; inquiries: Inquiry[] };
const scoreFile = (f: File) => scoreOf(f.tradelines, f.inquiries, f.asOf);

function neverRises(before: Score, after: Score): void {
  if (!before.scorable) return;
  expect(after.scorable).toBe(true);
  expect(after.value).toBeLessThanOrEqual(before.value);
}

const RUNS = { numRuns: 400 };

describe("score properties", () => {
  it("stays within 300-850 when scorable", () => {
    fc.assert(
      fc.property(arbFile, (f) => {
        const s = scoreFile(f);
        if (s.scorable) {
          expect(s.value).toBeGreaterThanOrEqual(SCORE_MIN);
          expect(s.value).toBeLessThanOrEqual(SCORE_MAX);
          expect(s.reasons.length).toBeLessThanOrEqual(4);
          expect(new Set(s.reasons.map((r) => r.code)).size).toBe(s.reasons.length);
        } else {
          expect(s.value).toBe(0);
          expect(s.unscorableReason).not.toBe("");
        }
      }),
      RUNS,
    );
  });

  it("gives the same score and reasons for the same input, in any order", () => {
    fc.assert(
      fc.property(arbFile, (f) => {
        const s = scoreFile(f);
        expect(scoreFile(structuredClone(f))).toEqual(s);
        expect(scoreFile({ ...f, tradelines: [...f.tradelines].reverse(), inquiries: [...f.inquiries].reverse() })).toEqual(s);
      }),
      RUNS,
    );
  });

  it("never rises when a month of payment history gets later", () => {
    fc.assert(
      fc.property(arbFile, fc.nat(), fc.nat({ max: 23 }), fc.integer({ min: 1, max: 6 }), (f, which, month, lateness) => {
        const i = which % f.tradelines.length;
        const tl = f.tradelines[i];
        const current = tl.paymentHistory[month];
        const level = current === "E" ? 0 : Number(current);
        fc.pre(/[0-6E]/.test(current) && lateness > level);
        const worse = { ...tl, paymentHistory: tl.paymentHistory.slice(0, month) + lateness + tl.paymentHistory.slice(month + 1) };
        neverRises(scoreFile(f), scoreFile({ ...f, tradelines: f.tradelines.with(i, worse) }));
      }),
      RUNS,
    );
  });

  it("never rises when an account's status gets worse", () => {
    fc.assert(
      fc.property(arbFile, fc.nat(), fc.integer({ min: 1, max: 7 }), (f, which, steps) => {
        const i = which % f.tradelines.length;
        const at = CHAIN.indexOf(f.tradelines[i].status);
        fc.pre(at >= 0 && at + steps < CHAIN.length);
        const worse = { ...f.tradelines[i], status: CHAIN[at + steps] };
        neverRises(scoreFile(f), scoreFile({ ...f, tradelines: f.tradelines.with(i, worse) }));
      }),
      RUNS,
    );
  });

  it("never rises when an amount past due grows", () => {
    fc.assert(
      fc.property(arbFile, fc.nat(), fc.integer({ min: 1, max: 50_000_000 }), (f, which, growth) => {
        const i = which % f.tradelines.length;
        const tl = f.tradelines[i];
        const worse = { ...tl, amountPastDue: String(BigInt(tl.amountPastDue) + BigInt(growth)) };
        neverRises(scoreFile(f), scoreFile({ ...f, tradelines: f.tradelines.with(i, worse) }));
      }),
      RUNS,
    );
  });

  it("never rises when another institution opens a new account", () => {
    const arbCase = arbFile.chain((f) =>
      fc.record({
        f: fc.constant(f),
        added: arbTradeline(f.asOf, fc.integer({ min: 0, max: 90 })),
        newcomer: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(arbCase, ({ f, added, newcomer }) => {
        const account = newcomer ? { ...added, institutionId: "newcomer" } : added;
        neverRises(scoreFile(f), scoreFile({ ...f, tradelines: [...f.tradelines, account] }));
      }),
      RUNS,
    );
  });

  it("never rises when another institution inquires", () => {
    const arbCase = arbFile.chain((f) =>
      fc.record({ f: fc.constant(f), minutes: fc.integer({ min: 0, max: 60 * 24 * 29 }), purpose: fc.constantFrom(1, 2, 3) }),
    );
    fc.assert(
      fc.property(arbCase, ({ f, minutes, purpose }) => {
        const at = new Date(Date.parse(`${f.asOf}T23:59:00Z`) - minutes * 60_000).toISOString();
        const added = inquiry("q-newcomer", "newcomer", at, purpose as Purpose);
        neverRises(scoreFile(f), scoreFile({ ...f, inquiries: [...f.inquiries, added] }));
      }),
      RUNS,
    );
  });

  it("the guarantees are not vacuous: each change can lower a score", () => {
    const base = cleanLongHistory();
    const before = scoreOf(base, currentInquiry).value;
    const at = (i: number, t: Partial<Tradeline>) => base.with(i, { ...base[i], ...t });
    expect(scoreOf(at(0, { paymentHistory: history("1", "0") }), currentInquiry).value).toBeLessThan(before);
    expect(scoreOf(at(0, { status: AccountStatus.PAST_DUE_30 }), currentInquiry).value).toBeLessThan(before);
    expect(scoreOf(at(0, { amountPastDue: "1" }), currentInquiry).value).toBeLessThan(before);
    const fresh = tradeline({ institutionId: "newcomer", accountRef: "n", productType: ProductType.CASH_LOAN, openedOn: addMonths(AS_OF, -1) });
    expect(scoreOf([...base, fresh], currentInquiry).value).toBeLessThan(before);
    const asked = [...currentInquiry, inquiry("q2", "lender-x", "2026-03-20T00:00:00Z")];
    expect(scoreOf(base, asked).value).toBeLessThan(before);
  });
});
