import { CreditMeshError } from "../errors.js";
import { ConsentStatus, Purpose, purposeToJSON } from "../gen/creditmesh/v1/common.js";
import type { Consent } from "../gen/creditmesh/v1/consent.js";
import { consentSigningBytes } from "./artefact.js";

/** The default clock skew allowed between members (config `p2p.maxClockSkewMs`). */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 60_000;

/**
 * For a use that is not a query: a dispute filed on the borrower's behalf.
 * Any purpose shows that the borrower authorised the requester; every other
 * condition of the rule still holds.
 */
export const ANY_PURPOSE = "ANY_PURPOSE" as const;

export interface ConsentCheck {
  /** Institution asking for the data. */
  requesterInstitutionId: string;
  subjectToken: string;
  purpose: Purpose | typeof ANY_PURPOSE;
  now: Date;
  /**
   * How far apart members' clocks may be: a consent is usable from
   * `valid_from - maxClockSkewMs`, so a consent just issued by a lender whose
   * clock runs ahead is not refused by every holder. `valid_until` gets no
   * such allowance: the borrower's authorization ends when it says.
   */
  maxClockSkewMs: number;
  /** When this node learnt of a revocation of this consent, if it did. */
  revokedAt?: Date;
  /**
   * Verifies the grantee node's signature over the consent body. A holder
   * always checks it; the requester's own node signed the consent it stored.
   */
  verifyGranteeSignature?(granteeInstitutionId: string, data: Uint8Array, signature: Uint8Array): boolean;
}

/** Why a consent does not allow a query, and the request field that points at it. */
export interface ConsentProblem {
  reason: string;
  field: "consent_id" | "purpose";
}

export type ConsentDecision = { ok: true } | { ok: false; reason: string; field: ConsentProblem["field"] };

/** Purposes a lender may query for; FURNISHING authorizes contributing, not reading. */
export const QUERY_PURPOSES: ReadonlySet<Purpose> = new Set([
  Purpose.LOAN_ORIGINATION,
  Purpose.CREDIT_LIMIT_REVIEW,
  Purpose.POST_LOAN_MANAGEMENT,
  Purpose.SUBJECT_REQUEST,
]);

/**
 * The consent rule, one for both sides: the holder applies it to every query
 * it answers (it enforces consent itself rather than trusting the requester,
 * DESIGN §2.2), and the requester to its own consent before it asks anyone.
 */
export function checkConsent(consent: Consent | undefined, check: ConsentCheck): ConsentDecision {
  const problem = consentProblem(consent, check);
  return problem ? { ok: false, ...problem } : { ok: true };
}

/** The requester's side of the rule: the consent, or CONSENT_DENIED naming the field. */
export function requireConsent(consent: Consent | undefined, check: ConsentCheck): Consent {
  const problem = consentProblem(consent, check);
  if (problem || !consent) {
    const p = problem ?? { reason: "no consent artefact", field: "consent_id" as const };
    throw new CreditMeshError("CONSENT_DENIED", p.reason, { field: p.field, meta: { consentId: consent?.consentId, reason: p.reason } });
  }
  return consent;
}

function consentProblem(consent: Consent | undefined, check: ConsentCheck): ConsentProblem | undefined {
  if (!consent) return { reason: "no consent artefact", field: "consent_id" };
  if (check.purpose !== ANY_PURPOSE && !QUERY_PURPOSES.has(check.purpose)) return { reason: `purpose ${purposeToJSON(check.purpose)} does not allow a query`, field: "purpose" };
  if (consent.granteeInstitutionId !== check.requesterInstitutionId) {
    return { reason: "consent was granted to another institution", field: "consent_id" };
  }
  if (consent.subjectToken !== check.subjectToken) return { reason: "consent is for another subject", field: "consent_id" };
  if (check.purpose !== ANY_PURPOSE && consent.purpose !== check.purpose) {
    return { reason: `consent is for ${purposeToJSON(consent.purpose)}, not ${purposeToJSON(check.purpose)}`, field: "purpose" };
  }
  if (check.verifyGranteeSignature && !check.verifyGranteeSignature(consent.granteeInstitutionId, consentSigningBytes(consent), consent.signature)) {
    return { reason: "consent signature does not verify", field: "consent_id" };
  }
  if (consent.status === ConsentStatus.REVOKED || check.revokedAt) return { reason: "consent was revoked", field: "consent_id" };
  const t = check.now.getTime();
  const skew = Math.max(0, check.maxClockSkewMs);
  if (!consent.validFrom || t < consent.validFrom.getTime() - skew) return { reason: "consent is not yet valid", field: "consent_id" };
  if (!consent.validUntil || t >= consent.validUntil.getTime()) return { reason: "consent has expired", field: "consent_id" };
  return undefined;
}

/** Status as seen at `now`: an ACTIVE consent past valid_until reads EXPIRED. */
export function effectiveStatus(consent: Consent, now: Date, revokedAt?: Date): ConsentStatus {
  if (consent.status === ConsentStatus.REVOKED || revokedAt) return ConsentStatus.REVOKED;
  if (consent.validUntil && now.getTime() >= consent.validUntil.getTime()) return ConsentStatus.EXPIRED;
  return consent.status;
}
