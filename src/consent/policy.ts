import { ConsentStatus, Purpose, purposeToJSON } from "../gen/creditmesh/v1/common.js";
import type { Consent } from "../gen/creditmesh/v1/consent.js";
import { consentSigningBytes } from "./artefact.js";

export interface ConsentCheck {
  /** Institution asking for the data. */
  requesterInstitutionId: string;
  subjectToken: string;
  purpose: Purpose;
  now: Date;
  /** When the holder learnt of a revocation of this consent, if it did. */
  revokedAt?: Date;
  /** Verifies the grantee node's signature over the consent body. */
  verifyGranteeSignature(granteeInstitutionId: string, data: Uint8Array, signature: Uint8Array): boolean;
}

export type ConsentDecision = { ok: true } | { ok: false; reason: string };

/** Purposes a lender may query for; FURNISHING authorizes contributing, not reading. */
export const QUERY_PURPOSES: ReadonlySet<Purpose> = new Set([
  Purpose.LOAN_ORIGINATION,
  Purpose.CREDIT_LIMIT_REVIEW,
  Purpose.POST_LOAN_MANAGEMENT,
  Purpose.SUBJECT_REQUEST,
]);

/**
 * The check every holder applies to every query. The holder enforces it
 * itself rather than trusting the requester's word (DESIGN §2.2).
 */
export function checkConsent(consent: Consent | undefined, check: ConsentCheck): ConsentDecision {
  if (!consent) return { ok: false, reason: "no consent artefact" };
  if (!QUERY_PURPOSES.has(check.purpose)) return { ok: false, reason: `purpose ${purposeToJSON(check.purpose)} does not allow a query` };
  if (consent.granteeInstitutionId !== check.requesterInstitutionId) {
    return { ok: false, reason: "consent was granted to another institution" };
  }
  if (consent.subjectToken !== check.subjectToken) return { ok: false, reason: "consent is for another subject" };
  if (consent.purpose !== check.purpose) {
    return { ok: false, reason: `consent is for ${purposeToJSON(consent.purpose)}, not ${purposeToJSON(check.purpose)}` };
  }
  if (!check.verifyGranteeSignature(consent.granteeInstitutionId, consentSigningBytes(consent), consent.signature)) {
    return { ok: false, reason: "consent signature does not verify" };
  }
  if (consent.status === ConsentStatus.REVOKED || check.revokedAt) return { ok: false, reason: "consent was revoked" };
  const t = check.now.getTime();
  if (!consent.validFrom || t < consent.validFrom.getTime()) return { ok: false, reason: "consent is not yet valid" };
  if (!consent.validUntil || t >= consent.validUntil.getTime()) return { ok: false, reason: "consent has expired" };
  return { ok: true };
}

/** Status as seen at `now`: an ACTIVE consent past valid_until reads EXPIRED. */
export function effectiveStatus(consent: Consent, now: Date, revokedAt?: Date): ConsentStatus {
  if (consent.status === ConsentStatus.REVOKED || revokedAt) return ConsentStatus.REVOKED;
  if (consent.validUntil && now.getTime() >= consent.validUntil.getTime()) return ConsentStatus.EXPIRED;
  return consent.status;
}
