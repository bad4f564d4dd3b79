import { invalid } from "../errors.js";
import { AccountStatus, DisputeFlag, type ProductType } from "../gen/creditmesh/v1/common.js";
import type { Tradeline } from "../gen/creditmesh/v1/report.js";
import { endOfMonthDay, fromDay, isoDateProblem, monthIndex, monthIndexOfDay, toDay } from "./dates.js";
import { isRevolving } from "./product.js";
import { delinquencyBucket, statusOfBucket } from "./status.js";

export { historyCharRank, isDelinquent, statusRank, worstStatus } from "./status.js";

/** What derivation needs of an account: no identity, no account id. */
export interface AccountFacts {
  productType: ProductType;
  openedOn: string;
  closedOn: string;
  creditLimit: number;
  termMonths: number;
  currency: string;
  chargedOff: boolean;
}

export interface RepaymentFacts {
  installment: number;
  dueOn: string;
  amountDue: number;
  paidOn: string;
  amountPaid: number;
  balanceAfter: number;
}

export interface TradelineInput {
  institutionId: string;
  accountRef: string;
  account: AccountFacts;
  repayments: readonly RepaymentFacts[];
  asOf: string;
  dispute?: DisputeFlag;
}

export const HISTORY_MONTHS = 24;

/** One installment as seen from asOf: dates as day numbers, later facts already cut off. */
interface Installment {
  installment: number;
  due: number;
  amountDue: number;
  /** Day the payment was made, if made on or before asOf. */
  paid: number | undefined;
  amountPaid: number;
  balanceAfter: number;
  /** First day on which nothing is owed on it; Infinity if not by asOf. */
  settledFrom: number;
}

/**
 * Derives the shared tradeline of one account as of a date (Metro 2 in
 * spirit). Only facts dated on or before asOf count — installments due later
 * are ignored, payments made later count as not made — so the same records
 * and the same asOf always give the same tradeline.
 */
export function deriveTradeline(input: TradelineInput): Tradeline {
  const asOfProblem = isoDateProblem(input.asOf);
  if (asOfProblem) throw invalid("as_of", asOfProblem);
  const { account } = input;
  const asOf = toDay(input.asOf);
  const revolving = isRevolving(account.productType);
  const installments = installmentsAsOf(input.repayments, asOf);

  const latest = installments.at(-1);
  const balance = latest ? latest.balanceAfter : revolving ? 0 : account.creditLimit;

  let maxDaysPastDue = 0;
  let firstDelinquency = Infinity;
  let lastPayment = -Infinity;
  let amountPastDue = 0n;
  for (const inst of installments) {
    const lateness = inst.settledFrom <= asOf ? Math.max(0, inst.settledFrom - inst.due) : asOf - inst.due;
    maxDaysPastDue = Math.max(maxDaysPastDue, lateness);
    if (lateness >= 30) firstDelinquency = Math.min(firstDelinquency, inst.due + 30);
    if (inst.paid !== undefined && inst.amountPaid > 0) lastPayment = Math.max(lastPayment, inst.paid);
    if (inst.due < asOf) amountPastDue += BigInt(unpaidPart(inst));
  }

  return {
    institutionId: input.institutionId,
    accountRef: input.accountRef,
    productType: account.productType,
    openedOn: account.openedOn,
    // A closing dated after asOf had not happened yet as of asOf.
    closedOn: account.closedOn !== "" && account.closedOn <= input.asOf ? account.closedOn : "",
    creditLimit: String(account.creditLimit),
    balance: String(balance),
    amountPastDue: amountPastDue.toString(),
    status: statusAsOf(account, installments, asOf, balance),
    paymentHistory: paymentHistory(account, installments, asOf),
    maxDaysPastDue,
    firstDelinquencyOn: firstDelinquency === Infinity ? "" : fromDay(firstDelinquency),
    lastPaymentOn: lastPayment === -Infinity ? "" : fromDay(lastPayment),
    reportedOn: input.asOf,
    dispute: input.dispute ?? DisputeFlag.NONE,
    currency: account.currency,
    termMonths: account.termMonths,
  };
}

/** One installment that was 30 days or more past due, as deriveTradeline counts it. */
export interface DelinquentInstallment {
  installment: number;
  /** The day it reached 30 days past due (what first_delinquency_on reports). */
  delinquentOn: string;
  /** Days past due it reached by asOf (what max_days_past_due takes the maximum of). */
  daysPastDue: number;
  /** The day it was paid in full, if that was on or before asOf; "" if not. */
  settledOn: string;
}

/**
 * Every installment that was 30 days or more past due as of a date, by the
 * same rules as deriveTradeline (so the two agree on what is negative).
 */
