import { silentLogger } from "../../../src/logger.js";
import { Role } from "../../../src/gen/creditmesh/v1/common.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { Membership, signManifest, type SignedManifest } from "../../../src/identity/manifest.js";
import { PeerNode, type PeerNodeOptions } from "../../../src/p2p/peer-node.js";

export interface MemberSpec {
  key: NodeKey;
  addrs?: string[];
}

export function manifestFor(operator: NodeKey, members: MemberSpec[], version: number, networkId = "testnet"): SignedManifest {
  return signManifest(
    {
      networkId,
      version: String(version),
      issuedAt: new Date("2026-01-01T00:00:00Z"),
      members: members.map((m, i) => ({
        institutionId: `inst-${m.key.peerId.slice(-6)}-${i}`,
        name: `Institution ${i}`,
        peerId: m.key.peerId,
        roles: [Role.LENDER, Role.FURNISHER],
        addrs: m.addrs ?? [],
      })),
    },
    operator,
  );
}

export async function createNode(
  key: NodeKey,
  membership: Membership,
  overrides: Partial<PeerNodeOptions> = {},
): Promise<PeerNode> {
  return PeerNode.create({
    key,
    membership,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    logger: silentLogger(),
    dialIntervalMs: 150,
    redialInitialMs: 50,
    redialMaxMs: 500,
    manifestRepublishMs: 1_000,
    ...overrides,
  });
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface TestNetwork {
  operator: NodeKey;
  keys: NodeKey[];
  nodes: PeerNode[];
  /** The manifest every node holds after start (version 2, with addresses). */
  manifest: SignedManifest;
  stop(): Promise<void>;
}

/**
 * Starts `count` members on loopback. Ports are only known once listening, so
 * the nodes start on a version-1 manifest without addresses and are then
 * handed version 2 with them — which also exercises manifest replacement.
 */
export async function startNetwork(count: number, overrides: Partial<PeerNodeOptions> = {}): Promise<TestNetwork> {
  const operator = generateNodeKey();
  const keys = Array.from({ length: count }, () => generateNodeKey());
  const v1 = manifestFor(operator, keys.map((key) => ({ key })), 1);
  const nodes: PeerNode[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (const key of keys) nodes.push(await createNode(key, new Membership(operator.publicKey, v1), overrides));
    await Promise.all(nodes.map((n) => n.start()));
    const manifest = manifestFor(operator, keys.map((key, i) => ({ key, addrs: nodes[i].multiaddrs() })), 2);
    for (const node of nodes) node.membership.replace(manifest);
    await waitFor(
      () => nodes.every((n) => nodes.every((m) => m === n || n.isConnected(m.peerId))),
      15_000,
      "members to connect",
    );
    return { operator, keys, nodes, manifest, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
