import type { Clock } from "../clock.js";
import type { DisputeReceiver } from "../disputes/service.js";
import { CreditMeshError } from "../errors.js";
import { Dispute } from "../gen/creditmesh/v1/dispute.js";
import { Signed } from "../gen/creditmesh/v1/peer.js";
import type { Membership } from "../identity/manifest.js";
import { verifyByPeerId } from "../identity/node-key.js";
import type { Logger } from "../logger.js";
import type { RateLimiter } from "../rate-limit.js";
import type { RpcHandler } from "./rpc-server.js";

export interface DisputeHandlerModules {
  membership: Membership;
  /** The holder's domain: checks the account belongs to the subject, stores the dispute OPEN. */
  receiver: DisputeReceiver;
  sign(data: Uint8Array): Uint8Array;
  rateLimiter?: RateLimiter;
  clock: Clock;
  logger: Logger;
}

/**
 * The holder's side of /creditmesh/dispute: the request is a Signed(Dispute)
 * from the filing member, the answer a Signed(Dispute) by this holder (the
 * dispute as stored, with its deadline).
 *
 * The connection's peer must be a member, the request must be signed by that
 * peer and name that member as the filer, and `filed_at` must be fresh. The
 * dispute id is the request's nonce: a replayed or retried filing is answered
 * with the dispute already stored and changes nothing. Refusals are typed
 * errors (MEMBERSHIP_DENIED, SIGNATURE_INVALID, VALIDATION_FAILED, NOT_FOUND
 * for an account that is not that subject's here, CONFLICT, RATE_LIMITED),
 * which the filer turns back into the same codes.
 */
export function createDisputeHandler(opts: { institutionId: string; maxClockSkewMs: number }, m: DisputeHandlerModules): RpcHandler {
  return async (body, from) => {
    const member = m.membership.byPeerId(from.peerId);
    if (!member) throw new CreditMeshError("MEMBERSHIP_DENIED", "not a member of this network");
    let envelope: Signed;
    let dispute: Dispute;
    try {
      envelope = Signed.decode(body);
      dispute = Dispute.decode(envelope.body);
    } catch (cause) {
      throw new CreditMeshError("P2P_PROTOCOL", "malformed dispute", { cause });
    }
    const refuse = (code: "SIGNATURE_INVALID" | "MEMBERSHIP_DENIED" | "RATE_LIMITED" | "VALIDATION_FAILED", reason: string, field?: string) => {
      m.logger.warn({ from: member.institutionId, disputeId: dispute.disputeId, reason }, "dispute refused");
      return new CreditMeshError(code, field ? `${field}: ${reason}` : reason, { field });
    };
    if (!verifyByPeerId(from.peerId, envelope.body, envelope.signature)) throw refuse("SIGNATURE_INVALID", "dispute signature does not verify");
    if (dispute.filedViaInstitutionId !== member.institutionId) {
      throw refuse("MEMBERSHIP_DENIED", "filed_via_institution_id does not match the connection's peer");
    }
    if (m.rateLimiter && !m.rateLimiter.tryTake(member.institutionId)) throw refuse("RATE_LIMITED", "rate limit exceeded");
    const filed = dispute.filedAt?.getTime();
    if (filed === undefined || Math.abs(m.clock.now().getTime() - filed) > opts.maxClockSkewMs) {
      throw refuse("VALIDATION_FAILED", "stale or from the future", "filed_at");
    }

    const stored = await m.receiver.receive(dispute, member.institutionId);
    const answer = Dispute.encode(stored).finish();
    return Signed.encode({ body: Buffer.from(answer), signature: Buffer.from(m.sign(answer)) }).finish();
  };
}
