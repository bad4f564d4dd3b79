import type { EvaluationAudit, EvaluationAuditEntry } from "../subject/oprf/evaluator-service.js";
import type { AuditTrail } from "./trail.js";

/**
 * The evaluator's record of each batch it evaluated or refused, in the node's
 * hash-chained trail: requester, purpose, count and the batch's hash, which
 * identifies the batch without revealing anything of the subjects in it.
 */
export function evaluationAudit(trail: AuditTrail): EvaluationAudit {
  return {
    record: (e: EvaluationAuditEntry) =>
      trail.append(e.outcome === "EVALUATED" ? "TOKENS_EVALUATED" : "TOKENS_REFUSED", e.requester, {
        purpose: e.purpose,
        count: String(e.count),
        batchHash: e.batchHash,
        requestId: e.requestId,
        ...(e.outcome === "EVALUATED" ? {} : { refusal: e.outcome }),
        ...(e.ticketId ? { ticketId: e.ticketId } : {}),
        ...(e.reason ? { reason: e.reason } : {}),
      }),
  };
}
