import type { Clock } from "../clock.js";
import type { DisputeReceiver } from "../disputes/service.js";
import { CreditMeshError } from "../errors.js";
import { Dispute } from "../gen/creditmesh/v1/dispute.js";
import { DisputeStatusRequest, Signed, type Member } from "../gen/creditmesh/v1/peer.js";
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
    const { member, message: dispute } = authenticate(body, from, opts, m, {
      what: "dispute",
      decode: (bytes) => Dispute.decode(bytes),
      disputeId: (d) => d.disputeId,
      sender: { field: "filed_via_institution_id", of: (d) => d.filedViaInstitutionId },
      issued: { field: "filed_at", of: (d) => d.filedAt },
    });
    return signedDispute(await m.receiver.receive(dispute, member.institutionId), m.sign);
  };
}

/**
 * The holder's side of /creditmesh/dispute-status: the request is a
 * Signed(DisputeStatusRequest) from the member a dispute was filed through,
 * the answer a Signed(Dispute) by this holder (the dispute as it is now).
 * Same checks as a filing: member, signature, requester = connection's peer,
 * rate limit, fresh `issued_at`. A dispute that is not held here, or was
 * filed through another member, is NOT_FOUND alike.
 */
export function createDisputeStatusHandler(opts: { institutionId: string; maxClockSkewMs: number }, m: DisputeHandlerModules): RpcHandler {
  return async (body, from) => {
    const { member, message: request } = authenticate(body, from, opts, m, {
      what: "dispute status request",
      decode: (bytes) => DisputeStatusRequest.decode(bytes),
      disputeId: (r) => r.disputeId,
      sender: { field: "requester_institution_id", of: (r) => r.requesterInstitutionId },
      issued: { field: "issued_at", of: (r) => r.issuedAt },
    });
    return signedDispute(await m.receiver.statusFor(request.disputeId, member.institutionId), m.sign);
  };
}

interface SignedRequestSpec<T> {
  /** What the request is, for errors and logs. */
  what: string;
  decode(bytes: Uint8Array): T;
  disputeId(message: T): string;
  /** The member the request says it comes from: must be the connection's. */
  sender: { field: string; of(message: T): string };
  /** When the sender made it: must be within the clock skew. */
  issued: { field: string; of(message: T): Date | undefined };
}

/**
 * Opens a Signed(T) from a peer: the peer must be a member, the signature its
 * own, the request must name that member, stay within the member's rate and
 * be fresh. Each refusal is a typed error, logged with the dispute id.
 */
function authenticate<T>(
  body: Uint8Array,
  from: { peerId: string },
  opts: { maxClockSkewMs: number },
  m: DisputeHandlerModules,
  spec: SignedRequestSpec<T>,
): { member: Member; message: T } {
  const member = m.membership.byPeerId(from.peerId);
  if (!member) throw new CreditMeshError("MEMBERSHIP_DENIED", "not a member of this network");
  let envelope: Signed;
  let message: T;
  try {
    envelope = Signed.decode(body);
    message = spec.decode(envelope.body);
  } catch (cause) {
    throw new CreditMeshError("P2P_PROTOCOL", `malformed ${spec.what}`, { cause });
  }
  const refuse = (code: "SIGNATURE_INVALID" | "MEMBERSHIP_DENIED" | "RATE_LIMITED" | "VALIDATION_FAILED", reason: string, field?: string) => {
    m.logger.warn({ from: member.institutionId, disputeId: spec.disputeId(message), reason }, `${spec.what} refused`);
    return new CreditMeshError(code, field ? `${field}: ${reason}` : reason, { field });
  };
  if (!verifyByPeerId(from.peerId, envelope.body, envelope.signature)) throw refuse("SIGNATURE_INVALID", `${spec.what} signature does not verify`);
  if (spec.sender.of(message) !== member.institutionId) {
    throw refuse("MEMBERSHIP_DENIED", `${spec.sender.field} does not match the connection's peer`);
  }
  if (m.rateLimiter && !m.rateLimiter.tryTake(member.institutionId)) throw refuse("RATE_LIMITED", "rate limit exceeded");
  const issued = spec.issued.of(message)?.getTime();
  if (issued === undefined || Math.abs(m.clock.now().getTime() - issued) > opts.maxClockSkewMs) {
    throw refuse("VALIDATION_FAILED", "stale or from the future", spec.issued.field);
  }
  return { member, message };
}

function signedDispute(dispute: Dispute, sign: (data: Uint8Array) => Uint8Array): Uint8Array {
  const bytes = Dispute.encode(dispute).finish();
  return Signed.encode({ body: Buffer.from(bytes), signature: Buffer.from(sign(bytes)) }).finish();
}
