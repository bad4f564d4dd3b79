import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as wait } from "node:timers/promises";
import { CreditMeshError, isCreditMeshError } from "../errors.js";
import type { RateLimiter } from "../rate-limit.js";
import { isRequestId } from "../request-id.js";
import { OprfAnswer, OprfRequest } from "../gen/creditmesh/v1/oprf.js";
import { Signed } from "../gen/creditmesh/v1/peer.js";
import type { CommitteeMember } from "../subject/oprf/committee.js";
import type { OprfEvaluatorService } from "../subject/oprf/evaluator-service.js";
import type { EvaluationAnswer, EvaluationRequest, Evaluators } from "../subject/oprf/tokenizer.js";
import { answerFromWire, purposeToWire, requestHash } from "../subject/oprf/wire.js";
import { Backoff } from "./backoff.js";
import type { PeerComponents } from "./components.js";
import { OPRF_PROTOCOL } from "./protocols.js";
import { RpcProtocol, type RpcProtocolInit } from "./rpc-protocol.js";
import { openSignedAnswer, openSignedRequest, sealSigned, type SignedRequestSpec } from "./signed-request.js";

export type OprfComponents = Pick<PeerComponents, "peer" | "rpc" | "membership" | "signer" | "clock" | "logger"> & {
  /** Present only on a committee member holding its key share: the others refuse to evaluate. */
  evaluator?: Pick<OprfEvaluatorService, "handle">;
  /** Requests per member: one beyond it is refused before the evaluator decodes anything. */
  rateLimiter?: RateLimiter;
};

export interface OprfInit extends RpcProtocolInit {
  institutionId: string;
  maxClockSkewMs: number;
  /** Waits before asking an evaluator again that could not be reached (doubling, jittered), within the caller's deadline. */
  retry?: { initialMs: number; maxMs: number };
}

const DEFAULT_RETRY = { initialMs: 250, maxMs: 4_000 };

// No nonce here: the evaluator service claims it, after its own checks, so that a
// refused request is audited and answered with a signed refusal rather than an error frame.
const OPRF_SPEC: SignedRequestSpec<OprfRequest> = {
  what: "oprf request",
  decode: (bytes) => OprfRequest.decode(bytes),
  // Logged with every refusal here: one not the shape of an id is not copied into the log.
  id: (r) => (isRequestId(r.requestId) ? r.requestId : ""),
  sender: { field: "requester_institution_id", of: (r) => r.requesterInstitutionId },
  issued: { field: "issued_at", of: (r) => r.issuedAt },
};

/**
 * /creditmesh/oprf/1.0.0, both ends. As requester it is the tokenizer's
 * `Evaluators`: each request is a Signed(OprfRequest) carrying only blinded
 * elements, each answer a Signed(OprfAnswer) bound to the hash of the exact
 * request bytes. As evaluator it opens the request (membership, signature,
 * sender, freshness) and passes it to the evaluator service (epoch, nonce,
 * quota, audit, evaluation).
 */
export class OprfProtocol extends RpcProtocol implements Evaluators {
  readonly protocol = OPRF_PROTOCOL;

  constructor(
    private readonly c: OprfComponents,
    private readonly init: OprfInit,
  ) {
    super(c, init);
  }

  async handleMessage(body: Uint8Array, from: { peerId: string }, signal: AbortSignal): Promise<Uint8Array> {
    const evaluator = this.c.evaluator;
    if (!evaluator) throw new CreditMeshError("MEMBERSHIP_DENIED", "this member is not a subject-token evaluator");
    const { member, message } = openSignedRequest(body, from, OPRF_SPEC, { ...this.c, maxClockSkewMs: this.init.maxClockSkewMs });
    // The answer is bound to the bytes the requester signed, not to a re-encoding of them.
    const signedBytes = Signed.decode(body).body;
    const answer = await evaluator.handle(member.institutionId, signedBytes, message, signal);
    return sealSigned(OprfAnswer.encode(answer).finish(), (d) => this.c.signer.sign(d));
  }

  /**
   * One evaluation by one committee member. The evaluator is dialed on
   * demand (it is seldom among the members this node keeps connected); when
   * it cannot be reached — a dial refused or timed out, a stream lost, as
   * when many members onboard at once and every one of them dials the same
   * few evaluators — it is asked again, with a fresh request, after a capped
   * jittered backoff until `signal` ends. Answers and refusals are final.
   */
  async evaluate(member: CommitteeMember, request: EvaluationRequest, signal: AbortSignal): Promise<EvaluationAnswer> {
    const backoff = new Backoff(this.init.retry ?? DEFAULT_RETRY);
    for (;;) {
      try {
        return await this.evaluateOnce(member, request, signal);
      } catch (err) {
        if (!isCreditMeshError(err, "P2P_UNREACHABLE") || signal.aborted || this.c.membership.byInstitution(member.institutionId) === undefined) throw err;
        const delay = backoff.next();
        this.log.debug({ evaluator: member.institutionId, retry_ms: delay, err: (err as Error).message }, "evaluator unreachable; asking again");
        await wait(delay, undefined, { signal }).catch(() => {
          throw err;
        });
      }
    }
  }

  private async evaluateOnce(member: CommitteeMember, request: EvaluationRequest, signal: AbortSignal): Promise<EvaluationAnswer> {
    const peer = this.c.membership.byInstitution(member.institutionId);
    if (!peer) throw new CreditMeshError("P2P_UNREACHABLE", `evaluator ${member.institutionId} is not a member of this network`);
    const message: OprfRequest = {
      requestId: randomUUID(),
      requesterInstitutionId: this.init.institutionId,
      purpose: purposeToWire(request.purpose),
      epoch: String(request.epoch),
      blindedElements: request.blindedElements.map((e) => Buffer.from(e)),
      nonce: randomBytes(16),
      issuedAt: this.c.clock.now(),
      ticket: undefined,
    };
    const body = OprfRequest.encode(message).finish();
    // libp2p does not dial itself: an evaluator asking its own share goes straight to its service, through the same checks.
    if (peer.peerId === this.c.signer.peerId && this.c.evaluator) {
      return answerFromWire(await this.c.evaluator.handle(this.init.institutionId, body, OprfRequest.decode(body), signal), requestHash(body));
    }
    const bytes = await this.request(peer.peerId, sealSigned(body, (d) => this.c.signer.sign(d)), signal);
    const answer = openSignedAnswer(bytes, peer.peerId, (b) => OprfAnswer.decode(b), `evaluator ${member.institutionId}'s oprf answer`);
    return answerFromWire(answer, requestHash(body));
  }
}
