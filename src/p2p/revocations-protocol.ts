import type { AuditTrail } from "../audit/trail.js";
import { CreditMeshError } from "../errors.js";
import { RevocationsPage, RevocationsRequest, Signed } from "../gen/creditmesh/v1/peer.js";
import type { RateLimiter } from "../rate-limit.js";
import type { ConsentStore } from "../store/types.js";
import type { PeerComponents } from "./components.js";
import { REVOCATIONS_PAGE_LIMIT, REVOCATIONS_PROTOCOL } from "./protocols.js";
import { applyRevocation } from "./revocations.js";
import { RevocationSync } from "./revocation-sync.js";
import { RpcProtocol, type RpcProtocolInit } from "./rpc-protocol.js";

export type RevocationsComponents = Pick<PeerComponents, "peer" | "rpc" | "membership" | "signer" | "logger" | "metrics"> & {
  consents: ConsentStore;
  audit?: AuditTrail;
  /** Pulls per second each peer may make (`p2p.rateLimits.revocations`). */
  rateLimiter?: RateLimiter;
};

export interface RevocationsInit extends RpcProtocolInit {
  /** How often every member is asked again, as a safety net. */
  pullIntervalMs: number;
}

/**
 * /creditmesh/revocations, both ends: serves the revocations this node
 * issued ("after position X", one page at a time) and pulls from each member
 * what it has not seen yet of that member's log, on every (re)connection to
 * it and periodically (p2p/revocation-sync.ts). The request is not signed:
 * every page entry is a revocation its issuer signed, checked on arrival.
 */
export class RevocationsProtocol extends RpcProtocol {
  readonly protocol = REVOCATIONS_PROTOCOL;
  readonly sync: RevocationSync;

  constructor(
    private readonly c: RevocationsComponents,
    init: RevocationsInit,
  ) {
    super(c, init);
    const { peer } = c;
    this.sync = new RevocationSync(
      { selfPeerId: c.signer.peerId, intervalMs: init.pullIntervalMs },
      {
        membership: c.membership,
        consents: c.consents,
        request: (peerId, body, signal) => this.request(peerId, body, signal),
        apply: (data) => applyRevocation(data, c, "pull"),
        onConnect: (listener) => peer.onPeerConnect(listener),
        connectedPeers: () => peer.connectedPeers(),
        logger: c.logger,
        metrics: c.metrics,
      },
    );
  }

  override async start(): Promise<void> {
    await super.start();
    this.sync.start();
  }

  override async stop(): Promise<void> {
    await this.sync.stop();
    await super.stop();
  }

  async handleMessage(body: Uint8Array, from: { peerId: string }): Promise<Uint8Array> {
    const req = this.openUnsigned(body, "revocations request", (b) => RevocationsRequest.decode(b), { limiter: this.c.rateLimiter, key: from.peerId });
    const after = Number(req.afterSequence);
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new CreditMeshError("P2P_PROTOCOL", "after_sequence out of range", { field: "after_sequence" });
    }
    const limit = Math.min(Math.max(req.limit || REVOCATIONS_PAGE_LIMIT, 1), REVOCATIONS_PAGE_LIMIT);
    const { consents } = this.c;
    const last = await consents.lastIssuedSequence();
    // Nearly every pull finds nothing new (they run on connections and periodically, as a safety net).
    const entries = after >= last ? [] : await consents.listIssuedRevocations(after, limit + 1);
    const page = entries.slice(0, limit);
    return RevocationsPage.encode({
      revocations: page.map((e) => ({ sequence: String(e.sequence), revocation: Signed.decode(e.signed) })),
      more: entries.length > limit,
      lastSequence: String(Math.max(last, page.at(-1)?.sequence ?? 0)),
    }).finish();
  }
}

export function createRevocationsProtocol(components: RevocationsComponents, init: RevocationsInit): RevocationsProtocol {
  return new RevocationsProtocol(components, init);
}
