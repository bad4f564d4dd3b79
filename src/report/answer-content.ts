import { HolderStatus, holderStatusToJSON } from "../gen/creditmesh/v1/common.js";
import type { HolderAnswer } from "../gen/creditmesh/v1/report.js";
import { isRequestId, REQUEST_ID_SHAPE } from "../request-id.js";
import { isAnswerAmount, MAX_ANSWER_AMOUNT_MINOR } from "./amounts.js";
import { isTimestampInRange } from "./dates.js";
import { MAX_INQUIRIES_PER_ANSWER } from "./inquiry-window.js";
import { tradelineProblem } from "./tradeline-shape.js";

/**
 * The most tradelines a requester takes in one answer: accounts one
 * institution holds for one borrower. A real file has a handful; a thousand
 * is beyond any borrower, yet well below the ~7,000 tradelines of ~150 bytes a
 * frame holds, so a holder cannot swell every report, its summary and its
 * rendering up to the frame limit.
 */
export const MAX_TRADELINES_PER_ANSWER = 1_000;
/**
 * The longest inquirer an answer's inquiry may name: an institution id (at
 * most 63 characters in a node's configuration) or its "anon:" pseudonym
 * (69), with room to spare; nothing an honest holder sends comes near it.
 */
export const MAX_INQUIRER_CHARS = 128;

const ANSWER_STATUSES: ReadonlySet<HolderStatus> = new Set([HolderStatus.OK, HolderStatus.NO_DATA, HolderStatus.DENIED, HolderStatus.BUSY]);

/**
 * The first part of a signed answer's content that no honest holder sends,
 * or undefined: a status a holder does not send, amounts out of range (a
 * negative balance would cancel other holders' debt, a huge one overflow the
 * report's int64 totals so it fails to encode), tradeline fields of shapes no
 * holder derives (report/tradeline-shape.ts), another institution's
 * tradelines, times a Timestamp cannot hold (an Invalid Date makes the report
 * fail to encode), inquiry ids not of a request id's shape, inquirers no
 * institution id or pseudonym could be, and more tradelines and inquiries
 * than a holder sends.
 *
 * The one rule for what an answer may carry: the requester refuses such an
 * answer before a report is assembled (p2p/query-protocol.ts), and `verify`
 * fails a saved report that carries one. `requestId` is the query's (the
 * report's id): a past-dated answer may add its own inquiry past the cap.
 * Per answer and per tradeline, so no allocation unless something is wrong.
 */
export function answerContentProblem(answer: HolderAnswer, requestId: string): string | undefined {
  if (!ANSWER_STATUSES.has(answer.status)) return `answer has status ${holderStatusToJSON(answer.status)}, which a holder does not send`;
  // Nothing reads answered_at, but it is part of the signed bytes the report carries.
  if (answer.answeredAt !== undefined && !isTimestampInRange(answer.answeredAt)) return "answer's answered_at is not a valid time";
  const { tradelines, inquiries } = answer;
  if (tradelines.length > MAX_TRADELINES_PER_ANSWER) return `answer carries ${tradelines.length} tradelines, more than ${MAX_TRADELINES_PER_ANSWER}`;
  // 0 from a holder that predates the field.
  if (answer.tradelinesTotal !== 0 && tradelines.length > answer.tradelinesTotal) return `answer carries ${tradelines.length} tradelines, more than its tradelines_total ${answer.tradelinesTotal}`;
  // For a past as_of the holder adds this query's own inquiry after the capped window (report/holder.ts).
  const cap = MAX_INQUIRIES_PER_ANSWER + (inquiries.length > 0 && inquiries[inquiries.length - 1]!.inquiryId === requestId ? 1 : 0);
  if (inquiries.length > cap) return `answer carries ${inquiries.length} inquiries, more than ${MAX_INQUIRIES_PER_ANSWER} and this query's own`;
  if (inquiries.length > answer.inquiriesTotal) return `answer carries ${inquiries.length} inquiries, more than its inquiries_total ${answer.inquiriesTotal}`;
  for (let i = 0; i < tradelines.length; i++) {
    const t = tradelines[i]!;
    if (t.institutionId !== answer.holderInstitutionId) return "answer carries another institution's tradelines";
    const wrong = !isAnswerAmount(t.balance) ? "balance" : !isAnswerAmount(t.creditLimit) ? "credit_limit" : !isAnswerAmount(t.amountPastDue) ? "amount_past_due" : undefined;
    if (wrong) return `tradelines[${i}].${wrong} is not an amount in 0..${MAX_ANSWER_AMOUNT_MINOR} minor units`;
    const problem = tradelineProblem(t);
    if (problem) return `tradelines[${i}].${problem}`;
  }
  for (let i = 0; i < inquiries.length; i++) {
    if (!isTimestampInRange(inquiries[i]!.inquiredAt)) return `inquiries[${i}].inquired_at is missing or not a valid time`;
    if (!isRequestId(inquiries[i]!.inquiryId)) return `inquiries[${i}].inquiry_id is not ${REQUEST_ID_SHAPE}`;
    if (!isInquirer(inquiries[i]!.requesterInstitutionId)) return `inquiries[${i}].requester_institution_id is not an institution id or pseudonym`;
  }
  return undefined;
}

/** 1 to MAX_INQUIRER_CHARS printable ASCII characters: what a manifest's institution id or its pseudonym is on an honest holder. */
function isInquirer(id: string): boolean {
  return id.length > 0 && id.length <= MAX_INQUIRER_CHARS && /^[\x21-\x7e]+$/.test(id);
}
