import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Role } from "../gen/creditmesh/v1/common.js";
import type { GetNodeStatusResponse } from "../gen/creditmesh/v1/node.js";
import type { Manifest } from "../gen/creditmesh/v1/peer.js";
import { parseOperatorPublicKey, readManifestFile, verifyManifest } from "../identity/manifest.js";
import { publicKeyFromPeerId } from "../identity/node-key.js";
import { CreditMeshError } from "../errors.js";
import { createNetworkLayout, distinctFreePort, type LayoutNode, type NetworkLayout } from "./layout.js";
import { NodeClient } from "./node-client.js";
import { isAlive, spawnNode, stopProcesses, waitForNode } from "./processes.js";

/**
 * What every local network gives a test: this class (node processes) and the
 * in-process variant of the e2e tests (test/helpers/in-process-network.ts, for
 * tests that need a node's internals or an injected clock).
 */
export interface LocalNetwork {
  readonly layout: NetworkLayout;
  /** The client of a running member, with its all-roles key. */
  client(institutionId: string): NodeClient;
  stop(): Promise<void>;
}

/** One member of a TestNetwork. `pid`, `grpcAddr` and `client` belong to its current process. */
export interface TestNode extends LayoutNode {
  index: number;
  logFile: string;
  /** Prometheus port when the network was created with `metrics`. */
  metricsPort?: number;
  pid: number;
  grpcAddr: string;
  client: NodeClient;
  running: boolean;
}

