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

/**
 * Applies a gossiped revocation: only the grantee's own node may revoke its
 * consent, so the signature must be that member's. Returns the revocation if
 * it was stored. `via` says how it arrived: live gossip, or pulled from its
 * issuer by a node that missed the gossip (p2p/revocation-sync.ts).
 */
export async function applyRevocation(
  data: Uint8Array,
  m: { membership: Membership; consents: ConsentStore; logger: Logger; audit?: AuditTrail; metrics: Metrics | null },
  via: "gossip" | "pull" = "gossip",
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
  const grantee = m.membership.byInstitution(revocation.granteeInstitutionId);
  if (!grantee || !verifyByPeerId(grantee.peerId, envelope.body, envelope.signature)) {
    m.logger.warn({ consentId: revocation.consentId, grantee: revocation.granteeInstitutionId }, "revocation with a bad signature ignored");
    return undefined;
  }
  if (!revocation.consentId || !revocation.revokedAt) return undefined;
  if (!(await m.consents.getRevocation(revocation.consentId))) {
    await m.consents.putRevocation(revocation.consentId, revocation.revokedAt);
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
