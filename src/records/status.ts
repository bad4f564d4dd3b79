import { AccountStatus } from "../gen/creditmesh/v1/common.js";

/**
 * Severity order of account statuses, for "worst status" summaries:
 * CURRENT (and PAID, CLOSED) < PAST_DUE_30 < … < PAST_DUE_180_PLUS < CHARGED_OFF.
 * Unspecified or unknown statuses rank below everything so a real status wins.
 */
export function statusRank(status: AccountStatus): number {
  switch (status) {
    case AccountStatus.CURRENT:
    case AccountStatus.PAID:
    case AccountStatus.CLOSED:
      return 0;
    case AccountStatus.PAST_DUE_30:
      return 1;
    case AccountStatus.PAST_DUE_60:
      return 2;
    case AccountStatus.PAST_DUE_90:
      return 3;
    case AccountStatus.PAST_DUE_120:
      return 4;
    case AccountStatus.PAST_DUE_150:
      return 5;
    case AccountStatus.PAST_DUE_180_PLUS:
      return 6;
    case AccountStatus.CHARGED_OFF:
      return 7;
    default:
      return -1;
  }
}

/** The more severe of two statuses; on a tie, the first. */
export function worstStatus(a: AccountStatus, b: AccountStatus): AccountStatus {
  return statusRank(b) > statusRank(a) ? b : a;
}

export function isDelinquent(status: AccountStatus): boolean {
  return statusRank(status) >= 1;
}

/** Metro 2 delinquency bucket: 0 below 30 days, then one per 30 days, 6 for 180 and more. */
export function delinquencyBucket(daysPastDue: number): number {
  return daysPastDue < 30 ? 0 : Math.min(6, Math.floor(daysPastDue / 30));
}

const STATUS_BY_BUCKET = [
  AccountStatus.CURRENT,
  AccountStatus.PAST_DUE_30,
  AccountStatus.PAST_DUE_60,
  AccountStatus.PAST_DUE_90,
  AccountStatus.PAST_DUE_120,
  AccountStatus.PAST_DUE_150,
  AccountStatus.PAST_DUE_180_PLUS,
] as const;

export function statusOfBucket(bucket: number): AccountStatus {
  return STATUS_BY_BUCKET[Math.max(0, Math.min(6, bucket))];
}

/**
 * Severity of one payment-history character: '1'..'6' are their bucket; '0',
 * 'B', 'D' and 'E' carry no delinquency and rank 0.
 */
export function historyCharRank(c: string): number {
  return c >= "1" && c <= "6" && c.length === 1 ? Number(c) : 0;
}
