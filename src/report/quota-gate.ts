import { CreditMeshError } from "../errors.js";
import { HolderStatus } from "../gen/creditmesh/v1/common.js";
import type { Metrics } from "../metrics.js";
import type { HolderResult } from "./assemble.js";
import { QUOTA_EXCEEDED } from "./holder.js";
import type { QueryQuota, QuotaGrant } from "./query-quota.js";

/**
 * The lender's side of the per-subject query quota. Its own holder counts
 * every report this institution makes about a subject, as every other holder
 * does, so the report takes that count before it asks anyone: past the quota
 * the caller gets RESOURCE_EXHAUSTED at once, no holder is asked and nothing
 * is logged, and a runaway client of an honest node stops here. A holder that
 * still refuses on quota (a smaller quota there) turns the whole report into
 * the same RESOURCE_EXHAUSTED rather than a report of DENIED holders.
 */
export class ReportQuotaGate {
  constructor(
    private readonly opts: { institutionId: string },
    private readonly modules: { quota: QueryQuota; metrics?: Metrics | null },
  ) {}

  /** Takes this report's count for the subject; RATE_LIMITED (RESOURCE_EXHAUSTED) once the day's quota is used up. `actor` is the API key that asked. */
  admit(subjectToken: string, actor: string, nowMs: number): QuotaGrant {
    const { quota, metrics } = this.modules;
    const grant = quota.take(this.opts.institutionId, subjectToken, nowMs);
    if (grant) return grant;
    metrics?.reportsOverQuota.inc({ actor, refused_by: "self" });
    throw new CreditMeshError(
      "RATE_LIMITED",
      `${QUOTA_EXCEEDED}: this institution has made ${quota.limit} reports about this subject today (p2p.subjectQueriesPerDay)`,
      { meta: { quota: "subjectQueriesPerDay" } },
    );
  }

  /** RATE_LIMITED naming the holders that refused the report on quota, if any did. */
  check(results: readonly HolderResult[], actor: string): void {
    const refusing = results.filter((r) => r.outcome.status === HolderStatus.DENIED && r.outcome.reason === QUOTA_EXCEEDED).map((r) => r.outcome.institutionId);
    if (refusing.length === 0) return;
    this.modules.metrics?.reportsOverQuota.inc({ actor, refused_by: "holders" });
    throw new CreditMeshError(
      "RATE_LIMITED",
      `${QUOTA_EXCEEDED}: refused by ${refusing.join(", ")} (their p2p.subjectQueriesPerDay)`,
      { meta: { quota: "subjectQueriesPerDay", holders: refusing.join(",") } },
    );
  }
}
