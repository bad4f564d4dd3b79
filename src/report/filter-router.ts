import type { Clock } from "../clock.js";
import type { HolderAnswer } from "../gen/creditmesh/v1/report.js";
import type { Metrics } from "../metrics.js";
import type { FilterBook } from "./filter-book.js";
import { FilterConsistency, heldBeforeQuery } from "./filter-consistency.js";
import { routeToken, type AskDecision, type Route } from "./routing.js";

/**
 * The report's use of the members' published filters: which members to ask
 * about a subject, and after the answers, whether each member's filter
 * matched what it answered. Built on the FilterBook the inbox fills.
 */
export class FilterRouter {
  readonly consistency: FilterConsistency;

  constructor(
    private readonly opts: { maxSilenceMs: number },
    private readonly modules: {
      book: Pick<FilterBook, "view">;
      clock: Clock;
      consistency?: FilterConsistency;
      metrics?: Pick<Metrics, "holdersSkipped" | "filterMismatches"> | null;
    },
  ) {
    this.consistency = modules.consistency ?? new FilterConsistency();
  }

  route(subjectToken: string, members: readonly string[]): Route {
    return routeToken(subjectToken, members, (id) => this.modules.book.view(id), {
      now: this.modules.clock.now(),
      maxSilenceMs: this.opts.maxSilenceMs,
    });
  }

  /** Feeds the consistency tracker with a route and the answers of the members it asked (by institution). */
  record(route: Route, answers: ReadonlyMap<string, Pick<HolderAnswer, "status" | "tradelines" | "inquiries" | "requestId"> | undefined>): void {
    for (const s of route.skipped) {
      this.consistency.record(s.institutionId, s.epoch, "SKIPPED");
      this.modules.metrics?.holdersSkipped.inc({ holder: s.institutionId });
    }
    for (const a of route.ask) this.recordAsked(a, answers.get(a.institutionId));
  }

  private recordAsked(decision: AskDecision, answer: Pick<HolderAnswer, "status" | "tradelines" | "inquiries" | "requestId"> | undefined): void {
    if (decision.epoch === undefined) return;
    const before = this.consistency.total(decision.institutionId);
    this.consistency.record(decision.institutionId, decision.epoch, decision.reason, answer && heldBeforeQuery(answer));
    const after = this.consistency.total(decision.institutionId);
    const metrics = this.modules.metrics;
    const institution = decision.institutionId;
    if (after.claimedNoData > before.claimedNoData) metrics?.filterMismatches.inc({ institution, kind: "claimed_no_data" });
    if (after.deniedWithData > before.deniedWithData) metrics?.filterMismatches.inc({ institution, kind: "denied_with_data" });
  }
}
