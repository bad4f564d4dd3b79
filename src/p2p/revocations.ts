import { auditSafe, type AuditTrail } from "../audit/trail.js";
import { sealRevocation } from "../consent/revocation.js";
import { Revocation } from "../gen/creditmesh/v1/consent.js";
import { Signed } from "../gen/creditmesh/v1/peer.js";
import type { Membership } from "../identity/manifest.js";
import { verifyByPeerId } from "../identity/node-key.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { ConsentStore } from "../store/types.js";

/** A revocation as gossiped: signed by the grantee node that revoked it. */
export function encodeRevocation(r: Revocation, sign: (data: Uint8Array) => Uint8Array): Uint8Array {
  return sealRevocation(r, { sign });
}

/** Why a member's revocation was dropped (the `reason` label of creditmesh_revocations_refused_total). */
export type RevocationRefusal = "bad_signature" | "not_the_signer" | "consent_of_another_grantee";

/**
 * Applies a gossiped revocation: only the consent's grantee (its own
 * signer) may revoke it, so the signature must be that member's, and it is
 * stored under (grantee, consent id): one signed by member X naming member
 * Y's consent id lands under X and never matches Y's consent. Returns the
 * revocation if it was accepted. `via` says how it arrived: live gossip, or
 * pulled from its issuer by a node that missed the gossip
 * (p2p/revocation-sync.ts). `senderPeerId` is the member that gossiped it;
 * a member that sends what it is not entitled to is logged and counted.
 */
export async function applyRevocation(
  data: Uint8Array,
  m: { membership: Membership; consents: ConsentStore; logger: Logger; audit?: AuditTrail; metrics: Metrics | null },
  via: "gossip" | "pull" = "gossip",
  senderPeerId?: string,
): Promise<Revocation | undefined> {
  let revocation: Revocation;
  let envelope: Signed;
  try {
    envelope = Signed.decode(data);
    revocation = Revocation.decode(envelope.body);
  } catch {
    m.logger.warn("malformed revocation ignored");
    return undefined;
  }
  const sender = senderPeerId === undefined ? undefined : (m.membership.byPeerId(senderPeerId)?.institutionId ?? senderPeerId);
  const refuse = (reason: RevocationRefusal, message: string): undefined => {
    const member = sender ?? revocation.granteeInstitutionId;
    m.metrics?.revocationsRefused.inc({ member, reason });
    m.logger.warn({ member, grantee: revocation.granteeInstitutionId, consentId: revocation.consentId, reason }, message);
    return undefined;
  };
  const grantee = m.membership.byInstitution(revocation.granteeInstitutionId);
  if (!grantee || !verifyByPeerId(grantee.peerId, envelope.body, envelope.signature)) {
    return refuse("bad_signature", "revocation not signed by the grantee it names dropped");
  }
  // Gossip is signed by its sender too: a member relaying another's revocation as its own is not entitled to.
  if (senderPeerId !== undefined && senderPeerId !== grantee.peerId) {
    return refuse("not_the_signer", "revocation gossiped by a member other than its signer dropped");
  }
  if (!revocation.consentId || !revocation.revokedAt) return undefined;
  // Stored under its own grantee it could not touch the other consent, but the attempt is worth knowing about.
  const known = await m.consents.get(revocation.consentId).catch(() => undefined);
  if (known !== undefined && known.granteeInstitutionId !== revocation.granteeInstitutionId) {
    return refuse("consent_of_another_grantee", "revocation naming a consent granted to another member dropped");
  }
  if (!(await m.consents.getRevocation(revocation.granteeInstitutionId, revocation.consentId))) {
    await m.consents.putRevocation(revocation.granteeInstitutionId, revocation.consentId, revocation.revokedAt);
    m.metrics?.revocationsStored.inc({ via });
    await m.audit?.append("REVOCATION_RECEIVED", revocation.granteeInstitutionId, {
      consentId: auditSafe(revocation.consentId),
      grantee: revocation.granteeInstitutionId,
      revokedAt: revocation.revokedAt.toISOString(),
    });
    m.logger.info({ consentId: revocation.consentId, grantee: revocation.granteeInstitutionId }, "revocation stored");
  }
  return revocation;
}
