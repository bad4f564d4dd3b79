import { CreditMeshError } from "../errors.js";
import { HolderStatus } from "../gen/creditmesh/v1/common.js";
import type { Metrics } from "../metrics.js";
import type { HolderResult } from "./assemble.js";
import { MEMBER_QUOTA_EXCEEDED, QUOTA_EXCEEDED } from "./holder.js";
import type { QueryQuota, QuotaGrant } from "./query-quota.js";

/** Each quota's refusal reason at a holder, and the setting that sizes it. */
const QUOTAS = [
  { reason: QUOTA_EXCEEDED, setting: "subjectQueriesPerDay" },
  { reason: MEMBER_QUOTA_EXCEEDED, setting: "memberQueriesPerDay" },
] as const;

/**
 * The lender's side of the daily query quotas (per subject, and across
 * subjects). Its own holder counts every report this institution makes, as
 * every other holder does, so the report takes that count before it asks anyone: past a quota
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
    const admitted = quota.admit(this.opts.institutionId, subjectToken, nowMs);
    if (!("refused" in admitted)) return admitted;
    metrics?.reportsOverQuota.inc({ actor, refused_by: "self" });
    const message =
      admitted.refused === "member"
        ? `${MEMBER_QUOTA_EXCEEDED}: this institution has made ${admitted.limit} reports today (p2p.memberQueriesPerDay)`
        : `${QUOTA_EXCEEDED}: this institution has made ${admitted.limit} reports about this subject today (p2p.subjectQueriesPerDay)`;
    throw new CreditMeshError("RATE_LIMITED", message, { meta: { quota: admitted.refused === "member" ? "memberQueriesPerDay" : "subjectQueriesPerDay" } });
  }

  /** RATE_LIMITED naming the holders that refused the report on a quota, and the quota, if any did. */
  check(results: readonly HolderResult[], actor: string): void {
    for (const { reason, setting } of QUOTAS) {
      const refusing = results.filter((r) => r.outcome.status === HolderStatus.DENIED && r.outcome.reason === reason).map((r) => r.outcome.institutionId);
      if (refusing.length === 0) continue;
      this.modules.metrics?.reportsOverQuota.inc({ actor, refused_by: "holders" });
      throw new CreditMeshError("RATE_LIMITED", `${reason}: refused by ${refusing.join(", ")} (their p2p.${setting})`, {
        meta: { quota: setting, holders: refusing.join(",") },
      });
    }
  }
}
