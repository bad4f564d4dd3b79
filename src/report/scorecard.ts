/**
 * The scorecard as data: every characteristic, its bins and their points.
 * docs/scoring.md prints this table; a test keeps the two in step.
 */
export const MODEL_VERSION = "cm-score-1.0";
export const SCORE_MIN = 300;
export const SCORE_MAX = 850;

export const REASON_TEXTS = {
  D01: "Serious delinquency in the last 24 months",
  D02: "Late payment in the last 24 months",
  D03: "Accounts currently past due",
  D04: "Amount past due on accounts",
  D05: "Account charged off",
  U01: "High utilization of revolving credit",
  U02: "No revolving credit with a limit to show utilization",
  U03: "Past-due amount is high relative to credit limits",
  H01: "Short credit history",
  H02: "Accounts are new on average",
  N01: "Loans opened at many institutions recently",
  N02: "Account opened in the last 90 days",
  N03: "Many accounts opened recently",
  N04: "Credit inquiries from many institutions recently",
  M01: "Few types of credit",
  M02: "No mix of installment and revolving credit",
} as const;

export type ReasonId = keyof typeof REASON_TEXTS;

export type FactorId = "PAYMENT_HISTORY" | "AMOUNTS_OWED" | "HISTORY_LENGTH" | "NEW_CREDIT" | "CREDIT_MIX";

export const FACTOR_NAMES: Readonly<Record<FactorId, string>> = {
  PAYMENT_HISTORY: "Payment history",
  AMOUNTS_OWED: "Amounts owed and utilization",
  HISTORY_LENGTH: "Length of credit history",
  NEW_CREDIT: "New credit and multi-lending",
  CREDIT_MIX: "Credit mix",
};

/** What the scorecard measures about a file; see score-attributes.ts. */
export interface ScoreAttributes {
  worstDelinquency24m: number;
  delinquentAccounts: number;
  totalPastDue: number;
  chargedOffAccounts: number;
  /** undefined when no seasoned revolving account has a limit. */
  revolvingUtilizationBp: number | undefined;
  pastDueToLimitsBp: number;
  oldestAccountMonths: number;
  averageAccountMonths: number;
  institutionsOpened90d: number;
  accountsOpened90d: number;
  inquiringInstitutions30d: number;
  seasonedProductTypes: number;
  /** 0 none, 1 installment or revolving, 2 both. */
  seasonedMix: number;
}

export interface Bin {
  label: string;
  /** Inclusive upper bound of the measured value; bins are in ascending order. */
  upTo: number;
  points: number;
  /** Overrides the characteristic's reason when this bin loses points. */
  reason?: ReasonId;
}

export interface Characteristic {
  id: string;
  factor: FactorId;
  name: string;
  /**
   * "riskier" when a higher value means more risk (points never rise along
   * the bins), "safer" when it means less (points never fall). The
   * monotonicity guarantees rest on this being true of every row.
   */
  higherIs: "riskier" | "safer";
  reason: ReasonId;
  bins: readonly Bin[];
  /** Used when the value cannot be measured (no revolving limit). */
  missing?: { label: string; points: number; reason: ReasonId };
  measure(a: ScoreAttributes): number | undefined;
}

const ANY = Number.POSITIVE_INFINITY;

