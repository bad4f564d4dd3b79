/**
 * Calendar dates, UTC only. A date is either an ISO string (YYYY-MM-DD) or a
 * day number (days since 1970-01-01). Pure integer arithmetic: no Date object,
 * so no local timezone and no two-digit-year quirks of Date.UTC can leak in.
 */

import { quote } from "./quote.js";

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

export function isRealDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

// Howard Hinnant's days_from_civil: proleptic Gregorian, exact for any year.
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Why `value` is not an ISO calendar date, or undefined when it is one. */
export function isoDateProblem(value: string): string | undefined {
  const m = ISO_DATE.exec(value);
  if (!m) return `must be a date in YYYY-MM-DD form, got ${quote(value)}`;
  if (!isRealDate(Number(m[1]), Number(m[2]), Number(m[3]))) return `${value} is not a real date`;
  return undefined;
}

/** Day number of an ISO date; a malformed date here is a programming error, hence RangeError. */
export function toDay(iso: string): number {
  const m = ISO_DATE.exec(iso);
  const year = Number(m?.[1]);
  const month = Number(m?.[2]);
  const day = Number(m?.[3]);
  if (!m || !isRealDate(year, month, day)) throw new RangeError(`not an ISO calendar date: ${quote(iso)}`);
  return daysFromCivil(year, month, day);
}

export function fromDay(days: number): string {
  const { year, month, day } = civilFromDays(days);
  return `${String(year).padStart(4, "0")}-${pad2(month)}-${pad2(day)}`;
}

export function addDays(iso: string, n: number): string {
  return fromDay(toDay(iso) + n);
}

/** a − b in days. */
export function diffDays(a: string, b: string): number {
  return toDay(a) - toDay(b);
}

/** Months counted from year 0 (year × 12 + month − 1), so that month arithmetic is subtraction. */
export function monthIndexOfDay(days: number): number {
  const { year, month } = civilFromDays(days);
  return year * 12 + month - 1;
}

export function monthIndex(iso: string): number {
  return monthIndexOfDay(toDay(iso));
}

/** Day number of the last day of a month given by its monthIndex. */
export function endOfMonthDay(index: number): number {
  const year = Math.floor(index / 12);
  const month = index - year * 12 + 1;
  return daysFromCivil(year, month, daysInMonth(year, month));
}

export function endOfMonth(iso: string): string {
  return fromDay(endOfMonthDay(monthIndex(iso)));
}

/** Same day n months later (or earlier), clamped to the end of a shorter month (Jan 31 + 1 → Feb 28/29). */
export function addMonths(iso: string, n: number): string {
  const { year, month, day } = civilFromDays(toDay(iso));
  const index = year * 12 + month - 1 + n;
  const y = Math.floor(index / 12);
  const mo = index - y * 12 + 1;
  return fromDay(daysFromCivil(y, mo, Math.min(day, daysInMonth(y, mo))));
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}
