import type { Clock } from "../clock.js";
import type { Membership } from "../identity/manifest.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { PeerNode } from "./peer-node.js";
import type { RpcClient } from "./rpc-client.js";

/** Signs with this node's key; `peerId` is the key's libp2p identity. */
export interface Signer {
  readonly peerId: string;
  sign(data: Uint8Array): Uint8Array;
}

/**
 * What the peer side of a node offers its protocols. Each protocol takes
 * only the part it needs (a `Pick` of this plus its own domain parts), so a
 * unit test builds it from fakes and calls `handleMessage` directly.
 */
export interface PeerComponents {
  /** Registers stream handlers and gossip subscriptions; knows who is connected. */
  peer: Pick<PeerNode, "handle" | "unhandle" | "membership" | "subscribe" | "publish" | "isConnected" | "connectedPeers" | "onPeerConnect">;
  /** Sends requests on long-lived streams (one per peer and protocol). */
  rpc: Pick<RpcClient, "request">;
  membership: Membership;
  signer: Signer;
  clock: Clock;
  logger: Logger;
  metrics: Metrics | null;
}
