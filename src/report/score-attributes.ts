import { AccountStatus } from "../gen/creditmesh/v1/common.js";
import type { Summary, Tradeline } from "../gen/creditmesh/v1/report.js";
import { isInstallment, isRevolving } from "./account-state.js";
import { minorUnits } from "./amounts.js";
import { addMonths, epochDay, fullMonthsBetween, reportWindows, requireEpochDay } from "./dates.js";
import type { ScoreAttributes } from "./scorecard.js";
import { delinquencyLevel, HISTORY_MONTHS } from "./status-rank.js";

/**
 * Measures a file for the scorecard. Ratios and credit mix only look at
 * seasoned accounts (opened before the 90-day window) whose debt still
 * stands (status other than PAID or CLOSED, charge-offs included): a new
 * account or a worsening status then cannot move an account into or out of
 * a ratio and so cannot improve one.
 */
export function scoreAttributes(tradelines: readonly Tradeline[], summary: Summary, asOf: string): ScoreAttributes {
  const w = reportWindows(asOf);
  let chargedOffAccounts = 0;
  let revolvingBalance = 0n;
  let revolvingLimit = 0n;
  let standingLimit = 0n;
  let ageSum = 0;
  let oldest = 0;
  const seasonedTypes = new Set<number>();
  let seasonedInstallment = false;
  let seasonedRevolving = false;

  tradelines.forEach((tl, i) => {
    if (tl.status === AccountStatus.CHARGED_OFF) chargedOffAccounts++;
    const opened = epochDay(tl.openedOn);
    const age = opened === undefined ? 0 : fullMonthsBetween(tl.openedOn, asOf);
    ageSum += age;
    oldest = Math.max(oldest, age);
    if (opened === undefined || opened >= w.first90) return;

    seasonedTypes.add(tl.productType);
    seasonedInstallment ||= isInstallment(tl.productType);
    seasonedRevolving ||= isRevolving(tl.productType);
    if (tl.status === AccountStatus.PAID || tl.status === AccountStatus.CLOSED) return;
    const limit = nonNegative(minorUnits(tl.creditLimit, `tradelines[${i}].credit_limit`));
    standingLimit += limit;
    if (isRevolving(tl.productType)) {
      revolvingLimit += limit;
      revolvingBalance += nonNegative(minorUnits(tl.balance, `tradelines[${i}].balance`));
    }
  });

  const pastDue = nonNegative(minorUnits(summary.totalPastDue, "summary.total_past_due"));
  return {
    worstDelinquency24m: delinquencyLevel(summary.worstStatus24m),
    delinquentAccounts: summary.delinquentAccounts,
    totalPastDue: Number(pastDue),
    chargedOffAccounts,
    revolvingUtilizationBp: revolvingLimit > 0n ? Number((revolvingBalance * 10_000n) / revolvingLimit) : undefined,
    pastDueToLimitsBp: pastDueShareBp(pastDue, standingLimit),
    oldestAccountMonths: oldest,
    averageAccountMonths: tradelines.length === 0 ? 0 : Math.floor(ageSum / tradelines.length),
    institutionsOpened90d: summary.institutionsOpened90d,
    accountsOpened90d: summary.accountsOpened90d,
    inquiringInstitutions30d: summary.inquiringInstitutions30d,
    seasonedProductTypes: seasonedTypes.size,
    seasonedMix: (seasonedInstallment ? 1 : 0) + (seasonedRevolving ? 1 : 0),
  };
}

/** Rounded up so that any amount past due, however small, leaves the "nothing past due" bin. */
function pastDueShareBp(pastDue: bigint, limit: bigint): number {
  if (pastDue === 0n) return 0;
  if (limit === 0n) return Number.POSITIVE_INFINITY;
  const bp = (pastDue * 10_000n + limit - 1n) / limit;
  return Number(bp);
}

function nonNegative(v: bigint): bigint {
  return v < 0n ? 0n : v;
}

/**
 * Thin-file rule: scorable only with a tradeline opened at least 3 months
 * before the report date that carries some actual payment history.
 */
export function hasScorableHistory(tradelines: readonly Tradeline[], asOf: string): boolean {
  requireEpochDay(asOf, "as_of");
  const latestOpening = epochDay(addMonths(asOf, -3)) ?? Number.NEGATIVE_INFINITY;
  return tradelines.some((tl) => {
    const opened = epochDay(tl.openedOn);
    return opened !== undefined && opened <= latestOpening && /[^BD]/.test(tl.paymentHistory.slice(0, HISTORY_MONTHS));
  });
}
