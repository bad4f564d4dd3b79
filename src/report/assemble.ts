import { HolderStatus, holderStatusToJSON, type Purpose } from "../gen/creditmesh/v1/common.js";
import type { CreditReport, HolderAnswer, HolderOutcome, Inquiry, Tradeline } from "../gen/creditmesh/v1/report.js";
import { compareStrings, mergeInquiries, mergeTradelines } from "./merge.js";
import { scoreReport } from "./score.js";
import { summarize } from "./summary.js";

/** One member's part in a report: its outcome, and its answer when it gave a verified one. */import { checkName } from "./name-check.js";

export interface HolderResult {
  outcome: HolderOutcome;
  answer?: HolderAnswer;
}

/**
 * LENDER: the requester sees its own inquiries, and counts of everyone's.
 * SUBJECT: the borrower sees every inquiry, by name.
 */
export type ReportAudience = "LENDER" | "SUBJECT";

export interface AssembleInput {
  reportId: string;
  requesterInstitutionId: string;
  purpose: Purpose;
  subjectToken: string;
  asOf: string;
  generatedAt: Date;
  holders: readonly HolderResult[];
  /** institution_id → display name, from the membership manifest. */
  memberNames: ReadonlyMap<string, string>;
  audience: ReportAudience;
  /** Tags of the name the requester was given, the one made now first (see report/name-check.ts); absent = not checked. */
  requestedNameTags?: readonly string[];
  /** Whether another holder's copy of an inquiry carries its requester's valid proof (report/inquiry-proof.ts); absent = not checked. */
  inquiryProven?: (inquiry: Inquiry, holderInstitutionId: string) => boolean;
}

/** Answers that carry data: a holder that denied, timed out or failed contributes nothing. */
export function contributes(outcome: HolderOutcome): boolean {
  return outcome.status === HolderStatus.OK || outcome.status === HolderStatus.NO_DATA;
}

/**
 * A holder vouches only for its own accounts, so a tradeline attributed to
 * another institution is not taken from its answer.
 */
export function ownTradelines(institutionId: string, answer: HolderAnswer): Tradeline[] {
  return answer.tradelines.filter((tl) => tl.institutionId === institutionId);
}

/**
 * Adds the inquiries a report takes from one holder's answer to `into`. The
 * requester's own inquiries come from its own holder's answer alone: it
 * logged every query it sent, so another holder's copy can only add
 * inquiries it never made. Another holder's inquiries by other members are
 * taken only with their requester's proof (`proven`), so that a holder cannot
 * invent inquiries by others; this node's own holder checked each requester's
 * signature when it logged the query. Pushed one by one rather than filtered:
 * this runs on every answer of every report.
 */
export function takeInquiries(
  into: Inquiry[],
  holderInstitutionId: string,
  requesterInstitutionId: string,
  answer: HolderAnswer,
  proven?: (inquiry: Inquiry, holderInstitutionId: string) => boolean,
): void {
  if (holderInstitutionId === requesterInstitutionId) {
    into.push(...answer.inquiries);
    return;
  }
  for (const q of answer.inquiries) if (q.requesterInstitutionId !== requesterInstitutionId && (proven === undefined || proven(q, holderInstitutionId))) into.push(q);
}

/** Same input → the same report, byte for byte. */
export function assembleReport(input: AssembleInput): CreditReport {
  const tradelineSources: Tradeline[] = [];
  const inquirySources: Inquiry[] = [];
  for (const { outcome, answer } of input.holders) {
    if (!answer || !contributes(outcome)) continue;
    tradelineSources.push(...ownTradelines(outcome.institutionId, answer));
    takeInquiries(inquirySources, outcome.institutionId, input.requesterInstitutionId, answer, input.inquiryProven);
  }
  const tradelines = mergeTradelines(tradelineSources);
  const allInquiries = mergeInquiries(inquirySources, input.memberNames, input.asOf);
  const summary = summarize(tradelines, allInquiries, input.asOf);
  const score = scoreReport({ tradelines, inquiries: allInquiries, summary, asOf: input.asOf });

  const holders = holderOutcomes(input.holders, tradelines);
  return {
    reportId: input.reportId,
    subjectToken: input.subjectToken,
    asOf: input.asOf,
    tradelines,
    inquiries:
      input.audience === "SUBJECT"
        ? allInquiries
        : allInquiries.filter((q) => q.requesterInstitutionId === input.requesterInstitutionId),
    summary,
    score,
    holders,
    requesterInstitutionId: input.requesterInstitutionId,
    purpose: input.purpose,
    generatedAt: input.generatedAt,
    ...checkName(input.holders, input.requestedNameTags),
    complete: holders.every((h) => answeredInFull(h.status)),
    institutionNames: namesFor(holders, tradelines, input.memberNames),
  };
}

/**
 * Outcomes after which nothing of the subject is missing: the member answered
 * (with data or without), or was not asked because its published filter rules
 * the subject out (SKIPPED, matched by name so that this holds whichever
 * version of the enum is compiled in).
 */
const COMPLETE_STATUSES: ReadonlySet<string> = new Set(["OK", "NO_DATA", "SKIPPED"]);

export function answeredInFull(status: HolderStatus): boolean {
  return COMPLETE_STATUSES.has(holderStatusToJSON(status));
}

function namesFor(holders: readonly HolderOutcome[], tradelines: readonly Tradeline[], memberNames: ReadonlyMap<string, string>): { [id: string]: string } {
  const names: { [id: string]: string } = {};
  for (const id of [...holders.map((h) => h.institutionId), ...tradelines.map((t) => t.institutionId)].sort(compareStrings)) {
    const name = memberNames.get(id);
    if (name) names[id] = name;
  }
  return names;
}

function holderOutcomes(holders: readonly HolderResult[], tradelines: readonly Tradeline[]): HolderOutcome[] {
  const counts = new Map<string, number>();
  for (const tl of tradelines) counts.set(tl.institutionId, (counts.get(tl.institutionId) ?? 0) + 1);
  return holders
    .map(({ outcome, answer }) => {
      // What the report shows, not what the holder claimed; the total is the holder's word for how many it has.
      const shown = answer && contributes(outcome) ? (counts.get(outcome.institutionId) ?? 0) : 0;
      return { ...outcome, tradelines: shown, tradelinesTotal: answer && contributes(outcome) ? Math.max(shown, answer.tradelinesTotal) : 0 };
    })
    .sort((a, b) => compareStrings(a.institutionId, b.institutionId) || a.status - b.status);
}
