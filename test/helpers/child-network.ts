import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Role } from "../../src/gen/creditmesh/v1/common.js";
import type { Manifest } from "../../src/gen/creditmesh/v1/peer.js";
import { parseOperatorPublicKey, readManifestFile, verifyManifest } from "../../src/identity/manifest.js";
import { publicKeyFromPeerId } from "../../src/identity/node-key.js";
import { createNetworkLayout, type LayoutNode, type NetworkLayout } from "../../src/testnet/layout.js";
import { isAlive, spawnNode, stopProcesses, waitForNode } from "../../src/testnet/processes.js";
import { TestClient } from "./grpc-client.js";
import { tempDir } from "./temp.js";

export interface ChildNode extends LayoutNode {
  pid: number;
  logFile: string;
  grpcAddr: string;
  client: TestClient;
}

export interface ChildNetworkOptions {
  nodes: number;
  roles?: (index: number) => Role[];
  configOverrides?: Record<string, unknown>;
  startTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/**
 * A network of `creditmesh start` processes under a temp directory.
 * Construct it synchronously, `start()` it in beforeAll and `stop()` it in
 * afterAll: every pid is recorded the moment its process is spawned, so
 * `stop()` kills whatever was started even when `start()` failed half way,
 * and a last-resort exit handler SIGKILLs anything still alive if the test
 * process goes away without running its hooks.
 */
export class ChildNetwork {
  readonly dir: string;
  layout!: NetworkLayout;
  nodes: ChildNode[] = [];
  manifest!: Manifest;
  readonly #tmp: { dir: string; remove(): void };
  readonly #pids: number[] = [];
  readonly #clients: TestClient[] = [];
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

  constructor(private readonly opts: ChildNetworkOptions) {
    this.#tmp = tempDir("cm-net-");
    this.dir = this.#tmp.dir;
    process.on("exit", this.#onExit);
  }

  async start(): Promise<this> {
    try {
      await this.#start();
      return this;
    } catch (err) {
      const tails = this.nodes.length
        ? this.nodes.map((n) => `--- ${n.institutionId} (${n.logFile})\n${logTail(n.logFile)}`).join("\n")
        : this.#spawnedLogs();
      await this.stop({ keepDir: true });
      throw new Error(`${(err as Error).message}\n${tails}`, { cause: err });
    }
  }

  async #start(): Promise<void> {
    this.layout = await createNetworkLayout({
      dir: this.dir,
      nodes: this.opts.nodes,
      roles: this.opts.roles,
      configOverrides: { log: { level: "info" }, ...this.opts.configOverrides },
    });
    const spawned = this.layout.nodes.map((n) => {
      const logFile = path.join(n.dir, "node.log");
      const pid = spawnNode(n.configFile, logFile);
      this.#pids.push(pid);
      return { n, pid, logFile };
    });
    const infos = await Promise.all(
      spawned.map(({ n, pid, logFile }) => waitForNode(n.configFile, pid, this.opts.startTimeoutMs ?? 60_000, logFile)),
    );
    this.nodes = spawned.map(({ n, pid, logFile }, i) => {
      const client = new TestClient(infos[i]!.grpcAddr, n.apiKey);
      this.#clients.push(client);
      return { ...n, pid, logFile, grpcAddr: infos[i]!.grpcAddr, client };
    });
    this.manifest = verifyManifest(await readManifestFile(this.layout.manifestFile), parseOperatorPublicKey(this.layout.operatorPublicKey));
    await this.waitConnected(this.nodes, this.opts.connectTimeoutMs ?? 30_000);
  }

  /** Resolves once each of `nodes` reports every member of the manifest connected. */
  async waitConnected(nodes: ChildNode[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      nodes.map(async (n) => {
        let last = "no answer";
        for (;;) {
          try {
            const s = await n.client.unary("getNodeStatus", {}, 5_000);
            const members = s.members as { institutionId: string; connected: boolean }[];
            if (members.length === this.layout.nodes.length && members.every((m) => m.connected)) return;
            last = members.map((m) => `${m.institutionId}:${m.connected ? "up" : "down"}`).join(" ");
          } catch (err) {
            last = (err as Error).message;
          }
          if (Date.now() > deadline) throw new Error(`${n.institutionId} not connected to every member within ${timeoutMs} ms (${last})`);
          await new Promise((r) => setTimeout(r, 150));
        }
      }),
    );
  }

  node(institutionId: string): ChildNode {
    const n = this.nodes.find((x) => x.institutionId === institutionId);
    if (!n) throw new Error(`no node ${institutionId}`);
    return n;
  }

  /** The member's Ed25519 key as the signed manifest gives it. */
  memberPublicKey = (institutionId: string): Uint8Array | undefined => {
    const m = this.manifest.members.find((x) => x.institutionId === institutionId);
    return m ? publicKeyFromPeerId(m.peerId) : undefined;
  };

  logTail(institutionId: string, lines = 30): string {
    return logTail(this.node(institutionId).logFile, lines);
  }

  /**
   * Closes the clients and stops every process ever spawned, newest first:
   * stopped (SIGSTOP) ones are resumed so that SIGTERM can act, and anything
   * still alive after the grace period is SIGKILLed. Safe to call twice.
   */
  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    for (const c of this.#clients.splice(0)) c.close();
    const pids = [...this.#pids].reverse();
    try {
      for (const pid of pids) {
        if (isAlive(pid)) process.kill(pid, "SIGCONT");
      }
      await stopProcesses(pids, 5_000);
    } finally {
      process.off("exit", this.#onExit);
      if (!opts.keepDir) this.#tmp.remove();
    }
  }

  get pids(): readonly number[] {
    return this.#pids;
  }

  #spawnedLogs(): string {
    return this.layout?.nodes
      .map((n) => path.join(n.dir, "node.log"))
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f}\n${logTail(f)}`)
      .join("\n") ?? "";
  }
}

function logTail(file: string, lines = 30): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
