import { AccountStatus } from "../gen/creditmesh/v1/common.js";

/**
 * A total order of statuses from harmless to worst, so that "worst status"
 * is deterministic even between statuses of equal severity (a report that
 * only holds settled accounts still names one of them).
 */
const ORDER: readonly AccountStatus[] = [
  AccountStatus.ACCOUNT_STATUS_UNSPECIFIED,
  AccountStatus.PAID,
  AccountStatus.CLOSED,
  AccountStatus.CURRENT,
  AccountStatus.PAST_DUE_30,
  AccountStatus.PAST_DUE_60,
  AccountStatus.PAST_DUE_90,
  AccountStatus.PAST_DUE_120,
  AccountStatus.PAST_DUE_150,
  AccountStatus.PAST_DUE_180_PLUS,
  AccountStatus.CHARGED_OFF,
];

function orderOf(status: AccountStatus): number {
  // Unknown values (a newer peer's enum) must never hide a real status.
  return Math.max(0, ORDER.indexOf(status));
}

export function worseStatus(a: AccountStatus, b: AccountStatus): AccountStatus {
  return orderOf(b) > orderOf(a) ? b : a;
}

/** 0 for no delinquency, 1..6 for 30..180+ days past due, 7 for a charge-off. */
export function delinquencyLevel(status: AccountStatus): number {
  switch (status) {
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
      return 0;
  }
}

export function isDelinquentStatus(status: AccountStatus): boolean {
  return delinquencyLevel(status) > 0;
}

const STATUS_OF_HISTORY_DIGIT: Readonly<Record<string, AccountStatus>> = {
  "0": AccountStatus.CURRENT,
  "1": AccountStatus.PAST_DUE_30,
  "2": AccountStatus.PAST_DUE_60,
  "3": AccountStatus.PAST_DUE_90,
  "4": AccountStatus.PAST_DUE_120,
  "5": AccountStatus.PAST_DUE_150,
  "6": AccountStatus.PAST_DUE_180_PLUS,
};

/** The status a Metro 2 payment-history character stands for; B, D and E stand for none. */
export function statusOfHistoryCode(code: string): AccountStatus | undefined {
  return STATUS_OF_HISTORY_DIGIT[code];
}

export const HISTORY_MONTHS = 24;

/** Worst of the current status and every month of the 24-month history. */
export function worstStatusOf24m(status: AccountStatus, paymentHistory: string): AccountStatus {
  let worst = status;
  for (const code of paymentHistory.slice(0, HISTORY_MONTHS)) {
    const s = statusOfHistoryCode(code);
    if (s !== undefined) worst = worseStatus(worst, s);
  }
  return worst;
}
