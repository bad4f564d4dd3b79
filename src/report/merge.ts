import { DAY_MS } from "../clock.js";
import { type Inquiry, Tradeline } from "../gen/creditmesh/v1/report.js";
import { epochDay, isTimestampInRange } from "./dates.js";

/** Code-unit order: independent of locale, so every node sorts alike. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function tradelineKey(tl: Pick<Tradeline, "institutionId" | "accountRef">): string {
  return `${tl.institutionId}\u0000${tl.accountRef}`;
}

/**
 * One tradeline per (institution_id, account_ref), ordered by institution,
 * opening date, account_ref. Duplicates resolve to the most recently
 * reported, then the lowest encoding, so input order never matters.
 */
export function mergeTradelines(tradelines: Iterable<Tradeline>): Tradeline[] {
  const byKey = new Map<string, Tradeline>();
  for (const tl of tradelines) {
    const key = tradelineKey(tl);
    const seen = byKey.get(key);
    if (seen === undefined || preferTradeline(tl, seen)) byKey.set(key, tl);
  }
  return [...byKey.values()].sort(
    (a, b) =>
      compareStrings(a.institutionId, b.institutionId) ||
      compareStrings(a.openedOn, b.openedOn) ||
      compareStrings(a.accountRef, b.accountRef),
  );
}

function preferTradeline(candidate: Tradeline, seen: Tradeline): boolean {
  const byDate = compareStrings(candidate.reportedOn, seen.reportedOn);
  if (byDate !== 0) return byDate > 0;
  return compareBytes(Tradeline.encode(candidate).finish(), Tradeline.encode(seen).finish()) < 0;
}

/**
 * One inquiry per (inquiry_id, requester, purpose), newest first. Every
 * holder logs the same request under its id, so honest copies differ only in
 * the holder's clock. The key takes in requester and purpose so that a copy
 * naming another requester or purpose cannot stand in for the real one; it
 * appears beside it instead, as any inquiry a holder invents would.
 *
 * Of copies that disagree on the time, the latest not after the end of
 * `asOf` is kept. Honest copies are all before that end (a holder's window
 * stops at as_of; only the requester's own query, in a report as of a past
 * day, lies after it), so the kept copy is at or after every honest one and
 * still inside the report: a holder cannot push another's inquiry out of the
 * 30-day (or 24-month) window by dating its copy earlier, later, or not at
 * all. Copies after the end only count when there is no other, and then the
 * earliest. An inquiry without a time a Timestamp can hold is dropped.
 *
 * The requester's display name comes from the manifest, never from a holder.
 */
export function mergeInquiries(inquiries: Iterable<Inquiry>, memberNames: ReadonlyMap<string, string>, asOf: string): Inquiry[] {
  const day = epochDay(asOf);
  const endMs = day === undefined ? Number.POSITIVE_INFINITY : (day + 1) * DAY_MS;
  const byKey = new Map<string, Inquiry>();
  for (const q of inquiries) {
    if (!isTimestampInRange(q.inquiredAt)) continue;
    const key = `${q.inquiryId}\u0000${q.requesterInstitutionId}\u0000${q.purpose}`;
    const seen = byKey.get(key);
    if (seen === undefined || preferInquiry(timeOf(q), timeOf(seen), endMs)) byKey.set(key, q);
  }
  const merged: Inquiry[] = [];
  // Copies under one key that agree on the time are alike but for requester_name, which is replaced here.
  for (const q of byKey.values()) merged.push({ ...q, requesterName: memberNames.get(q.requesterInstitutionId) ?? "" });
  return merged.sort(
    (a, b) =>
      timeOf(b) - timeOf(a) ||
      compareStrings(a.inquiryId, b.inquiryId) ||
      compareStrings(a.requesterInstitutionId, b.requesterInstitutionId) ||
      a.purpose - b.purpose,
  );
}

function preferInquiry(candidate: number, seen: number, endMs: number): boolean {
  const candidateIn = candidate < endMs;
  if (candidateIn !== seen < endMs) return candidateIn;
  return candidateIn ? candidate > seen : candidate < seen;
}

function timeOf(q: Inquiry): number {
  return q.inquiredAt!.getTime();
}
