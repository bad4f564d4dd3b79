import { auditSafe, type AuditTrail } from "../audit/trail.js";
import { isoDate, type Clock } from "../clock.js";
import { CreditMeshError } from "../errors.js";
import { HolderStatus, Purpose, Role } from "../gen/creditmesh/v1/common.js";
import { QueryAnswer, QueryRequest, Signed } from "../gen/creditmesh/v1/peer.js";
import type { HolderAnswer } from "../gen/creditmesh/v1/report.js";
import type { Membership } from "../identity/manifest.js";
import { verifyByPeerId } from "../identity/node-key.js";
import type { Logger } from "../logger.js";
import { queriesAnswered } from "../metrics.js";
import type { RateLimiter } from "../rate-limit.js";
import { isoDateProblem } from "../records/dates.js";
import { signHolderAnswer, type SignedHolderAnswer } from "../report/holder.js";
import type { WriteOp } from "../store/database.js";
import type { NonceStore } from "../store/types.js";

export interface QueryHandlerModules {
  membership: Membership;
  /**
   * The domain's answer (consent check, inquiry log, tradelines, signature);
   * `also` (the request's nonce) must be committed with the holder's record of it.
   */
  answer(query: QueryRequest, also: readonly WriteOp[]): Promise<SignedHolderAnswer>;
  nonces: NonceStore;
  sign(data: Uint8Array): Uint8Array;
  rateLimiter?: RateLimiter;
  clock: Clock;
  logger: Logger;
  /** Records each refusal made here (the domain records its own answers and refusals). */
  audit?: AuditTrail;
}

/**
 * The holder's side of /creditmesh/query: authenticates the request (the
 * connection's peer must be a LENDER member, and the request must be signed by
 * that peer for that institution), rejects stale and replayed requests, then
 * lets the domain answer. Every refusal is a signed DENIED answer, never a
 * dropped stream, so the requester can tell "refused" from "broken".
 */
export function createQueryHandler(opts: { institutionId: string; maxClockSkewMs: number }, m: QueryHandlerModules) {
  const deny = async (peer: string, base: Partial<HolderAnswer>, reason: string, purpose?: Purpose): Promise<Uint8Array> => {
    m.logger.warn({ requester: base.requesterInstitutionId, requestId: base.requestId, reason }, "query refused");
    // The actor is the member the connection authenticated, whatever the request claims.
    await m.audit?.append("QUERY_REFUSED", peer, {
      requester: auditSafe(base.requesterInstitutionId),
      requestId: auditSafe(base.requestId),
      subjectToken: auditSafe(base.subjectToken),
      purpose: purpose === undefined ? "" : (Purpose[purpose] ?? String(purpose)),
      reason,
    });
    queriesAnswered.inc({ status: "DENIED" });
    const answer: HolderAnswer = {
      requestId: "",
      holderInstitutionId: opts.institutionId,
      requesterInstitutionId: "",
      subjectToken: "",
      asOf: "",
      tradelines: [],
      inquiries: [],
      nameTags: [],
      ...base,
      status: HolderStatus.DENIED,
      reason,
      answeredAt: m.clock.now(),
    };
    return encodeAnswer(signHolderAnswer(answer, m.sign));
  };

  return async (body: Uint8Array, from: { peerId: string }): Promise<Uint8Array> => {
    const member = m.membership.byPeerId(from.peerId);
    if (!member) throw new CreditMeshError("MEMBERSHIP_DENIED", "not a member of this network");
    let envelope: Signed;
    let query: QueryRequest;
    try {
      envelope = Signed.decode(body);
      query = QueryRequest.decode(envelope.body);
    } catch (cause) {
      throw new CreditMeshError("P2P_PROTOCOL", "malformed query", { cause });
    }
    const base = { requestId: query.requestId, requesterInstitutionId: query.requesterInstitutionId, subjectToken: query.subjectToken, asOf: query.asOf };
    if (!verifyByPeerId(from.peerId, envelope.body, envelope.signature)) return deny(member.institutionId, base, "request signature does not verify", query.purpose);
    if (query.requesterInstitutionId !== member.institutionId) return deny(member.institutionId, base, "requester institution does not match the connection's peer", query.purpose);
    if (!member.roles.includes(Role.LENDER)) return deny(member.institutionId, base, "requester is not a LENDER member", query.purpose);
    if (m.rateLimiter && !m.rateLimiter.tryTake(member.institutionId)) return deny(member.institutionId, base, "rate limit exceeded", query.purpose);
    const now = m.clock.now().getTime();
    const issued = query.issuedAt?.getTime() ?? 0;
    if (Math.abs(now - issued) > opts.maxClockSkewMs) return deny(member.institutionId, base, "request is stale or from the future", query.purpose);
    if (!query.requestId || query.nonce.length < 8) return deny(member.institutionId, base, "request lacks a request id or nonce", query.purpose);
    // A report can only be as of a day that has begun somewhere within the clock skew; a later
    // date would show installments not yet due as missed.
    if (isoDateProblem(query.asOf) !== undefined || query.asOf > isoDate(new Date(now + opts.maxClockSkewMs))) {
      return deny(member.institutionId, base, "as_of is not a date up to today", query.purpose);
    }
    const nonce = m.nonces.claim(member.institutionId, Buffer.from(query.nonce).toString("hex"), new Date(issued + 2 * opts.maxClockSkewMs));
    if (!nonce) return deny(member.institutionId, base, "replayed request (nonce seen before)", query.purpose);

    let signed: SignedHolderAnswer;
    try {
      signed = await m.answer(query, nonce.ops);
    } finally {
      nonce.settled();
    }
    queriesAnswered.inc({ status: HolderStatus[signed.answer.status] });
    return encodeAnswer(signed);
  };
}

function encodeAnswer(signed: SignedHolderAnswer): Uint8Array {
  return QueryAnswer.encode({ signedAnswer: Buffer.from(signed.signedAnswer), signature: Buffer.from(signed.signature) }).finish();
}
