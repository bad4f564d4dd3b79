import { DAY_MS } from "../clock.js";
import { invalid } from "../errors.js";
import { addMonths, fromDay, isoDateProblem, toDay } from "../records/dates.js";

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of a YYYY-MM-DD calendar date; undefined unless it is a real date. */
export function epochDay(iso: string): number | undefined {
  return isoDateProblem(iso) === undefined ? toDay(iso) : undefined;
}

export function requireEpochDay(iso: string, field: string): number {
  const day = epochDay(iso);
  if (day === undefined) throw invalid(field, "must be a calendar date YYYY-MM-DD");
  return day;
}

export const isoOfEpochDay = fromDay;

export { addMonths };

/** Whole calendar months from `from` to `to`; 0 when `to` is not later. */
export function fullMonthsBetween(from: string, to: string): number {
  const a = ISO_DATE.exec(from);
  const b = ISO_DATE.exec(to);
  if (!a || !b) return 0;
  const months =
    (Number(b[1]) - Number(a[1])) * 12 + (Number(b[2]) - Number(a[2])) - (Number(b[3]) < Number(a[3]) ? 1 : 0);
  return Math.max(0, months);
}

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in ms: the range google.protobuf.Timestamp allows. */
const TIMESTAMP_MIN_MS = -62_135_596_800_000;
const TIMESTAMP_MAX_MS = 253_402_300_799_999;

/**
 * Whether a decoded Timestamp is a time the report can carry: a seconds
 * field past ±8.64e12 decodes to an Invalid Date, which the encoder then
 * throws on, and one past year 9999 is refused by other protobuf runtimes.
 */
export function isTimestampInRange(at: Date | undefined): at is Date {
  const t = at?.getTime();
  // NaN (Invalid Date) fails both comparisons.
  return t !== undefined && t >= TIMESTAMP_MIN_MS && t <= TIMESTAMP_MAX_MS;
}

/**
 * The windows every multi-lending signal uses, fixed here so summary and
 * score can never disagree about them.
 */
export interface ReportWindows {
  asOfDay: number;
  /** Accounts opened on [first90, asOf] count as opened "in the last 90 days". */
  first90: number;
  /** Inquiries at [start30Ms, endMs) count as "in the last 30 days". */
  start30Ms: number;
  endMs: number;
}

export function reportWindows(asOf: string): ReportWindows {
  const asOfDay = requireEpochDay(asOf, "as_of");
  const endMs = (asOfDay + 1) * DAY_MS;
  return { asOfDay, first90: asOfDay - 90, start30Ms: endMs - 30 * DAY_MS, endMs };
}

export function openedInLast90Days(openedOn: string, w: ReportWindows): boolean {
  const day = epochDay(openedOn);
  return day !== undefined && day >= w.first90 && day <= w.asOfDay;
}

export function inLast30Days(at: Date | undefined, w: ReportWindows): boolean {
  if (at === undefined) return false;
  const t = at.getTime();
  return t >= w.start30Ms && t < w.endMs;
}
