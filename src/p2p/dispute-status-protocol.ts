import type { DisputeReceiver } from "../disputes/service.js";
import { Dispute } from "../gen/creditmesh/v1/dispute.js";
import { DisputeStatusRequest } from "../gen/creditmesh/v1/peer.js";
import { exchangeDispute, type DisputeComponents, type DisputeInit } from "./dispute-protocol.js";
import { DISPUTE_STATUS_PROTOCOL } from "./protocols.js";
import { RpcProtocol } from "./rpc-protocol.js";
import { openSignedRequest, sealSigned, type SignedRequestSpec } from "./signed-request.js";

export type DisputeStatusComponents = DisputeComponents & { receiver: Pick<DisputeReceiver, "statusFor"> };

const STATUS_SPEC: SignedRequestSpec<DisputeStatusRequest> = {
  what: "dispute status request",
  decode: (bytes) => DisputeStatusRequest.decode(bytes),
  id: (r) => r.disputeId,
  sender: { field: "requester_institution_id", of: (r) => r.requesterInstitutionId },
  issued: { field: "issued_at", of: (r) => r.issuedAt },
};

/**
 * /creditmesh/dispute-status, both ends: the member a dispute was filed
 * through asks the holder for the dispute as it is now. The request is a
 * Signed(DisputeStatusRequest), the answer a Signed(Dispute) by the holder.
 * Same checks as a filing; a dispute that is not held there, or was filed
 * through another member, is NOT_FOUND alike.
 */
export class DisputeStatusProtocol extends RpcProtocol {
  readonly protocol = DISPUTE_STATUS_PROTOCOL;

  constructor(
    private readonly c: DisputeStatusComponents,
    private readonly init: DisputeInit & { institutionId: string },
  ) {
    super(c, init);
  }

  async handleMessage(body: Uint8Array, from: { peerId: string }): Promise<Uint8Array> {
    const { member, message } = openSignedRequest(body, from, STATUS_SPEC, { ...this.c, maxClockSkewMs: this.init.maxClockSkewMs });
    const current = await this.c.receiver.statusFor(message.disputeId, member.institutionId);
    return sealSigned(Dispute.encode(current).finish(), (d) => this.c.signer.sign(d));
  }

  /** The holder's current record of a dispute this node filed. */
  async fetch(institutionId: string, disputeId: string, signal?: AbortSignal): Promise<Dispute> {
    const body = DisputeStatusRequest.encode({ disputeId, requesterInstitutionId: this.init.institutionId, issuedAt: this.c.clock.now() }).finish();
    return exchangeDispute(this.c, institutionId, body, (peerId, envelope) =>
      this.request(peerId, envelope, signal ?? AbortSignal.timeout(this.init.requestTimeoutMs ?? 10_000)),
    );
  }
}

export function createDisputeStatusProtocol(components: DisputeStatusComponents, init: DisputeInit & { institutionId: string }): DisputeStatusProtocol {
  return new DisputeStatusProtocol(components, init);
}