export function delinquentInstallments(repayments: readonly RepaymentFacts[], asOfIso: string): DelinquentInstallment[] {
  const asOf = toDay(asOfIso);
  const out: DelinquentInstallment[] = [];
  for (const inst of installmentsAsOf(repayments, asOf)) {
    const settled = inst.settledFrom <= asOf;
    const daysPastDue = settled ? Math.max(0, inst.settledFrom - inst.due) : asOf - inst.due;
    if (daysPastDue < 30) continue;
    out.push({
      installment: inst.installment,
      delinquentOn: fromDay(inst.due + 30),
      daysPastDue,
      settledOn: settled ? fromDay(inst.settledFrom) : "",
    });
  }
  return out;
}

function installmentsAsOf(repayments: readonly RepaymentFacts[], asOf: number): Installment[] {
  // A re-submitted installment replaces the earlier one, as in the store.
  const byNumber = new Map<number, RepaymentFacts>();
  for (const r of repayments) byNumber.set(r.installment, r);
  const out: Installment[] = [];
  for (const r of byNumber.values()) {
    const due = toDay(r.dueOn);
    if (due > asOf) continue;
    const paidDay = r.paidOn === "" ? undefined : toDay(r.paidOn);
    const paid = paidDay !== undefined && paidDay <= asOf ? paidDay : undefined;
    // Nothing due means nothing to settle: a zero statement is never late.
    const settledFrom =
      r.amountDue === 0 ? -Infinity : paid !== undefined && r.amountPaid >= r.amountDue ? paid : Infinity;
    out.push({
      installment: r.installment,
      due,
      amountDue: r.amountDue,
      paid,
      amountPaid: r.amountPaid,
      balanceAfter: r.balanceAfter,
      settledFrom,
    });
  }
  return out.sort((a, b) => a.due - b.due || a.installment - b.installment);
}

function unpaidPart(inst: Installment): number {
  return inst.amountDue - (inst.paid === undefined ? 0 : Math.min(inst.amountPaid, inst.amountDue));
}

/** Delinquency of the account at the end of `day`: days past due of its oldest unsettled installment. */
interface Standing {
  anyDue: boolean;
  anyUnsettled: boolean;
  daysPastDue: number;
  /** balance_after of the latest installment due by then (undefined before the first). */
  balance: number | undefined;
}

function standingAt(installments: readonly Installment[], day: number): Standing {
  let anyDue = false;
  let anyUnsettled = false;
  let daysPastDue = 0;
  let balance: number | undefined;
  for (const inst of installments) {
    if (inst.due > day) break;
    anyDue = true;
    balance = inst.balanceAfter;
    if (inst.settledFrom > day) {
      anyUnsettled = true;
      daysPastDue = Math.max(daysPastDue, day - inst.due);
    }
  }
  return { anyDue, anyUnsettled, daysPastDue, balance };
}

function statusAsOf(account: AccountFacts, installments: readonly Installment[], asOf: number, balance: number): AccountStatus {
  if (account.chargedOff) return AccountStatus.CHARGED_OFF;
  const bucket = delinquencyBucket(standingAt(installments, asOf).daysPastDue);
  if (bucket > 0) return statusOfBucket(bucket);
  const revolving = isRevolving(account.productType);
  if (account.closedOn !== "" && toDay(account.closedOn) <= asOf && balance === 0) {
    return revolving ? AccountStatus.CLOSED : AccountStatus.PAID;
  }
  if (!revolving && balance === 0 && everyTermInstallmentSettled(account.termMonths, installments, asOf)) {
    return AccountStatus.PAID;
  }
  return AccountStatus.CURRENT;
}

function everyTermInstallmentSettled(termMonths: number, installments: readonly Installment[], asOf: number): boolean {
  if (termMonths < 1) return false;
  const settled = new Set(installments.filter((i) => i.settledFrom <= asOf).map((i) => i.installment));
  for (let n = 1; n <= termMonths; n++) if (!settled.has(n)) return false;
  return true;
}

/**
 * 24 characters, newest first: index 0 is asOf's month judged at asOf, each
 * earlier month judged at its last day.
 */
function paymentHistory(account: AccountFacts, installments: readonly Installment[], asOf: number): string {
  const opened = monthIndex(account.openedOn);
  const current = monthIndexOfDay(asOf);
  let history = "";
  for (let i = 0; i < HISTORY_MONTHS; i++) {
    const month = current - i;
    if (month < opened) {
      history += "B";
      continue;
    }
    const s = standingAt(installments, i === 0 ? asOf : endOfMonthDay(month));
    if (!s.anyDue) history += "D";
    else if (!s.anyUnsettled && s.balance === 0) history += "E";
    else history += String(delinquencyBucket(s.daysPastDue));
  }
  return history;
}
