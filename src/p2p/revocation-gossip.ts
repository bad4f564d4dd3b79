import type { AuditTrail } from "../audit/trail.js";
import type { Revocation } from "../gen/creditmesh/v1/consent.js";
import type { ConsentStore } from "../store/types.js";
import type { PeerComponents } from "./components.js";
import type { PeerService } from "./peer-node.js";
import { REVOCATIONS_TOPIC } from "./protocols.js";
import { applyRevocation, encodeRevocation } from "./revocations.js";

export type RevocationGossipComponents = Pick<PeerComponents, "peer" | "membership" | "signer" | "logger" | "metrics"> & {
  consents: ConsentStore;
  audit?: AuditTrail;
};

/**
 * The creditmesh/revocations/1 topic, both ends: publishes the revocations
 * this node issues, and stores the ones other members gossip (only from the
 * consent's grantee, see revocations.ts). Members that miss the gossip catch
 * up over /creditmesh/revocations (revocations-protocol.ts).
 */
export class RevocationGossip implements PeerService {
  #unsubscribe: (() => void) | undefined;

  constructor(private readonly c: RevocationGossipComponents) {}

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.c.peer.subscribe(REVOCATIONS_TOPIC, async (data, from) => {
      await applyRevocation(data, this.c, "gossip", from.peerId);
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  async publish(revocation: Revocation): Promise<void> {
    // Flooded: a holder must refuse the consent as soon as possible.
    await this.c.peer.publish(REVOCATIONS_TOPIC, encodeRevocation(revocation, (d) => this.c.signer.sign(d)), undefined, { flood: true });
  }
}
