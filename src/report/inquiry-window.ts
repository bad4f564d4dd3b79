import { isoDate } from "../clock.js";
import type { Inquiry } from "../gen/creditmesh/v1/report.js";
import { isRequestId } from "../request-id.js";

/** How far back an answer's inquiries reach: what a lender's decision looks at. */
export const INQUIRY_WINDOW_MONTHS = 24;

/**
 * The most inquiries one holder answer carries. Far above what a report
 * shows and far below the frame limit (an inquiry is under 150 bytes on the
 * wire), so no flood of queries can make an answer too large to send.
 */
export const MAX_INQUIRIES_PER_ANSWER = 200;

/**
 * The inquiries an answer as of `asOf` carries: those within the last
 * INQUIRY_WINDOW_MONTHS up to `asOf`, one per requester, purpose and day
 * (the latest), the newest `max` of them in time order, and how many there
 * were before the cap (`total`). `inquiries` is the log in any order.
 */
export function inquiryWindow(
  inquiries: readonly Inquiry[],
  asOf: string,
  max: number = MAX_INQUIRIES_PER_ANSWER,
): { shown: Inquiry[]; total: number } {
  const from = monthsBefore(asOf, INQUIRY_WINDOW_MONTHS);
  const byDay = new Map<string, Inquiry>();
  for (const inquiry of inquiries) {
    // A log written before holders refused odd request ids may hold one of any length: never sent on.
    if (!inquiry.inquiredAt || !isRequestId(inquiry.inquiryId)) continue;
    const day = isoDate(inquiry.inquiredAt);
    if (day > asOf || day <= from) continue;
    const key = `${inquiry.requesterInstitutionId}\u0000${inquiry.purpose}\u0000${day}`;
    const kept = byDay.get(key);
    if (!kept || kept.inquiredAt!.getTime() < inquiry.inquiredAt.getTime()) byDay.set(key, inquiry);
  }
  const distinct = [...byDay.values()].sort((a, b) => a.inquiredAt!.getTime() - b.inquiredAt!.getTime() || a.inquiryId.localeCompare(b.inquiryId));
  return { shown: distinct.slice(Math.max(0, distinct.length - Math.max(0, max))), total: distinct.length };
}

/** The last day before an answer's window as of `asOf`: the window holds the days after it, up to `asOf`. */
export function windowStartsAfter(asOf: string): string {
  return monthsBefore(asOf, INQUIRY_WINDOW_MONTHS);
}

/** The date `months` calendar months before `date` (YYYY-MM-DD), clamped to the month's last day. */
function monthsBefore(date: string, months: number): string {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  const month = y * 12 + (m - 1) - months;
  const year = Math.floor(month / 12);
  const mon = month - year * 12;
  const last = new Date(Date.UTC(year, mon + 1, 0)).getUTCDate();
  return new Date(Date.UTC(year, mon, Math.min(d, last))).toISOString().slice(0, 10);
}
