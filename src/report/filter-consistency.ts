import { HolderStatus } from "../gen/creditmesh/v1/common.js";
import type { HolderAnswer } from "../gen/creditmesh/v1/report.js";
import type { AskReason } from "./routing.js";

/**
 * Whether a member held anything on the subject before this query: a
 * tradeline, or an inquiry other than the one the query itself just logged
 * (inquiries are data too: they put the subject in the member's filter).
 * Undefined when the answer says nothing either way (refused, failed).
 */
export function heldBeforeQuery(answer: Pick<HolderAnswer, "status" | "tradelines" | "inquiries" | "requestId">): boolean | undefined {
  if (answer.status !== HolderStatus.OK && answer.status !== HolderStatus.NO_DATA) return undefined;
  return answer.tradelines.length > 0 || answer.inquiries.some((i) => i.inquiryId !== answer.requestId);
}

/**
 * Whether each member's filter matches what it answers. Two kinds of
 * mismatch are counted per member and epoch:
 *
 * - claimed, empty: the filter matched, the member held nothing. An honest
 *   member does this for false positives (2^-16 of the tokens it does not
 *   hold) and for subjects erased since its filter was built; many more
 *   means an inflated filter (every report pays for a query it need not).
 * - denied, data: a probe of a member its filters ruled out showed it held
 *   the subject. A binary fuse filter has no false negatives, so beyond the
 *   lag of one delta interval this means the filter hides data, and
 *   reports that skip the member miss it.
 *
 * Counts restart with each epoch (a new full filter drops erased subjects);
 * the totals never do, for metrics.
 */

export interface ConsistencyOptions {
  falsePositiveRate: number;
  /** Claimed-but-empty answers allowed beyond the false-positive bound (erasures since the build). */
  claimedSlack: number;
  /** Data from a denied member allowed (accounts opened within the last delta interval). */
  deniedSlack: number;
}

export const DEFAULT_CONSISTENCY: ConsistencyOptions = {
  falsePositiveRate: 2 ** -16,
  claimedSlack: 5,
  deniedSlack: 2,
};

export interface MemberConsistency {
  institutionId: string;
  epoch: number;
  /** Tokens routed by this epoch's complete filters (matched or ruled out). */
  routed: number;
  claimed: number;
  claimedNoData: number;
  probed: number;
  deniedWithData: number;
  /** claimedNoData above what false positives and the slack explain. */
  inflated: boolean;
  /** deniedWithData above the slack. */
  hiding: boolean;
}

/** Which flags a record() turned on: each is true only for the answer that first crossed it in its epoch. */
export interface ConsistencyTurn {
  inflated: boolean;
  hiding: boolean;
  status: MemberConsistency;
}

export interface ConsistencyTotals {
  claimedNoData: number;
  deniedWithData: number;
}

interface Counts {
  epoch: number;
  routed: number;
  claimed: number;
  claimedNoData: number;
  probed: number;
  deniedWithData: number;
}

export class FilterConsistency {
  private readonly counts = new Map<string, Counts>();
  private readonly totals = new Map<string, ConsistencyTotals>();

  constructor(private readonly opts: ConsistencyOptions = DEFAULT_CONSISTENCY) {}

  /**
   * Call for each member the router decided on with a complete filter (asked
   * for FILTER_MATCH or PROBE, or skipped), with heldBeforeQuery() of its
   * answer when asked. Members asked to fail open say nothing about their
   * filter, and an answer that says nothing (undefined) counts only as routed.
   * Returns the flags this answer turned on, if any (once per member and epoch).
   */
  record(institutionId: string, epoch: number, decision: AskReason | "SKIPPED", held?: boolean): ConsistencyTurn | undefined {
    if (decision !== "FILTER_MATCH" && decision !== "PROBE" && decision !== "SKIPPED") return undefined;
    let c = this.counts.get(institutionId);
    if (c === undefined || epoch > c.epoch) {
      c = { epoch, routed: 0, claimed: 0, claimedNoData: 0, probed: 0, deniedWithData: 0 };
      this.counts.set(institutionId, c);
    } else if (epoch < c.epoch) {
      return undefined; // a late answer from a superseded epoch
    }
    const wasInflated = this.inflated(c);
    const wasHiding = this.hiding(c);
    const total = this.totals.get(institutionId) ?? { claimedNoData: 0, deniedWithData: 0 };
    this.totals.set(institutionId, total);
    c.routed++;
    if (decision === "FILTER_MATCH") {
      c.claimed++;
      if (held === false) {
        c.claimedNoData++;
        total.claimedNoData++;
      }
    } else if (decision === "PROBE") {
      c.probed++;
      if (held === true) {
        c.deniedWithData++;
        total.deniedWithData++;
      }
    }
    const inflated = !wasInflated && this.inflated(c);
    const hiding = !wasHiding && this.hiding(c);
    return inflated || hiding ? { inflated, hiding, status: this.status(institutionId)! } : undefined;
  }

  private inflated(c: Counts): boolean {
    return c.claimedNoData > this.allowedClaimedNoData(c.routed);
  }

  private hiding(c: Counts): boolean {
    return c.deniedWithData > this.opts.deniedSlack;
  }

  /** Claimed-but-empty answers an honest member stays within after `routed` tokens. */
  allowedClaimedNoData(routed: number): number {
    const expected = routed * this.opts.falsePositiveRate;
    // Poisson mean plus four standard deviations: an honest member crosses it about once in 30 000 epochs.
    return expected + 4 * Math.sqrt(expected) + this.opts.claimedSlack;
  }

  status(institutionId: string): MemberConsistency | undefined {
    const c = this.counts.get(institutionId);
    if (c === undefined) return undefined;
    return {
      institutionId,
      ...c,
      inflated: this.inflated(c),
      hiding: this.hiding(c),
    };
  }

  /** Every member's current epoch, for the node's status. */
  all(): MemberConsistency[] {
    return [...this.counts.keys()].sort().map((id) => this.status(id)!);
  }

  /** Counts since start, never reset: for monotonic metrics. */
  total(institutionId: string): ConsistencyTotals {
    return { ...(this.totals.get(institutionId) ?? { claimedNoData: 0, deniedWithData: 0 }) };
  }
}
