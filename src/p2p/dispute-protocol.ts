import { CreditMeshError, type ErrorCode } from "../errors.js";
import type { DisputeReceiver } from "../disputes/service.js";
import { Dispute } from "../gen/creditmesh/v1/dispute.js";
import type { Member } from "../gen/creditmesh/v1/peer.js";
import type { RateLimiter } from "../rate-limit.js";
import type { PeerComponents } from "./components.js";
import { DISPUTE_PROTOCOL } from "./protocols.js";
import { RpcRemoteError } from "./rpc-client.js";
import { RpcProtocol, type RpcProtocolInit } from "./rpc-protocol.js";
import { openSignedAnswer, openSignedRequest, sealSigned, type SignedRequestSpec } from "./signed-request.js";

export type DisputeComponents = Pick<PeerComponents, "peer" | "rpc" | "membership" | "signer" | "clock" | "logger"> & {
  /** The holder's domain: checks the account belongs to the subject, stores the dispute OPEN. */
  receiver: DisputeReceiver;
  /** One budget per member, shared with dispute-status requests. */
  rateLimiter?: RateLimiter;
};

export interface DisputeInit extends RpcProtocolInit {
  maxClockSkewMs: number;
  /** Applied when the caller gives no signal. */
  requestTimeoutMs?: number;
}

const DISPUTE_SPEC: SignedRequestSpec<Dispute> = {
  what: "dispute",
  decode: (bytes) => Dispute.decode(bytes),
  id: (d) => d.disputeId,
  sender: { field: "filed_via_institution_id", of: (d) => d.filedViaInstitutionId },
  issued: { field: "filed_at", of: (d) => d.filedAt },
};

/**
 * /creditmesh/dispute, both ends. The request is a Signed(Dispute) from the
 * filing member, the answer a Signed(Dispute) by the holder (the dispute as
 * stored, with its deadline). The dispute id is the request's nonce: a
 * replayed or retried filing is answered with the dispute already stored and
 * changes nothing.
 *
 * The filer's consent rides in the Dispute (`consent`); the holder checks it
 * (disputes/service.ts) after this protocol has authenticated the sender.
 *
 * Errors at the filer: NOT_FOUND (the institution is not a member, or the
 * holder has no such account for that subject), VALIDATION_FAILED / CONFLICT /
 * CONSENT_DENIED / MEMBERSHIP_DENIED / RATE_LIMITED (the holder refused,
 * same code and field), P2P_UNREACHABLE and P2P_TIMEOUT (no answer),
 * UNAVAILABLE (the holder failed or its answer did not verify).
 */
export class DisputeProtocol extends RpcProtocol {
  readonly protocol = DISPUTE_PROTOCOL;

  constructor(
    private readonly c: DisputeComponents,
    private readonly init: DisputeInit,
  ) {
    super(c, init);
  }

  async handleMessage(body: Uint8Array, from: { peerId: string }): Promise<Uint8Array> {
    const { member, message } = openSignedRequest(body, from, DISPUTE_SPEC, { ...this.c, maxClockSkewMs: this.init.maxClockSkewMs });
    const stored = await this.c.receiver.receive(message, member.institutionId);
    return sealSigned(Dispute.encode(stored).finish(), (d) => this.c.signer.sign(d));
  }

  /** Files `dispute` with the member holding the account; returns the dispute as that holder stored and signed it. */
  async send(institutionId: string, dispute: Dispute, signal?: AbortSignal): Promise<Dispute> {
    return exchangeDispute(this.c, institutionId, Dispute.encode(dispute).finish(), (peerId, envelope) =>
      this.request(peerId, envelope, signal ?? AbortSignal.timeout(this.init.requestTimeoutMs ?? 10_000)),
    );
  }
}

export function createDisputeProtocol(components: DisputeComponents, init: DisputeInit): DisputeProtocol {
  return new DisputeProtocol(components, init);
}

/** Refusals of the holder that keep their meaning at the filer (and their gRPC status). */
const PASSED_THROUGH: readonly ErrorCode[] = ["NOT_FOUND", "VALIDATION_FAILED", "CONFLICT", "CONSENT_DENIED", "MEMBERSHIP_DENIED", "RATE_LIMITED"];

/** Signs `body`, sends it to the member `institutionId` and returns the Dispute that member signed in answer. */
export async function exchangeDispute(
  c: Pick<PeerComponents, "membership" | "signer" | "logger">,
  institutionId: string,
  body: Uint8Array,
  send: (peerId: string, envelope: Uint8Array) => Promise<Uint8Array>,
): Promise<Dispute> {
  const member: Member | undefined = c.membership.byInstitution(institutionId);
  if (!member) {
    throw new CreditMeshError("NOT_FOUND", `institution_id: ${institutionId} is not a member of this network`, { field: "institution_id" });
  }
  let bytes: Uint8Array;
  try {
    bytes = await send(member.peerId, sealSigned(body, (d) => c.signer.sign(d)));
  } catch (err) {
    throw fromRemote(err, institutionId);
  }
  try {
    return openSignedAnswer(bytes, member.peerId, (b) => Dispute.decode(b), `holder ${institutionId}'s dispute answer`);
  } catch (err) {
    c.logger.warn({ holder: institutionId, err: (err as Error).message }, "dispute answer refused");
    throw err;
  }
}

/** A holder's typed refusal becomes the same error here, with its field; anything else says the holder failed. */
function fromRemote(err: unknown, holder: string): unknown {
  if (!(err instanceof RpcRemoteError)) return err;
  const code = PASSED_THROUGH.find((c) => c === err.remoteCode);
  if (code) return new CreditMeshError(code, `holder ${holder}: ${err.remoteMessage}`, { field: err.field, cause: err, meta: { holder } });
  // The holder's handler timed out: as for any timeout, the caller sees P2P_TIMEOUT.
  if (err.code === "P2P_TIMEOUT") return err;
  return new CreditMeshError("UNAVAILABLE", `holder ${holder} could not take the dispute: ${err.remoteCode || "error"}: ${err.remoteMessage}`, {
    cause: err,
    meta: { holder },
  });
}
