import type { DisputeRouter } from "../disputes/service.js";
import { CreditMeshError, type ErrorCode } from "../errors.js";
import { Dispute } from "../gen/creditmesh/v1/dispute.js";
import { DisputeStatusRequest, Signed } from "../gen/creditmesh/v1/peer.js";
import type { Membership } from "../identity/manifest.js";
import { verifyByPeerId } from "../identity/node-key.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { PeerRequest } from "./remote-holders.js";
import { RpcRemoteError } from "./rpc-client.js";

/** Refusals of the holder that keep their meaning at the filer (and their gRPC status). */
const PASSED_THROUGH: readonly ErrorCode[] = ["NOT_FOUND", "VALIDATION_FAILED", "CONFLICT", "MEMBERSHIP_DENIED", "RATE_LIMITED"];

/**
 * The filer's side of /creditmesh/dispute (and /creditmesh/dispute-status):
 * signs the dispute (or the status request), sends it to the holder named in
 * it and accepts the answer only if the holder signed it.
 *
 * Errors: NOT_FOUND (the institution is not a member, or the holder has no
 * such account for that subject), VALIDATION_FAILED / CONFLICT /
 * MEMBERSHIP_DENIED / RATE_LIMITED (the holder refused, same code), P2P_UNREACHABLE
 * and P2P_TIMEOUT (no answer), UNAVAILABLE (the holder failed or its answer
 * did not verify).
 */
export class RemoteDisputes implements DisputeRouter {
  constructor(
    private readonly opts: { institutionId: string },
    private readonly modules: {
      membership: Membership;
      /** Over /creditmesh/dispute. */
      request: PeerRequest;
      /** Over /creditmesh/dispute-status. */
      requestStatus: PeerRequest;
      sign(data: Uint8Array): Uint8Array;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  async send(institutionId: string, dispute: Dispute, signal?: AbortSignal): Promise<Dispute> {
    const body = Dispute.encode(dispute).finish();
    return this.exchange(this.modules.request, institutionId, body, dispute.disputeId, signal);
  }

  /** The holder's current record of a dispute this node filed. */
  async status(institutionId: string, disputeId: string, signal?: AbortSignal): Promise<Dispute> {
    const body = DisputeStatusRequest.encode({
      disputeId,
      requesterInstitutionId: this.opts.institutionId,
      issuedAt: this.modules.clock.now(),
    }).finish();
    return this.exchange(this.modules.requestStatus, institutionId, body, disputeId, signal);
  }

  /** Sends a signed body to a member and returns the Dispute it signed in answer. */
  private async exchange(request: PeerRequest, institutionId: string, body: Uint8Array, disputeId: string, signal?: AbortSignal): Promise<Dispute> {
    const member = this.modules.membership.byInstitution(institutionId);
    if (!member) {
      throw new CreditMeshError("NOT_FOUND", `institution_id: ${institutionId} is not a member of this network`, { field: "institution_id" });
    }
    const envelope = Signed.encode({ body: Buffer.from(body), signature: Buffer.from(this.modules.sign(body)) }).finish();
    let bytes: Uint8Array;
    try {
      bytes = await request(member.peerId, envelope, signal ?? AbortSignal.timeout(10_000));
    } catch (err) {
      throw fromRemote(err, institutionId);
    }
    let answer: Signed;
    try {
      answer = Signed.decode(bytes);
    } catch (cause) {
      throw new CreditMeshError("UNAVAILABLE", `holder ${institutionId} sent a malformed answer`, { cause });
    }
    if (!verifyByPeerId(member.peerId, answer.body, answer.signature)) {
      this.modules.logger.warn({ holder: institutionId, disputeId }, "dispute answer signature does not verify");
      throw new CreditMeshError("UNAVAILABLE", `holder ${institutionId}'s answer is not signed by its key; dispute not recorded`);
    }
    try {
      return Dispute.decode(answer.body);
    } catch (cause) {
      throw new CreditMeshError("UNAVAILABLE", `holder ${institutionId} sent a malformed dispute`, { cause });
    }
  }
}

/** A holder's typed refusal becomes the same error here; anything else says the holder failed. */
function fromRemote(err: unknown, holder: string): unknown {
  if (!(err instanceof RpcRemoteError)) return err;
  const message = err.message.replace(/^peer answered [A-Z_]+: /, "");
  const code = PASSED_THROUGH.find((c) => c === err.remoteCode);
  if (code) {
    const field = /^([a-z_]+(?:\.[a-z_]+)*): /.exec(message)?.[1];
    return new CreditMeshError(code, `holder ${holder}: ${message}`, { field, cause: err });
  }
  // The holder's handler timed out: as for any timeout, the caller sees P2P_TIMEOUT.
  if (err.code === "P2P_TIMEOUT") return err;
  return new CreditMeshError("UNAVAILABLE", `holder ${holder} could not take the dispute: ${err.remoteCode || "error"}: ${message}`, { cause: err });
}