export const SCORECARD: readonly Characteristic[] = [
  {
    id: "P1",
    factor: "PAYMENT_HISTORY",
    name: "Worst delinquency in the last 24 months",
    higherIs: "riskier",
    reason: "D01",
    measure: (a) => a.worstDelinquency24m,
    bins: [
      { label: "none", upTo: 0, points: 140 },
      { label: "30 days", upTo: 1, points: 85, reason: "D02" },
      { label: "60 days", upTo: 2, points: 55, reason: "D02" },
      { label: "90 days", upTo: 3, points: 20 },
      { label: "120 to 180+ days", upTo: 6, points: 8 },
      { label: "charged off", upTo: ANY, points: 0 },
    ],
  },
  {
    id: "P2",
    factor: "PAYMENT_HISTORY",
    name: "Accounts currently past due",
    higherIs: "riskier",
    reason: "D03",
    measure: (a) => a.delinquentAccounts,
    bins: [
      { label: "0", upTo: 0, points: 25 },
      { label: "1", upTo: 1, points: 10 },
      { label: "2 or more", upTo: ANY, points: 0 },
    ],
  },
  {
    id: "P3",
    factor: "PAYMENT_HISTORY",
    name: "Total amount past due (minor units)",
    higherIs: "riskier",
    reason: "D04",
    measure: (a) => a.totalPastDue,
    bins: [
      { label: "0", upTo: 0, points: 20 },
      { label: "1 to 50,000", upTo: 50_000, points: 12 },
      { label: "50,001 to 500,000", upTo: 500_000, points: 5 },
      { label: "over 500,000", upTo: ANY, points: 0 },
    ],
  },
  {
    id: "P4",
    factor: "PAYMENT_HISTORY",
    name: "Charged-off accounts",
    higherIs: "riskier",
    reason: "D05",
    measure: (a) => a.chargedOffAccounts,
    bins: [
      { label: "0", upTo: 0, points: 10 },
      { label: "1 or more", upTo: ANY, points: 0 },
    ],
  },
  {
    id: "A1",
    factor: "AMOUNTS_OWED",
    name: "Revolving utilization (seasoned accounts)",
    higherIs: "riskier",
    reason: "U01",
    measure: (a) => a.revolvingUtilizationBp,
    missing: { label: "no revolving limit", points: 60, reason: "U02" },
    bins: [
      { label: "under 10 %", upTo: 999, points: 120 },
      { label: "10 to 29.99 %", upTo: 2_999, points: 100 },
      { label: "30 to 49.99 %", upTo: 4_999, points: 70 },
      { label: "50 to 74.99 %", upTo: 7_499, points: 40 },
      { label: "75 to 99.99 %", upTo: 9_999, points: 15 },
      { label: "100 % or more", upTo: ANY, points: 0 },
    ],
  },
  {
    id: "A2",
    factor: "AMOUNTS_OWED",
    name: "Amount past due relative to credit limits",
    higherIs: "riskier",
    reason: "U03",
    measure: (a) => a.pastDueToLimitsBp,
    bins: [
      { label: "nothing past due", upTo: 0, points: 45 },
      { label: "up to 5 %", upTo: 500, points: 25 },
      { label: "over 5 % to 20 %", upTo: 2_000, points: 10 },
      { label: "over 20 %, or past due without a limit", upTo: ANY, points: 0 },
    ],
  },
  {
    id: "L1",
    factor: "HISTORY_LENGTH",
    name: "Age of oldest account (months)",
    higherIs: "safer",
    reason: "H01",
    measure: (a) => a.oldestAccountMonths,
    bins: [
      { label: "under 12", upTo: 11, points: 0 },
      { label: "12 to 23", upTo: 23, points: 15 },
      { label: "24 to 47", upTo: 47, points: 25 },
      { label: "48 to 83", upTo: 83, points: 35 },
      { label: "84 or more", upTo: ANY, points: 45 },
    ],
  },
  {
    id: "L2",
    factor: "HISTORY_LENGTH",
    name: "Average age of accounts (months)",
    higherIs: "safer",
    reason: "H02",
    measure: (a) => a.averageAccountMonths,
    bins: [
      { label: "under 6", upTo: 5, points: 0 },
      { label: "6 to 11", upTo: 11, points: 10 },
      { label: "12 to 23", upTo: 23, points: 18 },
      { label: "24 to 47", upTo: 47, points: 27 },
      { label: "48 or more", upTo: ANY, points: 35 },
    ],
  },
  {
    id: "N1",
    factor: "NEW_CREDIT",
    name: "Institutions with accounts opened in the last 90 days",
    higherIs: "riskier",
    reason: "N01",
    measure: (a) => a.institutionsOpened90d,
    bins: [
      { label: "0", upTo: 0, points: 25 },
      { label: "1", upTo: 1, points: 18, reason: "N02" },
      { label: "2", upTo: 2, points: 10 },
      { label: "3", upTo: 3, points: 4 },
      { label: "4 or more", upTo: ANY, points: 0 },
    ],
  },
  {
    id: "N2",
    factor: "NEW_CREDIT",
    name: "Inquiring institutions in the last 30 days",
    higherIs: "riskier",
    reason: "N04",
    measure: (a) => a.inquiringInstitutions30d,
    bins: [
      { label: "0 or 1", upTo: 1, points: 20 },
      { label: "2", upTo: 2, points: 12 },
      { label: "3", upTo: 3, points: 5 },
      { label: "4 or more", upTo: ANY, points: 0 },
    ],
  },
  {
    id: "N3",
    factor: "NEW_CREDIT",
    name: "Accounts opened in the last 90 days",
    higherIs: "riskier",
    reason: "N03",
    measure: (a) => a.accountsOpened90d,
    bins: [
      { label: "0", upTo: 0, points: 10 },
      { label: "1", upTo: 1, points: 7, reason: "N02" },
      { label: "2", upTo: 2, points: 4 },
      { label: "3 or more", upTo: ANY, points: 0 },
    ],
  },
  {
    id: "M1",
    factor: "CREDIT_MIX",
    name: "Product types among seasoned accounts",
    higherIs: "safer",
    reason: "M01",
    measure: (a) => a.seasonedProductTypes,
    bins: [
      { label: "0", upTo: 0, points: 0 },
      { label: "1", upTo: 1, points: 10 },
      { label: "2", upTo: 2, points: 20 },
      { label: "3 or more", upTo: ANY, points: 30 },
    ],
  },
  {
    id: "M2",
    factor: "CREDIT_MIX",
    name: "Installment and revolving among seasoned accounts",
    higherIs: "safer",
    reason: "M02",
    measure: (a) => a.seasonedMix,
    bins: [
      { label: "neither", upTo: 0, points: 0 },
      { label: "one of the two", upTo: 1, points: 10 },
      { label: "both", upTo: ANY, points: 25 },
    ],
  },
];

export function maxPoints(c: Characteristic): number {
  return Math.max(...c.bins.map((b) => b.points), c.missing?.points ?? 0);
}
