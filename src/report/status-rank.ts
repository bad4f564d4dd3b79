import { AccountStatus } from "../gen/creditmesh/v1/common.js";
import { historyCharRank, isDelinquent, statusOfBucket, statusRank } from "../records/status.js";
import { HISTORY_MONTHS } from "../records/tradeline.js";

export { HISTORY_MONTHS };

/**
 * A total order of statuses from harmless to worst, so that "worst status"
 * is deterministic even between statuses of equal severity (a report that
 * only holds settled accounts still names one of them). Severity itself is
 * records/status.ts's; this only breaks its ties.
 */
const TIE_ORDER: readonly AccountStatus[] = [AccountStatus.PAID, AccountStatus.CLOSED, AccountStatus.CURRENT];

function orderOf(status: AccountStatus): number {
  // Unknown values (a newer peer's enum) must never hide a real status.
  return statusRank(status) * TIE_ORDER.length + Math.max(0, TIE_ORDER.indexOf(status));
}

export function worseStatus(a: AccountStatus, b: AccountStatus): AccountStatus {
  return orderOf(b) > orderOf(a) ? b : a;
}

/** 0 for no delinquency, 1..6 for 30..180+ days past due, 7 for a charge-off. */
export function delinquencyLevel(status: AccountStatus): number {
  return Math.max(0, statusRank(status));
}

export const isDelinquentStatus = isDelinquent;

/** The status a Metro 2 payment-history character stands for; B, D and E stand for none. */
export function statusOfHistoryCode(code: string): AccountStatus | undefined {
  if (code === "0") return AccountStatus.CURRENT;
  const rank = historyCharRank(code);
  return rank > 0 ? statusOfBucket(rank) : undefined;
}

/** Worst of the current status and every month of the 24-month history. */
export function worstStatusOf24m(status: AccountStatus, paymentHistory: string): AccountStatus {
  let worst = status;
  for (const code of paymentHistory.slice(0, HISTORY_MONTHS)) {
    const s = statusOfHistoryCode(code);
    if (s !== undefined) worst = worseStatus(worst, s);
  }
  return worst;
}
