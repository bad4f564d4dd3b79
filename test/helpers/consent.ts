import { randomUUID } from "node:crypto";
import { signConsent } from "../../src/consent/artefact.js";
import { ConsentStatus, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import type { NodeKey } from "../../src/identity/node-key.js";

const DAY_MS = 86_400_000;

/**
 * An ACTIVE consent for loan origination, valid from a day before `now` to a
 * day after, granted to `grantee` about `subjectToken` and signed by `signer`
 * (the grantee's node key, as its node signs the consents it records); `over`
 * replaces any field before signing.
 */
export function activeConsent(opts: { subjectToken: string; grantee: string; signer: NodeKey; now?: Date }, over: Partial<Consent> = {}): Consent {
  const now = opts.now ?? new Date();
  return signConsent(
    Consent.fromPartial({
      consentId: randomUUID(),
      subjectToken: opts.subjectToken,
      granteeInstitutionId: opts.grantee,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(now.getTime() - DAY_MS),
      validUntil: new Date(now.getTime() + DAY_MS),
      evidenceRef: "sha256:0123456789",
      status: ConsentStatus.ACTIVE,
      issuedAt: now,
      ...over,
    }),
    opts.signer,
  );
}
