import type { Clock } from "../clock.js";
import type { HolderAnswer } from "../gen/creditmesh/v1/report.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { FilterBook } from "./filter-book.js";
import { FilterConsistency, heldBeforeQuery, type MemberConsistency } from "./filter-consistency.js";
import { FAIL_OPEN_REASONS, failOpenReason, routeToken, type AskDecision, type AskReason, type FailOpenReason, type Route } from "./routing.js";

/** Reasons a member is asked because its filters cannot rule it out (fail open), not because they match. */
const FAIL_OPEN: ReadonlySet<AskReason> = new Set(FAIL_OPEN_REASONS);

/** A member's filter as routing sees it now (FilterRouter.standing). */
export interface MemberFilterStanding {
  /** Announced epoch; 0 = none heard. */
  epoch: number;
  deltaHead: number;
  failOpen?: FailOpenReason;
  lastHeardAt?: Date;
  failingOpenSince?: Date;
  skippedPastLimit: boolean;
  /** Whether its filter matched what it answered, this epoch (undefined before any report routed by it). */
  consistency?: MemberConsistency;
}

/**
 * The report's use of the members' published filters: which members to ask
 * about a subject, and after the answers, whether each member's filter
 * matched what it answered. Built on the FilterBook the inbox fills.
 */
export class FilterRouter {
  readonly consistency: FilterConsistency;
  /** Since when (ms) each member has been asked for want of a usable filter, at every report since. */
  readonly #failingOpenSince = new Map<string, number>();

  constructor(
    private readonly opts: {
      maxSilenceMs: number;
      /**
       * A member asked for want of a usable filter at every report for longer than this is skipped instead (0:
       * asked for as long as it lasts). Asked fail-open, a member sees every report's inquiry, so one that
       * withholds or breaks its filter would learn who asks about whom across the whole network.
       */
      failOpenLimitMs?: number;
    },
    private readonly modules: {
      book: Pick<FilterBook, "view">;
      clock: Clock;
      consistency?: FilterConsistency;
      metrics?: Pick<Metrics, "holdersSkipped" | "filterMismatches"> | null;
      /** Told when a member's answers first show its filter does not match them (once per member and epoch). */
      logger?: Pick<Logger, "warn">;
    },
  ) {
    this.consistency = modules.consistency ?? new FilterConsistency();
  }

  route(subjectToken: string, members: readonly string[]): Route {
    const now = this.modules.clock.now();
    const route = routeToken(subjectToken, members, (id) => this.modules.book.view(id), { now, maxSilenceMs: this.opts.maxSilenceMs });
    const limit = this.opts.failOpenLimitMs ?? 0;
    if (limit <= 0) return route;
    for (const s of route.skipped) this.#failingOpenSince.delete(s.institutionId);
    const ask: AskDecision[] = [];
    for (const a of route.ask) {
      if (!FAIL_OPEN.has(a.reason)) {
        this.#failingOpenSince.delete(a.institutionId);
        ask.push(a);
        continue;
      }
      const since = this.#failingOpenSince.get(a.institutionId) ?? now.getTime();
      this.#failingOpenSince.set(a.institutionId, since);
      const failingMs = now.getTime() - since;
      if (failingMs <= limit) ask.push(a);
      else route.skipped.push({ institutionId: a.institutionId, reason: `not asked: no usable filter (${a.reason}) for ${duration(failingMs)}, past filters.failOpenLimitMs; may hold data` });
    }
    return { ask, skipped: route.skipped };
  }

  /**
   * How a report would treat the member now, for an operator (node status):
   * its filter's epoch and delta head, why its filters cannot rule it out
   * (fail open), with failOpenLimitMs since when and whether it is skipped
   * for it, and whether its answers matched its filter this epoch.
   */
  standing(institutionId: string): MemberFilterStanding {
    const view = this.modules.book.view(institutionId);
    const failOpen = failOpenReason(view, { now: this.modules.clock.now(), maxSilenceMs: this.opts.maxSilenceMs });
    const since = failOpen === undefined ? undefined : this.#failingOpenSince.get(institutionId);
    const limit = this.opts.failOpenLimitMs ?? 0;
    return {
      epoch: view.epoch ?? 0,
      deltaHead: view.deltaHead,
      failOpen,
      lastHeardAt: view.lastHeardAt,
      failingOpenSince: since === undefined ? undefined : new Date(since),
      skippedPastLimit: since !== undefined && limit > 0 && this.modules.clock.now().getTime() - since > limit,
      consistency: this.consistency.status(institutionId),
    };
  }

  /** Feeds the consistency tracker with a route and the answers of the members it asked (by institution). */
  record(route: Route, answers: ReadonlyMap<string, Pick<HolderAnswer, "status" | "tradelines" | "inquiries" | "requestId"> | undefined>): void {
    for (const s of route.skipped) {
      if (s.epoch !== undefined) this.consistency.record(s.institutionId, s.epoch, "SKIPPED");
      this.modules.metrics?.holdersSkipped.inc({ holder: s.institutionId });
    }
    for (const a of route.ask) this.recordAsked(a, answers.get(a.institutionId));
  }

  private recordAsked(decision: AskDecision, answer: Pick<HolderAnswer, "status" | "tradelines" | "inquiries" | "requestId"> | undefined): void {
    if (decision.epoch === undefined) return;
    const institution = decision.institutionId;
    const before = this.consistency.total(institution);
    const turned = this.consistency.record(institution, decision.epoch, decision.reason, answer && heldBeforeQuery(answer));
    const after = this.consistency.total(institution);
    const metrics = this.modules.metrics;
    if (after.claimedNoData > before.claimedNoData) metrics?.filterMismatches.inc({ institution, kind: "claimed_no_data" });
    if (after.deniedWithData > before.deniedWithData) metrics?.filterMismatches.inc({ institution, kind: "denied_with_data" });
    // Once per member and epoch, when its answers first show the filter does not match them.
    if (turned === undefined) return;
    const { status: s } = turned;
    if (turned.inflated) this.modules.logger?.warn({ member: institution, epoch: s.epoch, routed: s.routed, claimedNoData: s.claimedNoData }, "member's filter claims subjects it answers it does not hold");
    if (turned.hiding) this.modules.logger?.warn({ member: institution, epoch: s.epoch, probed: s.probed, deniedWithData: s.deniedWithData }, "member's filter rules out subjects it holds data for: reports that skip it miss them");
  }
}

/** "45 s" below two minutes, else whole minutes. */
function duration(ms: number): string {
  return ms < 120_000 ? `${Math.floor(ms / 1000)} s` : `${Math.floor(ms / 60_000)} min`;
}
