import { CreditMeshError } from "../errors.js";
import { WitnessAddCheckpoint, WitnessAddCheckpointAnswer } from "../gen/creditmesh/v1/peer.js";
import { publicKeyFromPeerId } from "../identity/node-key.js";
import type { RateLimiter } from "../rate-limit.js";
import { KeyedSerialQueue } from "../store/serial.js";
import { parseVerifierKey, signEvidence, witnessCheckpoint, type NoteVerifier, type WitnessStore } from "../tlog/index.js";
import { logVerifierKey, witnessVerifierKey } from "../tlog/vkey.js";
import type { PeerComponents } from "./components.js";
import { WITNESS_PROTOCOL } from "./protocols.js";
import { RpcProtocol, type RpcProtocolInit } from "./rpc-protocol.js";

export type WitnessComponents = Pick<PeerComponents, "peer" | "rpc" | "membership" | "clock" | "logger" | "metrics"> & {
  store: WitnessStore;
  /** Signs cosignatures and evidence (the node's key, cosignature/v1 key type). */
  witness: { name: string; publicKey: Uint8Array; sign(data: Uint8Array): Uint8Array };
  /** Called with the signed evidence note when a member's log is caught contradicting itself (once per log and kind). */
  onEvidence?: (origin: string, note: string) => void;
  /** Per requesting member, as the other request protocols. */
  rateLimiter?: RateLimiter;
};

/**
 * /creditmesh/witness/1.0.0, both ends (c2sp.org/tlog-witness over libp2p).
 * Witness: a member sends its own log's signed checkpoint with a consistency
 * proof from the size this node last cosigned for it; a consistent one is
 * cosigned (the state synced first), a stale old_size gets conflict_size,
 * a contradicting one becomes signed evidence, kept and reported. Only a
 * member's own log is accepted from it: the origin must be the sender's
 * institution id and the note signed by its key.
 */
export class WitnessProtocol extends RpcProtocol {
  readonly protocol = WITNESS_PROTOCOL;
  // Requests run concurrently on a stream: two for one log that both read the same last
  // checkpoint would both be cosigned, two roots for one size under this node's signature.
  readonly #perLog = new KeyedSerialQueue();

  constructor(
    private readonly c: WitnessComponents,
    private readonly init: RpcProtocolInit,
  ) {
    super(c, init);
  }

  async handleMessage(body: Uint8Array, from: { peerId: string }): Promise<Uint8Array> {
    const member = this.c.membership.byPeerId(from.peerId);
    if (!member) throw new CreditMeshError("MEMBERSHIP_DENIED", "not a member of this network");
    const origin = member.institutionId;
    const req = this.openUnsigned(body, "witness request", (b) => WitnessAddCheckpoint.decode(b), { limiter: this.c.rateLimiter, key: origin });
    return this.#perLog.run(origin, () => this.#witness(origin, member.peerId, req));
  }

  async #witness(origin: string, peerId: string, req: WitnessAddCheckpoint): Promise<Uint8Array> {
    const oldSize = Number(req.oldSize);
    const last = await this.c.store.last(origin);
    if ((last?.size ?? 0) !== oldSize && last !== undefined) {
      return WitnessAddCheckpointAnswer.encode({ cosignature: "", conflictSize: String(last.size), evidence: "" }).finish();
    }
    const now = this.c.clock.now();
    const outcome = witnessCheckpoint({
      log: parseVerifierKey(logVerifierKey(origin, publicKeyFromPeerId(peerId))),
      origin,
      last,
      next: req.checkpoint,
      proof: req.proof,
      witness: this.c.witness,
      now: Math.floor(now.getTime() / 1000),
    });
    if (outcome.outcome === "COSIGNED") {
      await this.c.store.cosigned(origin, outcome.state);
      return WitnessAddCheckpointAnswer.encode({ cosignature: outcome.cosignature, conflictSize: "0", evidence: "" }).finish();
    }
    const note = signEvidence(outcome.evidence, this.c.witness, Math.floor(now.getTime() / 1000));
    if (await this.c.store.addEvidence(origin, outcome.evidence.kind, now, note)) {
      this.log.warn({ origin, kind: outcome.evidence.kind, reason: outcome.evidence.reason }, "a member's transparency log contradicts a checkpoint this node cosigned");
      this.c.onEvidence?.(origin, note);
    } else {
      this.log.debug({ origin, kind: outcome.evidence.kind }, "further evidence against a member's log not kept: this node holds evidence of that kind");
    }
    return WitnessAddCheckpointAnswer.encode({ cosignature: "", conflictSize: "0", evidence: note }).finish();
  }

  /** The cosignature/v1 key a member witnesses with; undefined for a non-member. */
  witnessKey(institutionId: string): NoteVerifier | undefined {
    const member = this.c.membership.byInstitution(institutionId);
    return member && parseVerifierKey(witnessVerifierKey(institutionId, publicKeyFromPeerId(member.peerId)));
  }

  /** Asks a member to witness this node's checkpoint. */
  async add(institutionId: string, req: WitnessAddCheckpoint, signal?: AbortSignal): Promise<WitnessAddCheckpointAnswer> {
    const member = this.c.membership.byInstitution(institutionId);
    if (!member) throw new CreditMeshError("NOT_FOUND", `${institutionId} is not a member`);
    const answer = await this.request(member.peerId, WitnessAddCheckpoint.encode(req).finish(), signal ?? AbortSignal.timeout(10_000));
    return WitnessAddCheckpointAnswer.decode(answer);
  }
}
