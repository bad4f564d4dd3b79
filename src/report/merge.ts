import { Inquiry, Tradeline } from "../gen/creditmesh/v1/report.js";

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
 * One inquiry per inquiry_id (every holder logs the same request), newest
 * first. The requester's display name comes from the manifest, never from a
 * holder.
 */
export function mergeInquiries(inquiries: Iterable<Inquiry>, memberNames: ReadonlyMap<string, string>): Inquiry[] {
  const byId = new Map<string, Inquiry>();
  for (const q of inquiries) {
    const named: Inquiry = { ...q, requesterName: memberNames.get(q.requesterInstitutionId) ?? "" };
    const seen = byId.get(q.inquiryId);
    if (seen === undefined || preferInquiry(named, seen)) byId.set(q.inquiryId, named);
  }
  return [...byId.values()].sort((a, b) => timeOf(b) - timeOf(a) || compareStrings(a.inquiryId, b.inquiryId));
}

function preferInquiry(candidate: Inquiry, seen: Inquiry): boolean {
  const byTime = timeOf(candidate) - timeOf(seen);
  if (byTime !== 0) return byTime < 0;
  return compareBytes(Inquiry.encode(candidate).finish(), Inquiry.encode(seen).finish()) < 0;
}

function timeOf(q: Inquiry): number {
  return q.inquiredAt?.getTime() ?? Number.NEGATIVE_INFINITY;
}
