import { AccountStatus, DisputeFlag } from "../gen/creditmesh/v1/common.js";
import type { Tradeline } from "../gen/creditmesh/v1/report.js";
import { isOpen } from "./account-state.js";
import { requireEpochDay } from "./dates.js";

/**
 * The most tradelines a holder lists in one answer. A borrower of a platform
 * that books every instalment purchase as an account can hold thousands at
 * one institution; each listed tradeline costs ~170 bytes, and its record
 * proof 100 bytes plus 34 per level of the holder's log (40 levels at a
 * trillion leaves). 500 of them stay under 850 KiB at that depth, leaving the
 * rest of the 1 MiB frame to the (capped) inquiries: a larger file never makes
 * the answer too large to send. The requester accepts up to 1,000
 * (report/answer-content.ts MAX_TRADELINES_PER_ANSWER).
 */
export const MAX_TRADELINES_LISTED = 500;

/** Material to a lender: open, or with anything adverse on it (a delinquency, an amount past due, a write-off, a dispute). */
function material(tl: Tradeline, asOfDay: number): boolean {
  if (isOpen(tl, asOfDay)) return true;
  if (tl.status !== AccountStatus.CURRENT && tl.status !== AccountStatus.PAID && tl.status !== AccountStatus.CLOSED) return true;
  return tl.maxDaysPastDue > 0 || !/^0*$/.test(tl.amountPastDue) || tl.dispute !== DisputeFlag.NONE;
}

/**
 * The tradelines an answer lists when a holder has more than `max` for the
 * subject: every material one first (the newest opened first if even those
 * are too many), then the most recently closed in good standing. The ones
 * listed keep their order in `tradelines`; `total` is how many there were.
 */
export function capTradelines(tradelines: readonly Tradeline[], asOf: string, max = MAX_TRADELINES_LISTED): { listed: Tradeline[]; total: number } {
  if (tradelines.length <= max) return { listed: [...tradelines], total: tradelines.length };
  const asOfDay = requireEpochDay(asOf, "as_of");
  const rank = tradelines.map((tl, i) => ({ i, material: material(tl, asOfDay), recent: tl.closedOn || tl.openedOn, opened: tl.openedOn }));
  rank.sort(
    (a, b) =>
      Number(b.material) - Number(a.material) ||
      (a.material ? compareDesc(a.opened, b.opened) : compareDesc(a.recent, b.recent) || compareDesc(a.opened, b.opened)) ||
      a.i - b.i,
  );
  const keep = new Set(rank.slice(0, max).map((r) => r.i));
  return { listed: tradelines.filter((_, i) => keep.has(i)), total: tradelines.length };
}

function compareDesc(a: string, b: string): number {
  return a === b ? 0 : a > b ? -1 : 1;
}
