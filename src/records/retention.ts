import { AccountStatus } from "../gen/creditmesh/v1/common.js";
import type { Tradeline } from "../gen/creditmesh/v1/report.js";
import { addMonths } from "./dates.js";
import { delinquentInstallments, deriveTradeline, type AccountFacts, type RepaymentFacts, type TradelineInput } from "./tradeline.js";

/**
 * Negative information is reported until this many years after the
 * delinquency ended (DESIGN §4 Retention: "negative records kept 5 years
 * after the delinquency ends"). A regulatory period, not a setting.
 */
export const NEGATIVE_RETENTION_YEARS = 5;

/** One delinquency (an installment 30+ days past due) and when it ended. */
export interface Delinquency {
  /** The day it reached 30 days past due. */
  delinquentOn: string;
  daysPastDue: number;
  /** The day it ended, or "" while it goes on (see delinquencies()). */
  endedOn: string;
}

/**
 * The account's delinquencies as of a date and when each one ended: the
 * earliest of
 * - the day the installment was paid in full (cured),
 * - the day the account was closed (the furnisher ended the obligation), and
 * - the day it was charged off (see chargeOffDate()),
 * counting only days on or before asOf. One that has not ended goes on, and
 * is always reported.
 */
export function delinquencies(account: AccountFacts, repayments: readonly RepaymentFacts[], asOf: string): Delinquency[] {
  const terminal = [account.closedOn, account.chargedOff ? chargeOffDate(account, repayments, asOf) : ""].filter(
    (d) => d !== "" && d <= asOf,
  );
  const closedBy = terminal.length === 0 ? "" : terminal.reduce((a, b) => (a < b ? a : b));
  return delinquentInstallments(repayments, asOf).map((d) => {
    const ends = [d.settledOn, closedBy].filter((x) => x !== "");
    return {
      delinquentOn: d.delinquentOn,
      daysPastDue: d.daysPastDue,
      endedOn: ends.length === 0 ? "" : ends.reduce((a, b) => (a < b ? a : b)),
    };
  });
}

/**
 * The day an account flagged charged off was written off. The record has no
 * date for it, so: closed_on when the furnisher gave one (an account is
 * closed when it is written off), otherwise the last due date furnished up to
 * asOf (billing stops at the write-off), otherwise opened_on.
 */
export function chargeOffDate(account: AccountFacts, repayments: readonly RepaymentFacts[], asOf: string): string {
  if (account.closedOn !== "") return account.closedOn;
  let last = "";
  for (const r of repayments) if (r.dueOn <= asOf && r.dueOn > last) last = r.dueOn;
  return last !== "" ? last : account.openedOn;
}

/**
 * The last day on which something that ended on `endedOn` is still reported:
 * the same calendar day 5 years later (Feb 29 → Feb 28). Counted forward from
 * the end, not back from the report date: counted back, Feb 28 and Feb 29 of a
 * leap year would share one cutoff, and a delinquency that ended on Feb 28
 * would still show on Feb 29, five years and a day after it ended.
 */
export function negativeRetainedUntil(endedOn: string): string {
  return addMonths(endedOn, 12 * NEGATIVE_RETENTION_YEARS);
}

/** Whether something that ended on `endedOn` ended more than 5 years before `asOf`. */
function expiredBy(endedOn: string, asOf: string): boolean {
  return negativeRetainedUntil(endedOn) < asOf;
}

/**
 * Applies the 5-year rule to a tradeline derived from the same input:
 *
 * - A delinquency that ended more than 5 years before asOf (asOf after
 *   negativeRetainedUntil(endedOn)) no longer counts: it is left
 *   out of max_days_past_due and first_delinquency_on, which are recomputed
 *   from the delinquencies that still count (0 and "" when none is left).
 *   Its digits cannot be in the 24-month payment history: an installment
 *   cured more than 5 years ago was not late in any month of the window, and
 *   one that ended with the account's closing is dropped with the account
 *   (next point).
 * - A tradeline with nothing negative left to report and no open obligation
 *   (closed by asOf, PAID, or charged off) is omitted entirely: reporting it
 *   as a clean account would misstate it, and nothing current is lost.
 *   An open account is still reported, without the expired negatives: its
 *   balance and limit are current information.
 * - A charged-off account whose charge-off (chargeOffDate()) is more than
 *   5 years before asOf is omitted.
 *
 * Status, balance, past-due amount and history describe the account as of
 * asOf and only ever reflect delinquencies that are still going on or ended
 * within the window, so they are left as derived. Returns the tradeline
 * itself when nothing has expired, so reports within 5 years are unchanged.
 */
export function applyRetention(input: TradelineInput, tradeline: Tradeline): Tradeline | undefined {
  const { account, repayments, asOf } = input;
  if (account.chargedOff && expiredBy(chargeOffDate(account, repayments, asOf), asOf)) return undefined;
  const all = delinquencies(account, repayments, asOf);
  const expired = (d: Delinquency) => d.endedOn !== "" && expiredBy(d.endedOn, asOf);
  if (!all.some(expired)) return tradeline;
  const kept = all.filter((d) => !expired(d));
  const closed = account.closedOn !== "" && account.closedOn <= asOf;
  if (kept.length === 0 && (closed || account.chargedOff || tradeline.status === AccountStatus.PAID)) return undefined;
  return {
    ...tradeline,
    maxDaysPastDue: kept.reduce((max, d) => Math.max(max, d.daysPastDue), 0),
    firstDelinquencyOn: kept.reduce((first, d) => (first === "" || d.delinquentOn < first ? d.delinquentOn : first), ""),
  };
}

/** The tradeline a holder reports for an account as of a date, or undefined when retention leaves nothing to report. */
export function reportableTradeline(input: TradelineInput): Tradeline | undefined {
  return applyRetention(input, deriveTradeline(input));
}

/**
 * Whether the scheduled purge may destroy an account (records/retention-job.ts):
 * it must be finished — closed by `today`, charged off, or PAID — and its
 * last activity (opening, closing, any due date or payment up to today) more
 * than `years` before today. An open account with an unpaid delinquency is
 * kept however old: it is an obligation that has not ended.
 */
export function accountExpired(account: AccountFacts, repayments: readonly RepaymentFacts[], today: string, years: number): boolean {
  const cutoff = addMonths(today, -12 * years);
  let last = account.openedOn;
  const later = (d: string) => {
    if (d !== "" && d <= today && d > last) last = d;
  };
  later(account.closedOn);
  for (const r of repayments) {
    later(r.dueOn);
    later(r.paidOn);
  }
  if (last >= cutoff) return false;
  if (account.chargedOff || (account.closedOn !== "" && account.closedOn <= today)) return true;
  const status = deriveTradeline({ institutionId: "-", accountRef: "-", account, repayments, asOf: today }).status;
  return status === AccountStatus.PAID || status === AccountStatus.CLOSED;
}
