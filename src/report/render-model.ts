import { holderStatusToJSON } from "../gen/creditmesh/v1/common.js";
import type { CreditReport, HolderOutcome, Inquiry } from "../gen/creditmesh/v1/report.js";
import { answeredInFull } from "./assemble.js";

/**
 * What the text and HTML reports both show, worked out once: who is
 * missing, how institutions are named, the borrower as the lender supplied
 * them, and inquiries grouped.
 */

/** The borrower as the lender named them in its request; the report itself carries only a token. */
export interface ReportSubject {
  idNumber: string;
  name: string;
}

export interface RenderOptions {
  subject?: ReportSubject;
  /** ANSI colour for delinquency and the incomplete banner (text only, for a terminal). */
  color?: boolean;
}

/** First 6 and last 4 characters shown (region and check digits of a resident ID), the rest masked. */
export function maskId(id: string): string {
  const chars = [...id];
  if (chars.length <= 10) return "*".repeat(Math.max(0, chars.length - 2)) + chars.slice(-2).join("");
  return chars.slice(0, 6).join("") + "*".repeat(chars.length - 10) + chars.slice(-4).join("");
}

export function institutionName(report: CreditReport, id: string): string {
  if (id.startsWith("anon:")) return "another institution";
  return report.institutionNames?.[id] || id;
}

/** "Bank A (bank-a)", or the id alone when the manifest gives no other name. */
export function institutionLabel(report: CreditReport, id: string): string {
  const name = institutionName(report, id);
  return name === id || id.startsWith("anon:") ? name : `${name} (${id})`;
}

export function missingHolders(report: CreditReport): HolderOutcome[] {
  return report.holders.filter((h) => !answeredInFull(h.status));
}

/**
 * "2 of 3 institutions answered; cfc-b did not answer: TIMEOUT", or
 * undefined when every member that may hold data answered. Worked out from
 * the holders so that a report from a node that predates `complete` reads right.
 */
export function incompleteNotice(report: CreditReport): string | undefined {
  const missing = missingHolders(report);
  if (missing.length === 0 && report.holders.length > 0) return undefined;
  if (report.holders.length === 0) return "no institution was asked";
  const total = report.holders.length;
  const who = missing
    .map((h) => {
      const name = institutionName(report, h.institutionId);
      return `${h.institutionId} did not answer: ${holderStatusToJSON(h.status)}${name !== h.institutionId ? ` (${name})` : ""}`;
    })
    .join("; ");
  return `${total - missing.length} of ${total} institution${total === 1 ? "" : "s"} answered; ${who}`;
}

/** A holder's accounts as the report lists them: "12", or "500 of 1200" when it listed part of a very large file. */
export function listedAccounts(h: HolderOutcome): string {
  return h.tradelinesTotal > h.tradelines ? `${h.tradelines} of ${h.tradelinesTotal}` : String(h.tradelines);
}

/**
 * One sentence per holder that listed only part of its accounts for the
 * subject (report/tradeline-cap.ts), for the tradelines section: which ones,
 * and that the figures count the listed ones.
 */
export function partialListings(report: CreditReport): string[] {
  return report.holders
    .filter((h) => h.tradelinesTotal > h.tradelines)
    .map(
      (h) =>
        `${institutionLabel(report, h.institutionId)} holds ${h.tradelinesTotal} accounts for this borrower and lists ${h.tradelines}: the open and derogatory ones first, then the most recently closed; the summary and the score count the listed ones`,
    );
}

export interface InquiryGroup {
  institutionId: string;
  name: string;
  purpose: Inquiry["purpose"];
  count: number;
  latest?: Date;
}

/** One row per inquiring institution and purpose, most recent first: repeated pulls are counted, not listed. */
export function groupInquiries(report: CreditReport): InquiryGroup[] {
  const groups = new Map<string, InquiryGroup>();
  for (const q of report.inquiries) {
    const key = `${q.requesterInstitutionId}\u0000${q.purpose}`;
    let g = groups.get(key);
    if (!g) {
      const name = q.requesterName || institutionName(report, q.requesterInstitutionId);
      g = { institutionId: q.requesterInstitutionId, name, purpose: q.purpose, count: 0 };
      groups.set(key, g);
    }
    g.count++;
    if (q.inquiredAt && (!g.latest || q.inquiredAt > g.latest)) g.latest = q.inquiredAt;
  }
  return [...groups.values()].sort((a, b) => (b.latest?.getTime() ?? 0) - (a.latest?.getTime() ?? 0) || a.institutionId.localeCompare(b.institutionId));
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
