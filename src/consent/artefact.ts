import { Consent, ConsentBody } from "../gen/creditmesh/v1/consent.js";

/** Something that signs with the node key (identity/ provides it). */
export interface Signer {
  sign(data: Uint8Array): Uint8Array;
}

/** The exact bytes a consent's signature covers. */
export function consentSigningBytes(c: Consent): Uint8Array {
  const body: ConsentBody = {
    consentId: c.consentId,
    subjectToken: c.subjectToken,
    granteeInstitutionId: c.granteeInstitutionId,
    purpose: c.purpose,
    validFrom: c.validFrom,
    validUntil: c.validUntil,
    evidenceRef: c.evidenceRef,
    issuedAt: c.issuedAt,
  };
  return ConsentBody.encode(body).finish();
}

export function signConsent(c: Consent, signer: Signer): Consent {
  return { ...c, signature: Buffer.from(signer.sign(consentSigningBytes(c))) };
}
