import { randomBytes, randomInt } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { generateSecrets, writeSecrets } from "../config/secrets.js";
import { Role } from "../gen/creditmesh/v1/common.js";
import type { Member } from "../gen/creditmesh/v1/peer.js";
import { operatorPublicKeyToHex, signManifest, writeManifestFile } from "../identity/manifest.js";
import { NodeKey } from "../identity/node-key.js";
import { createLocalCommittee } from "./token-committee.js";

/** Names for the first institutions of a test network; the rest are numbered. */
const INSTITUTIONS: { id: string; name: string }[] = [
  { id: "bank-a", name: "Huaxia Commercial Bank" },
  { id: "cfc-b", name: "Jiexin Consumer Finance" },
  { id: "ecom-c", name: "Shopline Credit Line" },
  { id: "bank-d", name: "Pearl River Rural Bank" },
  { id: "cfc-e", name: "Anxin Consumer Finance" },
];

export interface LayoutNode {
  institutionId: string;
  name: string;
  peerId: string;
  roles: Role[];
  dir: string;
  configFile: string;
  grpcPort: number;
  p2pPort: number;
  apiKey: string;
}

export interface NetworkLayout {
  dir: string;
  networkId: string;
  manifestFile: string;
  operatorKeyFile: string;
  operatorPublicKey: string;
  nodes: LayoutNode[];
  /** The subject-token evaluators the manifest names (empty: none). */
  committee: string[];
  /** Threshold of that committee (0: none). */
  committeeThreshold: number;
  /** Only with `legacyTokenKey`: the shared HMAC key every member holds. */
  tokenKey?: string;
}

/** A test network's default committee: its first 3 members (fewer if it has fewer), a majority of them needed. */
export function defaultCommittee(nodes: number): { members: number; threshold: number } {
  const members = Math.min(3, nodes);
  return { members, threshold: Math.floor(members / 2) + 1 };
}

export interface LayoutOptions {
  dir: string;
  nodes: number;
  networkId?: string;
  /** Roles per node index; default FURNISHER + LENDER for every node. */
  roles?: (index: number) => Role[];
  /** Extra config merged into every node's config. */
  configOverrides?: Record<string, unknown>;
  /**
   * The subject-token committee: its first `members` institutions, `threshold`
   * of them needed (default: defaultCommittee); false for none (a test makes one itself).
   */
  committee?: { members: number; threshold: number } | false;
  /**
   * A network as created before token committees: every member holds one
   * shared HMAC token key and the manifest names no committee (tests of
   * legacy networks and of `tokens migrate` only).
   */
  legacyTokenKey?: boolean;
}

/**
 * Test-network ports come from below Linux's ephemeral range (32768+), so an
 * outgoing connection of any process cannot take one between the check here
 * and the node binding it.
 */
const PORT_RANGE = { from: 20_000, to: 32_000 };
const WORKER_SLOTS = 4;

/**
 * The part of PORT_RANGE this process draws from. Parallel test workers each
 * get their own slice: a node a test stops and restarts keeps its ports, and
 * while it is down a network laid out by another worker could otherwise be
 * handed one of them. Outside a test worker the whole range is used.
 */
