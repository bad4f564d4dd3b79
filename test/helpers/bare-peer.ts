import type { Membership } from "../../src/identity/manifest.js";
import type { NodeKey } from "../../src/identity/node-key.js";
import { createLogger } from "../../src/logger.js";
import { PeerNode } from "../../src/p2p/peer-node.js";
import { RpcClient } from "../../src/p2p/rpc-client.js";
import { LogCapture } from "./in-process-node.js";

/**
 * A bare libp2p member for hand-made peer requests: a member's key, the
 * manifest it trusts, and an RPC client, with no CreditNode behind it.
 */
export interface BarePeer {
  peer: PeerNode;
  client: RpcClient;
  logs: LogCapture;
  stop(): Promise<void>;
}

export async function startBarePeer(key: NodeKey, membership: Membership, listen: string[] = ["/ip4/127.0.0.1/tcp/0"]): Promise<BarePeer> {
  const logs = new LogCapture();
  const logger = createLogger({ level: "debug", destination: logs });
  const peer = await PeerNode.create({ key, membership, listen, logger, dialIntervalMs: 100, redialInitialMs: 50, redialMaxMs: 200 });
  const client = new RpcClient(peer, { logger });
  await peer.addService(client);
  await peer.start();
  return { peer, client, logs, stop: () => peer.stop() };
}
