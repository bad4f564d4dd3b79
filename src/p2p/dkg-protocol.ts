import { randomBytes, randomUUID } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import { DkgAnswer, DkgRequest, DkgStep, type SignedDkgPlan } from "../gen/creditmesh/v1/dkg.js";
import type { CeremonyPeers, CeremonyStep } from "../subject/oprf/dkg-coordinator.js";
import type { CeremonyParticipant } from "../subject/oprf/dkg-participant.js";
import type { PeerComponents } from "./components.js";
import { DKG_PROTOCOL, DKG_STEP_TIMEOUT_MS } from "./protocols.js";
import { RpcProtocol, type RpcProtocolInit } from "./rpc-protocol.js";
import { openSignedAnswer, openSignedRequest, sealSigned, type SignedRequestSpec } from "./signed-request.js";

export type DkgComponents = Pick<PeerComponents, "peer" | "rpc" | "membership" | "signer" | "clock" | "logger"> & {
  participant: Pick<CeremonyParticipant, "handle">;
  /** Replay window: false when (coordinator, nonce) was seen before; remembered durably otherwise. */
  nonces: { remember(requester: string, nonce: string, expiresAt: Date): Promise<boolean> };
};

export interface DkgInit extends RpcProtocolInit {
  institutionId: string;
  maxClockSkewMs: number;
}

const NONCE_BYTES = 16;

const DKG_SPEC: SignedRequestSpec<DkgRequest> = {
  what: "key ceremony request",
  decode: (bytes) => DkgRequest.decode(bytes),
  id: (r) => r.requestId,
  sender: { field: "coordinator_institution_id", of: (r) => r.coordinatorInstitutionId },
  issued: { field: "issued_at", of: (r) => r.issuedAt },
  check: (r) => (r.nonce.length !== NONCE_BYTES ? { field: "nonce", reason: `must be ${NONCE_BYTES} bytes` } : undefined),
};

/**
 * /creditmesh/dkg/1.0.0, both ends. The coordinating member sends each
 * participant a Signed(DkgRequest): one step of an operator-signed plan; the
 * participant opens it (member, signature, sender, freshness, nonce) and
 * answers with a Signed(DkgAnswer). The operator's plan, not the
 * coordinator, decides who takes part: any member may relay a ceremony, and
 * none can make one up. The participant is told who sent each step, so the
 * member that started a ceremony there is the only one that can continue or
 * abort it.
 */
export class DkgProtocol extends RpcProtocol {
  readonly protocol = DKG_PROTOCOL;

  constructor(
    private readonly c: DkgComponents,
    private readonly init: DkgInit,
  ) {
    super(c, init);
  }

  async handleMessage(body: Uint8Array, from: { peerId: string }): Promise<Uint8Array> {
    const { member, message } = openSignedRequest(body, from, DKG_SPEC, { ...this.c, maxClockSkewMs: this.init.maxClockSkewMs });
    const issued = message.issuedAt!.getTime();
    if (!(await this.c.nonces.remember(member.institutionId, Buffer.from(message.nonce).toString("hex"), new Date(issued + 2 * this.init.maxClockSkewMs)))) {
      throw new CreditMeshError("CONFLICT", "nonce: replayed key ceremony request", { field: "nonce" });
    }
    const answer = await this.c.participant.handle(message, member.institutionId);
    return sealSigned(DkgAnswer.encode(answer).finish(), (d) => this.c.signer.sign(d));
  }

  /** The participants of `plan` as this member reaches them, for runCeremony(). */
  peers(plan: SignedDkgPlan): CeremonyPeers {
    return { send: (id, step, signal) => this.#send(plan, id, step, signal) };
  }

  async #send(plan: SignedDkgPlan, institutionId: string, step: CeremonyStep, signal: AbortSignal): Promise<DkgAnswer> {
    const peer = this.c.membership.byInstitution(institutionId);
    if (!peer) throw new CreditMeshError("P2P_UNREACHABLE", `${institutionId} is not a member of this network`);
    const request: DkgRequest = {
      requestId: randomUUID(),
      coordinatorInstitutionId: this.init.institutionId,
      issuedAt: this.c.clock.now(),
      nonce: randomBytes(NONCE_BYTES),
      plan,
      step: step.step,
      round1: step.round1,
      echoes: step.echoes ?? [],
      shares: step.shares ?? [],
      complaints: step.complaints ?? [],
    };
    // libp2p does not dial itself: this member's own part is called directly.
    if (peer.peerId === this.c.signer.peerId) return this.c.participant.handle(request, this.init.institutionId);
    // One silent participant must not hold the ceremony for the plan's whole lifetime.
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(DKG_STEP_TIMEOUT_MS)]);
    const bytes = await this.request(peer.peerId, sealSigned(DkgRequest.encode(request).finish(), (d) => this.c.signer.sign(d)), bounded);
    const answer = openSignedAnswer(bytes, peer.peerId, (b) => DkgAnswer.decode(b), `${institutionId}'s key ceremony answer`);
    if (answer.institutionId !== institutionId || answer.step !== step.step || answer.sessionId === "") {
      throw new CreditMeshError("UNAVAILABLE", `${institutionId} answered another step than ${DkgStep[step.step]}`);
    }
    return answer;
  }
}