export function portRange(env: { VITEST_POOL_ID?: string } = process.env): { from: number; to: number } {
  const id = Number(env.VITEST_POOL_ID);
  if (!Number.isInteger(id) || id < 1) return PORT_RANGE;
  const width = Math.floor((PORT_RANGE.to - PORT_RANGE.from) / WORKER_SLOTS);
  const from = PORT_RANGE.from + ((id - 1) % WORKER_SLOTS) * width;
  return { from, to: from + width };
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A loopback port that is free now (it is closed again before the node binds it). */
export async function freePort(): Promise<number> {
  const range = portRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = range.from + randomInt(range.to - range.from);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port between ${range.from} and ${range.to}`);
}

/**
 * A free port not in `taken`: the OS may hand out a port it just gave us
 * again once we have closed it, and two nodes cannot listen on the same one.
 */
export async function distinctFreePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

export function institutionAt(index: number): { id: string; name: string } {
  return INSTITUTIONS[index] ?? { id: `inst-${index + 1}`, name: `Institution ${index + 1}` };
}

/**
 * Writes everything a local network needs: an operator key, one directory per
 * institution with its secrets and config, the manifest signed by the
 * operator listing every member with its loopback address, and the
 * subject-token committee (each evaluator's share in its secrets file, the
 * next manifest version naming it). No member holds a network-wide token key.
 */
export async function createNetworkLayout(opts: LayoutOptions): Promise<NetworkLayout> {
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const networkId = opts.networkId ?? "creditmesh-testnet";
  const operatorSeed = randomBytes(32);
  const operator = NodeKey.fromSeed(operatorSeed);
  const operatorKeyFile = path.join(dir, "operator.key");
  writeFileSync(operatorKeyFile, operatorSeed.toString("hex") + "\n", { mode: 0o600 });
  const tokenKey = opts.legacyTokenKey ? randomBytes(32).toString("hex") : undefined;
  const manifestFile = path.join(dir, "manifest.json");

  const nodes: LayoutNode[] = [];
  const ports = new Set<number>();
  for (let i = 0; i < opts.nodes; i++) {
    const { id, name } = institutionAt(i);
    const nodeDir = path.join(dir, id);
    mkdirSync(nodeDir, { recursive: true });
    const secrets = generateSecrets({ tokenKey });
    writeSecrets(path.join(nodeDir, "secrets.json"), secrets);
    const key = NodeKey.fromSeed(Buffer.from(secrets.nodeKey, "hex"));
    nodes.push({
      institutionId: id,
      name,
      peerId: key.peerId,
      roles: opts.roles?.(i) ?? [Role.FURNISHER, Role.LENDER],
      dir: nodeDir,
      configFile: path.join(nodeDir, "config.json"),
      grpcPort: await distinctFreePort(ports),
      p2pPort: await distinctFreePort(ports),
      apiKey: secrets.localApiKey,
    });
  }

  const members: Member[] = nodes.map((n) => ({
    institutionId: n.institutionId,
    name: n.name,
    peerId: n.peerId,
    roles: n.roles,
    addrs: [`/ip4/127.0.0.1/tcp/${n.p2pPort}`],
  }));
  await writeManifestFile(
    manifestFile,
    signManifest({ networkId, version: "1", members, issuedAt: new Date() }, operator),
  );

  for (const n of nodes) {
    const config = {
      institution: { id: n.institutionId, name: n.name },
      storage: { dataDir: n.dir, secretsFile: path.join(n.dir, "secrets.json") },
      grpc: { host: "127.0.0.1", port: n.grpcPort },
      p2p: {
        enabled: true,
        listen: [`/ip4/127.0.0.1/tcp/${n.p2pPort}`],
        manifestFile,
        operatorPublicKey: operatorPublicKeyToHex(operator.publicKey),
        redialIntervalMs: 500,
      },
      metrics: { enabled: false },
      log: { level: "info" },
      ...opts.configOverrides,
    };
    writeFileSync(n.configFile, JSON.stringify(config, null, 2) + "\n");
  }

  const committee = opts.committee ?? (opts.legacyTokenKey ? false : defaultCommittee(nodes.length));
  const made = committee ? await createLocalCommittee(dir, nodes.slice(0, committee.members).map((n) => n.institutionId), committee.threshold) : undefined;
  return {
    dir,
    networkId,
    manifestFile,
    operatorKeyFile,
    operatorPublicKey: operatorPublicKeyToHex(operator.publicKey),
    nodes,
    committee: made?.members ?? [],
    committeeThreshold: made?.threshold ?? 0,
    ...(tokenKey ? { tokenKey } : {}),
  };
}
