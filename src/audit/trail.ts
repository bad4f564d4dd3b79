import type { WriteBatch } from "../store/types.js";

/**
 * The audit trail as the rest of the node sees it: append-only, one entry
 * per consent, query (in and out), dispute, purge and operator action. Details
 * carry tokens and ids only, never raw personal data.
 */
export interface AuditTrail {
  append(action: AuditAction, actor: string, details: Record<string, string>): Promise<void>;
  /**
   * Appends an entry and commits `also` in the same synced batch, so a change
   * and its entry cost one disk flush and are never written one without the
   * other. Trails kept outside the node database do not offer it.
   */
  appendWith?(action: AuditAction, actor: string, details: Record<string, string>, also: WriteBatch): Promise<void>;
  /**
   * appendWith() that also appends `leaves` to the node's transparency log in
   * the same synced write; resolves with the first leaf's index.
   */
  appendLogged?(action: AuditAction, actor: string, details: Record<string, string>, also: WriteBatch, leaves: readonly Uint8Array[]): Promise<number>;
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
  | "RESTORE_RECONCILED"
  | "API_KEY_CREATED"
  | "API_KEY_REVOKED"
  | "ACCOUNT_DELETED"
  | "TOKENS_EVALUATED"
  | "TOKENS_REFUSED"
  | "TOKEN_SHARE_STORED"
  | "TOKEN_CEREMONY_RUN"
  | "TOKENS_MIGRATION_STARTED"
  | "TOKENS_MIGRATION_PROGRESS"
  | "TOKENS_MIGRATION_FINISHED"
  | "TOKENS_TRANSITION_ENDED";

/** For nodes and tests that keep no trail. */
export const noAudit: AuditTrail = { append: async () => undefined };

const SAFE_VALUE = /^[A-Za-z0-9._:+=/-]{1,128}$/;
const DIGITS_LIKE_PERSONAL = /^\+?\d{11,}[Xx]?$/;

/**
 * A value that came from another party (a peer's request) as the trail may
 * keep it: a token or id of at most 128 plain characters, never something
 * shaped like an ID number or phone. Anything else is recorded as "(invalid)".
 */
export function auditSafe(value: string | undefined): string {
  if (value === undefined || value === "") return "";
  return SAFE_VALUE.test(value) && !DIGITS_LIKE_PERSONAL.test(value) ? value : "(invalid)";
}
