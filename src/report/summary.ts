import { AccountStatus, Purpose } from "../gen/creditmesh/v1/common.js";
import type { Inquiry, Summary, Tradeline } from "../gen/creditmesh/v1/report.js";
import { isOpen, isRevolving } from "./account-state.js";
import { minorUnits } from "./amounts.js";
import { inLast30Days, openedInLast90Days, reportWindows } from "./dates.js";
import { isDelinquentStatus, worseStatus, worstStatusOf24m } from "./status-rank.js";

const INT32_MAX = 2_147_483_647;

/**
 * The report's summary figures, including the multi-lending signals. Pure:
 * the same tradelines, inquiries and date always give the same summary.
 * `inquiries` must already be merged (report/merge.ts mergeInquiries).
 */
const CREDIT_SEEKING: ReadonlySet<Purpose> = new Set([Purpose.LOAN_ORIGINATION, Purpose.CREDIT_LIMIT_REVIEW]);

export function summarize(tradelines: readonly Tradeline[], inquiries: readonly Inquiry[], asOf: string): Summary {
  const w = reportWindows(asOf);
  const institutions = new Set<string>();
  const openedRecentlyAt = new Set<string>();
  let openAccounts = 0;
  let accountsOpened90d = 0;
  let delinquentAccounts = 0;
  let totalBalance = 0n;
  let totalLimit = 0n;
  let totalPastDue = 0n;
  let revolvingBalance = 0n;
  let revolvingLimit = 0n;
  let worst = tradelines.length > 0 ? AccountStatus.CURRENT : AccountStatus.ACCOUNT_STATUS_UNSPECIFIED;

  tradelines.forEach((tl, i) => {
    const balance = nonNegative(minorUnits(tl.balance, `tradelines[${i}].balance`));
    const limit = nonNegative(minorUnits(tl.creditLimit, `tradelines[${i}].credit_limit`));
    institutions.add(tl.institutionId);
    totalBalance += balance;
    totalPastDue += nonNegative(minorUnits(tl.amountPastDue, `tradelines[${i}].amount_past_due`));
    worst = worseStatus(worst, worstStatusOf24m(tl.status, tl.paymentHistory));
    if (isDelinquentStatus(tl.status)) delinquentAccounts++;
    if (openedInLast90Days(tl.openedOn, w)) {
      accountsOpened90d++;
      openedRecentlyAt.add(tl.institutionId);
    }
    if (!isOpen(tl, w.asOfDay)) return;
    openAccounts++;
    totalLimit += limit;
    if (isRevolving(tl.productType)) {
      revolvingBalance += balance;
      revolvingLimit += limit;
    }
  });

  // Only applications for credit signal multi-lending: a borrower reading their own
  // file or a lender reviewing an existing account are "soft" inquiries.
  const recentInquiries = inquiries.filter((q) => CREDIT_SEEKING.has(q.purpose) && inLast30Days(q.inquiredAt, w));
  return {
    accounts: tradelines.length,
    openAccounts,
    institutions: institutions.size,
    totalBalance: int64Total(totalBalance),
    totalLimit: int64Total(totalLimit),
    utilizationBp: utilizationBp(revolvingBalance, revolvingLimit),
    totalPastDue: int64Total(totalPastDue),
    worstStatus24m: worst,
    institutionsOpened90d: openedRecentlyAt.size,
    inquiries30d: recentInquiries.length,
    inquiringInstitutions30d: new Set(recentInquiries.map((q) => q.requesterInstitutionId)).size,
    accountsOpened90d,
    delinquentAccounts,
  };
}

/**
 * A requester refuses amounts outside 0..10^15 in an answer (p2p/query-protocol.ts),
 * so these two only matter for amounts that did not pass that check (the requester's
 * own answer, a saved report being verified): a negative amount would cancel other
 * accounts' debt, and a sum past int64 would make the report impossible to encode.
 */
function nonNegative(v: bigint): bigint {
  return v < 0n ? 0n : v;
}

const INT64_MAX = 9_223_372_036_854_775_807n;

function int64Total(v: bigint): string {
  return (v > INT64_MAX ? INT64_MAX : v).toString();
}

/** Balance over limit in basis points, floored; -1 when there is no limit to measure against. */
export function utilizationBp(balance: bigint, limit: bigint): number {
  if (limit <= 0n) return -1;
  if (balance <= 0n) return 0;
  const bp = (balance * 10_000n) / limit;
  return bp > BigInt(INT32_MAX) ? INT32_MAX : Number(bp);
}
