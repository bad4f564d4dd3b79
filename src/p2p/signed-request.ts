import type { Clock } from "../clock.js";
import { CreditMeshError, type ErrorCode } from "../errors.js";
import { Role } from "../gen/creditmesh/v1/common.js";
import { Signed, type Member } from "../gen/creditmesh/v1/peer.js";
import type { Membership } from "../identity/manifest.js";
import { verifyByPeerId } from "../identity/node-key.js";
import type { Logger } from "../logger.js";
import type { RateLimiter } from "../rate-limit.js";
import { isRequestId } from "../request-id.js";
import type { NonceClaim, NonceStore } from "../store/types.js";

/** What a protocol's signed request is and where its checked fields live. */
export interface SignedRequestSpec<T> {
  /** What the request is, in refusals and logs ("request", "dispute"). */
  what: string;
  decode(bytes: Uint8Array): T;
  /** An id of the request for logs (request id, dispute id); never personal data. */
  id(message: T): string;
  /** The member the request says it comes from: must be the connection's. */
  sender: { field: string; label?: string; of(message: T): string };
  /** When the sender made it: must be within the clock skew. */
  issued: { field: string; of(message: T): Date | undefined };
  /** The role the sender must hold, if any. */
  role?: Role;
  /** Replay protection: the request's nonce, claimed in the nonce store after every other check. */
  nonce?: { of(message: T): Uint8Array | undefined; store: NonceStore };
  /** The protocol's own check of the content, run before the nonce is claimed; returns a refusal. */
  check?(message: T, now: number): { reason: string; field: string } | undefined;
  /** The bytes the envelope's signature covers, when not the body itself (a query's inquiry statement). */
  signedBytes?(body: Uint8Array, message: T): Uint8Array;
}

export interface SignedRequestContext {
  membership: Pick<Membership, "byPeerId">;
  clock: Clock;
  logger: Logger;
  maxClockSkewMs: number;
  rateLimiter?: RateLimiter;
}

/** An opened request: who sent it, what it says, and its claimed nonce (settle it once committed). */
export interface OpenedRequest<T> {
  member: Member;
  message: T;
  /** The envelope as received: its body and the sender's signature. */
  envelope: Signed;
  nonce?: NonceClaim;
}

type RefusalMeta = { from: string; requestId: string; reason: string };

/**
 * A signed request refused after it was decoded: `reason` says why without
 * the field prefix the message has, `request` is the decoded request (for a
 * signed refusal the protocol may prefer to an error frame).
 */
export class RequestRefused<T = unknown> extends CreditMeshError<RefusalMeta> {
  constructor(
    code: ErrorCode,
    readonly reason: string,
    readonly member: Member,
    readonly request: T,
    requestId: string,
    field?: string,
  ) {
    super(code, field ? `${field}: ${reason}` : reason, { field, meta: { from: member.institutionId, requestId, reason } });
    this.name = "RequestRefused";
  }
}

/**
 * Opens a Signed(T) from a peer, with the checks every peer protocol needs, in
 * this order: the connection's peer is a member (MEMBERSHIP_DENIED), the
 * envelope decodes (P2P_PROTOCOL), the member stays within its rate
 * (RATE_LIMITED), the signature is that peer's (SIGNATURE_INVALID), the
 * request names that member as its sender (MEMBERSHIP_DENIED), the member
 * holds the role (MEMBERSHIP_DENIED), the request is fresh (VALIDATION_FAILED),
 * the protocol's own check passes (VALIDATION_FAILED) and the nonce is new
 * (CONFLICT). Refusals after decoding are `RequestRefused`, logged here.
 */