export interface TestNetworkOptions {
  nodes: number;
  /** Where keys, configs, data and logs go; default a temp directory, removed by `stop()`. */
  dir?: string;
  networkId?: string;
  roles?: (index: number) => Role[];
  /** Config sections that replace the layout's in every node's config. */
  configOverrides?: Record<string, unknown>;
  /** The subject-token committee (default: the first 3 members, 2 needed; see createNetworkLayout). */
  committee?: { members: number; threshold: number } | false;
  /** A legacy network: one shared HMAC token key, no committee (tests of `tokens migrate`). */
  legacyTokenKey?: boolean;
  /** Changes to one node's config, merged per section, before it first starts. */
  config?: (index: number, institutionId: string) => Record<string, Record<string, unknown>>;
  /** Give every node a Prometheus port (see `metric()`). */
  metrics?: boolean;
  /** Options for node itself per member (e.g. `--cpu-prof`). */
  nodeArgs?: (index: number, institutionId: string) => string[];
  startTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Whether `start()` waits until every node sees every member connected (default true). */
  waitConnected?: boolean;
  /**
   * The processes outlive this one (`creditmesh testnet up`): no exit hook
   * kills them, and `stop()` is not expected.
   */
  persistent?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A local network of `creditmesh start` processes, one per institution, laid
 * out by createNetworkLayout (operator key, signed manifest, per-node secrets
 * and configs): the one used by e2e tests, `creditmesh testnet` and the
 * benchmarks. Construct it, `start()` it, `stop()` it: every pid is recorded
 * the moment its process is spawned, so `stop()` ends whatever was started even
 * after a failed `start()`, and unless `persistent`, an exit hook SIGKILLs
 * anything still alive if this process goes away without stopping it.
 */
export class TestNetwork implements LocalNetwork {
  readonly dir: string;
  layout!: NetworkLayout;
  manifest!: Manifest;
  nodes: TestNode[] = [];
  readonly #ownsDir: boolean;
  readonly #pids: number[] = [];
  readonly #onExit = (): void => {
    for (const pid of this.#pids) {
      try {
        process.kill(pid, "SIGCONT");
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };

  constructor(private readonly opts: TestNetworkOptions) {
    this.#ownsDir = opts.dir === undefined;
    this.dir = opts.dir === undefined ? mkdtempSync(path.join(tmpdir(), "cm-net-")) : path.resolve(opts.dir);
    if (!opts.persistent) process.on("exit", this.#onExit);
  }

  /** A started network (see `start()`). */
  static async create(opts: TestNetworkOptions): Promise<TestNetwork> {
    return new TestNetwork(opts).start();
  }

  /** Writes the layout, starts every node and (by default) waits until they are all connected. */
  async start(): Promise<this> {
    try {
      await this.#layOut();
      const spawned = this.nodes.map((n) => this.#spawn(n));
      await Promise.all(this.nodes.map((n, i) => this.#ready(n, spawned[i]!)));
      this.manifest = verifyManifest(await readManifestFile(this.layout.manifestFile), parseOperatorPublicKey(this.layout.operatorPublicKey));
      if (this.opts.waitConnected !== false) await this.waitConnected();
      return this;
    } catch (err) {
      const tails = this.logTails();
      await this.stop({ keepDir: true });
      throw new CreditMeshError("UNAVAILABLE", `${(err as Error).message}\n${tails}`, { cause: err });
    }
  }

  async #layOut(): Promise<void> {
    this.layout = await createNetworkLayout({
      dir: this.dir,
      nodes: this.opts.nodes,
      networkId: this.opts.networkId,
      roles: this.opts.roles,
      configOverrides: { log: { level: "info" }, ...this.opts.configOverrides },
      committee: this.opts.committee,
      legacyTokenKey: this.opts.legacyTokenKey,
    });
    // Metrics ports must differ from every port the layout handed out: those are not bound yet, so the OS would offer them again.
    const taken = new Set(this.layout.nodes.flatMap((n) => [n.grpcPort, n.p2pPort]));
    for (const [index, n] of this.layout.nodes.entries()) {
      const config = JSON.parse(readFileSync(n.configFile, "utf8")) as Record<string, Record<string, unknown>>;
      const metricsPort = this.opts.metrics ? await distinctFreePort(taken) : undefined;
      if (metricsPort !== undefined) config.metrics = { enabled: true, host: "127.0.0.1", port: metricsPort };
      // A test network is a full mesh whatever its size, as waitConnected() expects (ScaleNetwork is the sparse one).
      config.p2p = { ...config.p2p, keepConnected: Math.max(8, this.opts.nodes - 1) };
      for (const [section, values] of Object.entries(this.opts.config?.(index, n.institutionId) ?? {})) {
        config[section] = { ...config[section], ...values };
      }
      writeFileSync(n.configFile, JSON.stringify(config, null, 2) + "\n");
      this.nodes.push({
        ...n,
        index,
        logFile: path.join(n.dir, "node.log"),
        metricsPort,
        pid: 0,
        grpcAddr: "",
        client: undefined as unknown as NodeClient,
        running: false,
      });
    }
  }

  #spawn(n: TestNode): number {
    const pid = spawnNode(n.configFile, n.logFile, { nodeArgs: this.opts.nodeArgs?.(n.index, n.institutionId) });
    this.#pids.push(pid);
    n.pid = pid;
    return pid;
  }

  async #ready(n: TestNode, pid: number, timeoutMs = this.opts.startTimeoutMs ?? 60_000): Promise<void> {
    const info = await waitForNode(n.configFile, pid, timeoutMs, n.logFile);
    n.grpcAddr = info.grpcAddr;
    n.client = new NodeClient(info.grpcAddr, n.apiKey);
    n.running = true;
  }

  node(institutionId: string): TestNode {
    const n = this.nodes.find((x) => x.institutionId === institutionId);
    if (!n) throw new Error(`no node ${institutionId}`);
    return n;
  }

  /** The client of a running node. */
  client(institutionId: string): NodeClient {
    const n = this.node(institutionId);
    if (!n.running) throw new Error(`${institutionId} is not running`);
    return n.client;
  }

  /** The member's Ed25519 key as the signed manifest gives it. */
  memberPublicKey = (institutionId: string): Uint8Array | undefined => {
    const m = this.manifest.members.find((x) => x.institutionId === institutionId);
    return m ? publicKeyFromPeerId(m.peerId) : undefined;
  };

  /** Starts (or restarts) one node on its existing data directory. */
  async startNode(institutionId: string, timeoutMs?: number): Promise<void> {
    const n = this.node(institutionId);
    if (n.running) throw new Error(`${institutionId} is already running`);
    await this.#ready(n, this.#spawn(n), timeoutMs);
  }

  /** SIGTERM one node and wait until its process has exited. */
  async stopNode(institutionId: string): Promise<void> {
    const n = this.node(institutionId);
    n.client?.close();
    n.running = false;
    await stopProcesses([n.pid], 10_000);
  }

  /**
   * Resolves once each of `ids` (default: every running node) reports every
   * member of `expected` (default: the whole manifest) connected.
   */
  async waitConnected(ids?: string[], expected?: string[], timeoutMs = this.opts.connectTimeoutMs ?? 30_000): Promise<void> {
    const askers = ids ?? this.nodes.filter((n) => n.running).map((n) => n.institutionId);
    const want = expected ?? this.nodes.map((n) => n.institutionId);
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      askers.map(async (id) => {
        let last = "no answer";
        for (;;) {
          try {
            const status: GetNodeStatusResponse = await this.client(id).unary("getNodeStatus", {}, 5_000);
            const up = new Set(status.members.filter((m) => m.connected).map((m) => m.institutionId));
            if (want.every((w) => up.has(w) || w === id)) return;
            last = status.members.map((m) => `${m.institutionId}:${m.connected ? "up" : "down"}`).join(" ");
          } catch (err) {
            last = (err as Error).message;
          }
          if (Date.now() > deadline) throw new CreditMeshError("DEADLINE_EXCEEDED", `${id} not connected to ${want.join(",")} within ${timeoutMs} ms (${last})`);
          await sleep(150);
        }
      }),
    );
  }

  /** The value of one Prometheus sample of a running node (0 when absent). */
  async metric(institutionId: string, name: string, labels: Record<string, string> = {}): Promise<number> {
    const port = this.node(institutionId).metricsPort;
    if (port === undefined) throw new Error("metric(): create the network with `metrics: true`");
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    for (const line of text.split("\n")) {
      const m = /^([^\s{]+)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const have = (m[2] ?? "").split(",").filter(Boolean);
      if (want.every((w) => have.includes(w))) return Number(m[3]);
    }
    return 0;
  }

  logTail(institutionId: string, lines = 30): string {
    return logTail(this.node(institutionId).logFile, lines);
  }

  /** The end of every node's log, for a failure message. */
  logTails(lines = 25): string {
    return this.nodes.map((n) => `--- ${n.institutionId} (${n.logFile})\n${logTail(n.logFile, lines)}`).join("\n");
  }

  /**
   * Closes the clients and leaves the processes running (`testnet up`, whose
   * command exits while its network keeps serving).
   */
  detach(): void {
    for (const n of this.nodes) n.client?.close();
    process.off("exit", this.#onExit);
  }

  get pids(): readonly number[] {
    return this.#pids;
  }

  /**
   * Closes the clients and stops every process ever spawned, newest first:
   * stopped (SIGSTOP) ones are resumed so that SIGTERM can act, and anything
   * still alive after the grace period is SIGKILLed. Removes a temp directory
   * unless `keepDir`. Safe to call twice.
   */
  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    for (const n of this.nodes) {
      n.client?.close();
      n.running = false;
    }
    const pids = [...this.#pids].reverse().filter(isAlive);
    try {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGCONT");
        } catch {
          // exited meanwhile
        }
      }
      await stopProcesses(pids, 5_000);
    } finally {
      process.off("exit", this.#onExit);
      if (this.#ownsDir && !opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function logTail(file: string, lines = 30): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
