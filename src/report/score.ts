import type { Inquiry, ReasonCode, Score, Summary, Tradeline } from "../gen/creditmesh/v1/report.js";
import { hasScorableHistory, scoreAttributes } from "./score-attributes.js";
import {
  type Characteristic,
  maxPoints,
  MODEL_VERSION,
  REASON_TEXTS,
  type ReasonId,
  SCORE_MAX,
  SCORE_MIN,
  SCORECARD,
  type ScoreAttributes,
} from "./scorecard.js";

export { MODEL_VERSION } from "./scorecard.js";

export const MAX_REASONS = 4;
export const THIN_FILE_REASON = "Not enough credit history: no account with at least 3 months of payment history";

export interface ScoreInput {
  tradelines: readonly Tradeline[];
  /** The figures that depend on inquiries are read from `summary`, which counted them. */
  inquiries: readonly Inquiry[];
  summary: Summary;
  asOf: string;
}

/** How one characteristic scored, for reasons, renderings and tests. */
export interface ScoredCharacteristic {
  id: string;
  value: number | undefined;
  bin: string;
  points: number;
  maxPoints: number;
  reason: ReasonId | undefined;
}

export function scoreReport(input: ScoreInput): Score {
  if (!hasScorableHistory(input.tradelines, input.asOf)) {
    return { scorable: false, value: 0, unscorableReason: THIN_FILE_REASON, reasons: [], modelVersion: MODEL_VERSION };
  }
  const scored = scoreCharacteristics(scoreAttributes(input.tradelines, input.summary, input.asOf));
  const total = scored.reduce((sum, c) => sum + c.points, 0);
  return {
    scorable: true,
    value: Math.min(SCORE_MAX, Math.max(SCORE_MIN, SCORE_MIN + total)),
    unscorableReason: "",
    reasons: reasonCodes(scored),
    modelVersion: MODEL_VERSION,
  };
}

export function scoreCharacteristics(attributes: ScoreAttributes): ScoredCharacteristic[] {
  return SCORECARD.map((c) => scoreOne(c, attributes));
}

function scoreOne(c: Characteristic, attributes: ScoreAttributes): ScoredCharacteristic {
  const value = c.measure(attributes);
  const max = maxPoints(c);
  if (value === undefined || Number.isNaN(value)) {
    const missing = c.missing ?? { label: "not measurable", points: 0, reason: c.reason };
    return { id: c.id, value: undefined, bin: missing.label, points: missing.points, maxPoints: max, reason: missing.reason };
  }
  const bin = c.bins.find((b) => value <= b.upTo) ?? c.bins[c.bins.length - 1];
  return { id: c.id, value, bin: bin.label, points: bin.points, maxPoints: max, reason: bin.reason ?? c.reason };
}

/** Largest loss first; ties keep the scorecard's order; each code once. */
function reasonCodes(scored: readonly ScoredCharacteristic[]): ReasonCode[] {
  const losing = scored
    .map((c, order) => ({ c, order, lost: c.maxPoints - c.points }))
    .filter((x) => x.lost > 0 && x.c.reason !== undefined)
    .sort((a, b) => b.lost - a.lost || a.order - b.order);
  const codes: ReasonId[] = [];
  for (const { c } of losing) {
    const code = c.reason as ReasonId;
    if (!codes.includes(code)) codes.push(code);
    if (codes.length === MAX_REASONS) break;
  }
  return codes.map((code) => ({ code, text: REASON_TEXTS[code] }));
}
