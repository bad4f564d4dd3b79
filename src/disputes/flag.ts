import { DisputeFlag, DisputeOutcome, DisputeStatus } from "../gen/creditmesh/v1/common.js";
import type { Dispute } from "../gen/creditmesh/v1/dispute.js";

/** The account must not be reported at all: a dispute went unanswered past its deadline. */
export const WITHHELD = "WITHHELD" as const;

export type TradelineDisputeState = DisputeFlag | typeof WITHHELD;

/**
 * How an account's disputes show on its tradeline, as of `now` (the holder's
 * clock):
 *
 * - any OPEN dispute past its respond_by → WITHHELD (the holder missed the deadline)
 * - any other OPEN dispute → DISPUTED (Metro 2 XB)
 * - otherwise the latest resolution decides: VERIFIED_ACCURATE → RESOLVED_DISAGREES
 *   (XC, the subject still disagrees), CORRECTED or DELETED → NONE
 *
 * Only disputes held by `institutionId` count: a node also keeps copies of the
 * disputes it filed with other holders.
 */
export function tradelineDisputeState(disputes: readonly Dispute[], institutionId: string, now: Date): TradelineDisputeState {
  let open = false;
  let latest: Dispute | undefined;
  for (const d of disputes) {
    if (d.institutionId !== institutionId) continue;
    if (d.status === DisputeStatus.OPEN) {
      if (isOverdue(d, now)) return WITHHELD;
      open = true;
    } else if (d.status === DisputeStatus.RESOLVED) {
      if (latest === undefined || time(d.resolvedAt) > time(latest.resolvedAt)) latest = d;
    }
  }
  if (open) return DisputeFlag.DISPUTED;
  return latest?.outcome === DisputeOutcome.VERIFIED_ACCURATE ? DisputeFlag.RESOLVED_DISAGREES : DisputeFlag.NONE;
}

/** An OPEN dispute whose holder did not answer by respond_by. */
export function isOverdue(d: Dispute, now: Date): boolean {
  return d.status === DisputeStatus.OPEN && d.respondBy !== undefined && now.getTime() > d.respondBy.getTime();
}

function time(d: Date | undefined): number {
  return d?.getTime() ?? 0;
}
