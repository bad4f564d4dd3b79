import { DisputeFlag } from "../gen/creditmesh/v1/common.js";
import type { Tradeline } from "../gen/creditmesh/v1/report.js";
import { isoDateProblem } from "../records/dates.js";
import { isKnownProductType } from "../records/product.js";
import { statusRank } from "../records/status.js";
import { HISTORY_MONTHS } from "../records/tradeline.js";
import { isCurrencyCode, MAX_TERM_MONTHS } from "../records/validate.js";

/**
 * A holder's account references are 32 hex characters (records/ingest.ts);
 * any 1–64 printable ASCII characters are taken, nothing that could steer a
 * terminal or hide in a rendering.
 */
const ACCOUNT_REF = /^[\x21-\x7e]{1,64}$/;
/** Metro 2 payment-history codes a holder derives (records/tradeline.ts): buckets 0–6, B, D, E. */
const PAYMENT_HISTORY = new RegExp(`^[0-6BDE]{0,${HISTORY_MONTHS}}$`);
/** A century of days: more than any installment can be late while its account is still reported. */
const MAX_DAYS_PAST_DUE = 36_525;
const DISPUTE_FLAGS: ReadonlySet<number> = new Set([DisputeFlag.NONE, DisputeFlag.DISPUTED, DisputeFlag.RESOLVED_DISAGREES]);

const isDate = (value: string) => isoDateProblem(value) === undefined;
const isDateOrEmpty = (value: string) => value === "" || isDate(value);

/**
 * The first field of a holder's tradeline that no honest holder sends, as
 * "field is …", or undefined. Amounts are checked with the answer
 * (report/amounts.ts). A member's answer is signed data about a borrower
 * that every later reader trusts: a date that is not a date or a status no
 * holder derives would otherwise reach the summary and the score, where one
 * such tradeline made a whole file unscorable.
 */
export function tradelineProblem(t: Tradeline): string | undefined {
  if (!ACCOUNT_REF.test(t.accountRef)) return "account_ref is not an account reference";
  if (!isKnownProductType(t.productType)) return "product_type is not a known product";
  if (statusRank(t.status) < 0) return "status is not a known account status";
  if (!DISPUTE_FLAGS.has(t.dispute)) return "dispute is not a known dispute flag";
  if (!isDate(t.openedOn)) return "opened_on is not a date";
  if (!isDate(t.reportedOn)) return "reported_on is not a date";
  if (!isDateOrEmpty(t.closedOn)) return "closed_on is not a date";
  if (!isDateOrEmpty(t.firstDelinquencyOn)) return "first_delinquency_on is not a date";
  if (!isDateOrEmpty(t.lastPaymentOn)) return "last_payment_on is not a date";
  if (!PAYMENT_HISTORY.test(t.paymentHistory)) return `payment_history is not up to ${HISTORY_MONTHS} payment-history codes`;
  if (!Number.isInteger(t.maxDaysPastDue) || t.maxDaysPastDue < 0 || t.maxDaysPastDue > MAX_DAYS_PAST_DUE) return `max_days_past_due is not 0..${MAX_DAYS_PAST_DUE}`;
  if (t.currency !== "" && !isCurrencyCode(t.currency)) return "currency is not an ISO 4217 code";
  if (!Number.isInteger(t.termMonths) || t.termMonths < 0 || t.termMonths > MAX_TERM_MONTHS) return `term_months is not 0..${MAX_TERM_MONTHS}`;
  return undefined;
}