export function openSignedRequest<T>(body: Uint8Array, from: { peerId: string }, spec: SignedRequestSpec<T>, ctx: SignedRequestContext): OpenedRequest<T> {
  const member = ctx.membership.byPeerId(from.peerId);
  if (!member) throw new CreditMeshError("MEMBERSHIP_DENIED", "not a member of this network");
  let envelope: Signed;
  let message: T;
  try {
    envelope = Signed.decode(body);
    message = spec.decode(envelope.body);
  } catch (cause) {
    throw new CreditMeshError("P2P_PROTOCOL", `malformed ${spec.what}`, { cause });
  }
  const refuse = (code: ErrorCode, reason: string, field?: string): RequestRefused<T> => {
    // Logged: an id not of a request id's shape (any length, any bytes) is left out.
    const id = spec.id(message);
    const refusal = new RequestRefused(code, reason, member, message, isRequestId(id) ? id : "", field);
    ctx.logger.warn(refusal.meta, `${spec.what} refused`);
    return refusal;
  };
  // Before the signature: the connection already names the member, and a flood should cost it no verification.
  if (ctx.rateLimiter && !ctx.rateLimiter.tryTake(member.institutionId)) throw refuse("RATE_LIMITED", "rate limit exceeded");
  const signedBytes = spec.signedBytes ? spec.signedBytes(envelope.body, message) : envelope.body;
  if (!verifyByPeerId(from.peerId, signedBytes, envelope.signature)) throw refuse("SIGNATURE_INVALID", `${spec.what} signature does not verify`);
  if (spec.sender.of(message) !== member.institutionId) {
    throw refuse("MEMBERSHIP_DENIED", `${spec.sender.label ?? spec.sender.field} does not match the connection's peer`);
  }
  if (spec.role !== undefined && !member.roles.includes(spec.role)) {
    throw refuse("MEMBERSHIP_DENIED", `requester is not a ${Role[spec.role]} member`);
  }
  const now = ctx.clock.now().getTime();
  const issued = spec.issued.of(message)?.getTime();
  if (issued === undefined || Math.abs(now - issued) > ctx.maxClockSkewMs) {
    throw refuse("VALIDATION_FAILED", `${spec.what} is stale or from the future`, spec.issued.field);
  }
  const nonceBytes = spec.nonce?.of(message);
  if (spec.nonce && (!spec.id(message) || !nonceBytes || nonceBytes.length < 8)) {
    throw refuse("VALIDATION_FAILED", `${spec.what} lacks a request id or nonce`, "nonce");
  }
  const problem = spec.check?.(message, now);
  if (problem) throw refuse("VALIDATION_FAILED", problem.reason, problem.field);
  if (!spec.nonce || !nonceBytes) return { member, message, envelope };
  // Kept until no fresh request could carry it any more.
  const hex = Buffer.from(nonceBytes.buffer, nonceBytes.byteOffset, nonceBytes.byteLength).toString("hex");
  const nonce = spec.nonce.store.claim(member.institutionId, hex, new Date(issued + 2 * ctx.maxClockSkewMs));
  if (!nonce) throw refuse("CONFLICT", `replayed ${spec.what} (nonce seen before)`, "nonce");
  return { member, message, envelope, nonce };
}

/** A body and this node's signature over exactly those bytes, as one Signed envelope. */
export function sealSigned(body: Uint8Array, sign: (data: Uint8Array) => Uint8Array): Uint8Array {
  return Signed.encode({ body: Buffer.from(body), signature: Buffer.from(sign(body)) }).finish();
}

/**
 * Opens a Signed(T) answer from `peerId`. UNAVAILABLE when it does not decode
 * or is not signed by that peer: an answer nobody can verify later is no answer.
 */
export function openSignedAnswer<T>(bytes: Uint8Array, peerId: string, decode: (body: Uint8Array) => T, what: string): T {
  let answer: Signed;
  try {
    answer = Signed.decode(bytes);
  } catch (cause) {
    throw new CreditMeshError("UNAVAILABLE", `malformed ${what}`, { cause });
  }
  if (!verifyByPeerId(peerId, answer.body, answer.signature)) throw new CreditMeshError("UNAVAILABLE", `${what} is not signed by its sender's key`);
  try {
    return decode(answer.body);
  } catch (cause) {
    throw new CreditMeshError("UNAVAILABLE", `malformed ${what}`, { cause });
  }
}
