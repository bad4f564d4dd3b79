import { readFileSync } from "node:fs";
import path from "node:path";
import type { Clock } from "../../src/clock.js";
import { loadConfig } from "../../src/config/load.js";
import type { Role } from "../../src/gen/creditmesh/v1/common.js";
import { Membership, parseOperatorPublicKey } from "../../src/identity/manifest.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { createLogger } from "../../src/logger.js";
import { CreditNode } from "../../src/node/credit-node.js";
import { createNetworkLayout, type LayoutNode, type NetworkLayout } from "../../src/testnet/layout.js";
import type { LocalNetwork } from "../../src/testnet/network.js";
import { TestClient } from "./grpc-client.js";
import { LogCapture } from "./in-process-node.js";
import { createLocalCommittee } from "../../src/testnet/token-committee.js";
import { tempDir } from "./temp.js";

/** One member of the layout: a running CreditNode, or only its identity (a key the test uses itself). */
export interface NetworkMember {
  index: number;
  layout: LayoutNode;
  /** The member's node key, read from its secrets file. */
  key: NodeKey;
  /** Every log line the node wrote (empty for a member that is not running). */
  logs: LogCapture;
  node?: CreditNode;
  /** gRPC client with the node's all-roles key; only for running members. */
  client?: TestClient;
}

export interface InProcessNetwork extends LocalNetwork {
  layout: NetworkLayout;
  members: NetworkMember[];
  /** The members running a CreditNode, in start order. */
  running: NetworkMember[];
  /** A legacy network's shared subject token key (hex); "" when the network has a token committee. */
  tokenKey: string;
  /** A fresh Membership read from the signed manifest on disk. */
  membership(): Promise<Membership>;
  /** Every running node's log lines, for scans across the network. */
  allLogs(): string;
  stop(): Promise<void>;
}

export interface InProcessNetworkOptions {
  nodes: number;
  /** Which members run a CreditNode; default all. */
  run?: (index: number) => boolean;
  roles?: (index: number) => Role[];
  configOverrides?: Record<string, unknown>;
  clock?: Clock;
  /** Members (by index) made the subject-token committee before any node starts, and its threshold. */
  tokenCommittee?: { members: number[]; threshold: number };
  /** Time allowed for the running members to connect to each other. */
  connectTimeoutMs?: number;
}

/**
 * A network laid out by createNetworkLayout (operator key, signed manifest,
 * per-institution secrets and configs), with the chosen members started as
 * CreditNodes in this process, each logging into its own LogCapture. Resolves
 * once every running member is connected to every other running member.
 * Torn down in reverse start order.
 */
export async function startInProcessNetwork(opts: InProcessNetworkOptions): Promise<InProcessNetwork> {
  const tmp = tempDir("cm-net-");
  const layout = await createNetworkLayout({
    dir: tmp.dir,
    nodes: opts.nodes,
    roles: opts.roles,
    configOverrides: opts.configOverrides,
    // Without a committee of the test's own, the in-process tests run a legacy network (one shared HMAC key).
    ...(opts.tokenCommittee ? { committee: false as const } : { legacyTokenKey: true }),
  });
  if (opts.tokenCommittee) {
    await createLocalCommittee(layout.dir, opts.tokenCommittee.members.map((i) => layout.nodes[i]!.institutionId), opts.tokenCommittee.threshold);
  }
  const members: NetworkMember[] = layout.nodes.map((n, index) => {
    const secrets = JSON.parse(readFileSync(path.join(n.dir, "secrets.json"), "utf8")) as { nodeKey: string };
    return { index, layout: n, key: NodeKey.fromSeed(Buffer.from(secrets.nodeKey, "hex")), logs: new LogCapture() };
  });
  const tokenKey = layout.tokenKey ?? "";
  const running: NetworkMember[] = [];

  const stop = async (): Promise<void> => {
    for (const m of [...running].reverse()) {
      m.client?.close();
      try {
        await m.node?.stop();
      } catch {
        // keep stopping the others
      }
    }
    running.length = 0;
    tmp.remove();
  };

  try {
    for (const m of members) {
      if (opts.run && !opts.run(m.index)) continue;
      // No environment: a developer's CREDITMESH_* variables must not move these nodes.
      const config = loadConfig(m.layout.configFile, {});
      const node = CreditNode.create({ config, logger: createLogger({ level: "debug", destination: m.logs }), clock: opts.clock });
      m.node = node;
      running.push(m);
      await node.start();
      m.client = new TestClient(node.grpcAddress, node.localApiKey);
    }
    await waitUntil(
      async () => {
        for (const m of running) {
          const status = await m.node!.status();
          const connected = new Set(status.members.filter((s) => s.connected).map((s) => s.institutionId));
          if (!running.every((o) => connected.has(o.layout.institutionId))) return false;
        }
        return true;
      },
      opts.connectTimeoutMs ?? 20_000,
      "running members to connect to each other",
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    layout,
    members,
    running,
    tokenKey,
    membership: () => Membership.fromFile(layout.manifestFile, parseOperatorPublicKey(layout.operatorPublicKey)),
    allLogs: () => members.map((m) => m.logs.text).join("\n"),
    client: (institutionId) => {
      const m = running.find((x) => x.layout.institutionId === institutionId);
      if (!m?.client) throw new Error(`${institutionId} is not running`);
      return m.client;
    },
    stop,
  };
}

/** Polls `cond` until it holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
