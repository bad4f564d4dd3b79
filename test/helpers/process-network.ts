import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Role } from "../../src/gen/creditmesh/v1/common.js";
import { createNetworkLayout, freePort, type LayoutNode, type NetworkLayout } from "../../src/testnet/layout.js";
import { isAlive, spawnNode, stopProcesses, waitForNode } from "../../src/testnet/processes.js";
import { TestClient } from "./grpc-client.js";
import { tempDir } from "./temp.js";

export interface MemberProcess extends LayoutNode {
  logFile: string;
  metricsPort: number;
  pid?: number;
  grpcAddr?: string;
  client?: TestClient;
}

export interface ProcessNetworkOptions {
  nodes: number;
  roles?: (index: number) => Role[];
  /** Changes to one node's config (merged per section) before it first starts. */
  config?: (index: number, institutionId: string) => Record<string, Record<string, unknown>>;
}

/**
 * Member nodes as `creditmesh start` child processes that a test can stop
 * (SIGTERM) and start again one by one, each with its own LevelDB, log file
 * and Prometheus port. Every pid ever spawned is stopped by `close()`, and
 * SIGKILLed if the test process exits without it.
 */
export class ProcessNetwork {
  readonly dir: string;
  layout!: NetworkLayout;
  readonly members = new Map<string, MemberProcess>();
  readonly #tmp = tempDir("cm-procnet-");
  readonly #pids = new Set<number>();
  readonly #onExit = (): void => {
    for (const pid of this.#pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  };

  constructor(private readonly opts: ProcessNetworkOptions) {
    this.dir = this.#tmp.dir;
    process.on("exit", this.#onExit);
  }

  /** Writes the layout (operator key, manifest, per-node secrets and config) and starts every node. */
  async start(): Promise<this> {
    this.layout = await createNetworkLayout({ dir: this.dir, nodes: this.opts.nodes, roles: this.opts.roles });
    for (const [i, n] of this.layout.nodes.entries()) {
      const metricsPort = await freePort();
      const config = JSON.parse(readFileSync(n.configFile, "utf8")) as Record<string, Record<string, unknown>>;
      config.metrics = { enabled: true, host: "127.0.0.1", port: metricsPort };
      for (const [section, values] of Object.entries(this.opts.config?.(i, n.institutionId) ?? {})) {
        config[section] = { ...config[section], ...values };
      }
      writeFileSync(n.configFile, JSON.stringify(config, null, 2) + "\n");
      this.members.set(n.institutionId, { ...n, logFile: path.join(n.dir, "node.log"), metricsPort });
    }
    try {
      await Promise.all([...this.members.keys()].map((id) => this.startNode(id)));
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.logTails()}`, { cause: err });
    }
    return this;
  }

  member(institutionId: string): MemberProcess {
    const m = this.members.get(institutionId);
    if (!m) throw new Error(`no member ${institutionId}`);
    return m;
  }

  client(institutionId: string): TestClient {
    const c = this.member(institutionId).client;
    if (!c) throw new Error(`${institutionId} is not running`);
    return c;
  }

  /** Starts (or restarts) one node on its existing data directory. */
  async startNode(institutionId: string, timeoutMs = 60_000): Promise<void> {
    const m = this.member(institutionId);
    const pid = spawnNode(m.configFile, m.logFile);
    this.#pids.add(pid);
    const info = await waitForNode(m.configFile, pid, timeoutMs, m.logFile);
    m.pid = pid;
    m.grpcAddr = info.grpcAddr;
    m.client = new TestClient(info.grpcAddr, m.apiKey);
  }

  /** SIGTERM and wait until the process has exited. */
  async stopNode(institutionId: string): Promise<void> {
    const m = this.member(institutionId);
    m.client?.close();
    m.client = undefined;
    if (m.pid !== undefined) await stopProcesses([m.pid], 10_000);
    m.pid = undefined;
  }

  /** Resolves once each node reports every member of `expected` connected. */
  async waitConnected(ids: string[], expected: string[] = ids, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      ids.map(async (id) => {
        let last = "";
        for (;;) {
          try {
            const status = await this.client(id).unary("getNodeStatus", {}, 5_000);
            const up = new Set((status.members as { institutionId: string; connected: boolean }[]).filter((m) => m.connected).map((m) => m.institutionId));
            if (expected.every((e) => up.has(e))) return;
            last = [...up].join(",");
          } catch (err) {
            last = (err as Error).message;
          }
          if (Date.now() > deadline) throw new Error(`${id} not connected to ${expected.join(",")} within ${timeoutMs} ms (${last})`);
          await sleep(150);
        }
      }),
    );
  }

  /** The value of one Prometheus sample of a running node (0 when absent). */
  async metric(institutionId: string, name: string, labels: Record<string, string> = {}): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.member(institutionId).metricsPort}/metrics`);
    const text = await res.text();
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    for (const line of text.split("\n")) {
      if (!line.startsWith(name)) continue;
      const m = /^([^\s{]+)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const have = (m[2] ?? "").split(",").filter(Boolean);
      if (want.every((w) => have.includes(w))) return Number(m[3]);
    }
    return 0;
  }

  logTails(lines = 25): string {
    return [...this.members.values()]
      .map((m) => `--- ${m.institutionId}\n${existsSync(m.logFile) ? readFileSync(m.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "(no log)"}`)
      .join("\n");
  }

  async close(): Promise<void> {
    for (const m of this.members.values()) m.client?.close();
    try {
      await stopProcesses([...this.#pids].filter(isAlive), 10_000);
    } finally {
      process.off("exit", this.#onExit);
      this.#tmp.remove();
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined; fails with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${lastErr ? ` (${(lastErr as Error).message})` : ""}`);
    await sleep(everyMs);
  }
}
