/**
 * The audit trail as the rest of the node sees it: append-only, one entry
 * per consent, query (in and out), dispute, purge and operator action. Details
 * carry tokens and ids only, never raw personal data.
 */
export interface AuditTrail {
  append(action: AuditAction, actor: string, details: Record<string, string>): Promise<void>;
}

export type AuditAction =
  | "CONSENT_GRANTED"
  | "CONSENT_REVOKED"
  | "REVOCATION_RECEIVED"
  | "QUERY_SENT"
  | "QUERY_ANSWERED"
  | "QUERY_REFUSED"
  | "DISPUTE_FILED"
  | "DISPUTE_RECEIVED"
  | "DISPUTE_RESOLVED"
  | "SUBJECT_PURGED"
  | "RETENTION_PURGED"
  | "KEY_ROTATED"
  | "BACKUP_TAKEN"
  | "NODE_RESTORED"
  | "API_KEY_CREATED";

/** For nodes and tests that keep no trail. */
export const noAudit: AuditTrail = { append: async () => undefined };
