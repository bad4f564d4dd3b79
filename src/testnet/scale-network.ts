import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Role } from "../gen/creditmesh/v1/common.js";
import type { Record as WireRecord } from "../gen/creditmesh/v1/records.js";
import { createNetworkLayout, type NetworkLayout } from "./layout.js";
import { NodeClient } from "./node-client.js";
import { startNodeHost, startNodeProcess, type NodeHostProcess } from "./processes.js";

export interface ScaleNetworkOptions {
  dir: string;
  members: number;
  /** Node host processes the members are spread over (round-robin). */
  processes: number;
  /**
   * How many of the first members run each in a host process of its own,
   * besides the `processes` shared ones (default 0): the node under
   * measurement, whose event loop a member's node shares with no other
   * institution's outside a harness.
   */
  alone?: number;
  networkId?: string;
  /** Deep-merged into every member's config, over SCALE_CONFIG. */
  config?: Record<string, unknown>;
  /** Options for node itself in every host process (e.g. a heap ceiling). */
  nodeArgs?: string[];
  /**
   * Where subject tokens come from: the default 2-of-3 committee, or the
   * legacy shared key (routing measured without token evaluations in the way).
   */
  tokens?: "committee" | "legacy";
}

export interface ScaleMember {
  institutionId: string;
  configFile: string;
  apiKey: string;
  /** gRPC host:port once the network is started. */
  address: string;
}

/**
 * What a network of many members on one small machine needs beyond the
 * product's defaults: quiet logs, no retention sweeps, no metrics servers
 * (counters are read over the host's IPC channel), filters on (test networks
 * only: HMAC tokens) at their production delta interval (30 s: a delta is
 * gossiped to every member each interval, empty or not, so at 1 s and 100
 * members each node would verify and relay 100 signed messages a second),
 * and routing that trusts a member's filter for 20 of its intervals of
 * silence.
 */
export const SCALE_CONFIG: Record<string, unknown> = {
  log: { level: "warn" },
  retention: { enabled: false },
  metrics: { enabled: false },
  filters: { enabled: true, silenceIntervals: 20 },
  p2p: { redialIntervalMs: 2_000 },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `over` merged into `base`, objects key by key, anything else replaced. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/**
 * Many members in few processes: a test network laid out as usual (one
 * directory, key, secrets and config per member, one signed manifest), run
 * as `processes` node hosts (`creditmesh host`, started through
 * processes.ts), each running several CreditNodes with their own store, key
 * and ports, real libp2p between all of them. Used by `npm run bench:scale`
 * and test/e2e/scale-harness.test.ts.
 */
export class ScaleNetwork {
  readonly members: ScaleMember[];
  readonly hosts: NodeHostProcess[] = [];
  readonly #clients: NodeClient[] = [];

  private constructor(
    readonly layout: NetworkLayout,
    private readonly opts: ScaleNetworkOptions,
  ) {
    this.members = layout.nodes.map((n) => ({ institutionId: n.institutionId, configFile: n.configFile, apiKey: n.apiKey, address: "" }));
  }

  /** Lays the network out on disk (nothing runs yet: records may be preloaded first). */
  static async create(opts: ScaleNetworkOptions): Promise<ScaleNetwork> {
    if (!Number.isInteger(opts.members) || opts.members < 2) throw new RangeError(`members must be an integer ≥ 2, got ${opts.members}`);
    if (!Number.isInteger(opts.processes) || opts.processes < 1) throw new RangeError(`processes must be an integer ≥ 1, got ${opts.processes}`);
    if (opts.alone !== undefined && !(Number.isInteger(opts.alone) && opts.alone >= 0)) throw new RangeError(`alone must be an integer ≥ 0, got ${opts.alone}`);
    const layout = await createNetworkLayout({
      dir: opts.dir,
      nodes: opts.members,
      networkId: opts.networkId ?? "creditmesh-scale",
      roles: () => [Role.FURNISHER, Role.LENDER],
      ...(opts.tokens === "legacy" ? { legacyTokenKey: true } : {}),
    });
    const over = deepMerge(SCALE_CONFIG, opts.config ?? {});
    for (const n of layout.nodes) {
      writeFileSync(n.configFile, JSON.stringify(deepMerge(JSON.parse(readFileSync(n.configFile, "utf8")), over), null, 2) + "\n");
    }
    return new ScaleNetwork(layout, opts);
  }

  get ids(): string[] {
    return this.members.map((m) => m.institutionId);
  }

  member(institutionId: string): ScaleMember {
    const m = this.members.find((x) => x.institutionId === institutionId);
    if (m === undefined) throw new RangeError(`no member ${institutionId}`);
    return m;
  }

  /** A client of a running member's gRPC API with every role (closed by stop()); `separate` gives it a connection of its own. */
  client(institutionId: string, separate = false): NodeClient {
    const m = this.member(institutionId);
    if (!m.address) throw new RangeError(`member ${institutionId} is not running`);
    const c = new NodeClient(m.address, m.apiKey, { separateConnection: separate });
    this.#clients.push(c);
    return c;
  }

  /**
   * Before start(): furnishes `batches` to one member through its gRPC ingest
   * (the product's own validation, encryption, indexes and synced batches),
   * run alone with p2p off, so that a large portfolio costs no gossip. The
   * member's holder filter is built from its subject index when it starts.
   * Resolves with the number of records accepted.
   */
  async preload(institutionId: string, batches: Iterable<WireRecord[]>, inFlight = 4): Promise<number> {
    if (this.hosts.length > 0) throw new RangeError("preload only before start()");
    // Alone, a member cannot reach the committee and tokenizes under a key of its own: its records would never match a report.
    if (this.layout.committee.length > 0) throw new RangeError('preload needs a network with shared-key tokens (tokens: "legacy"), not a token committee');
    const m = this.member(institutionId);
    const config = deepMerge(JSON.parse(readFileSync(m.configFile, "utf8")), { p2p: { enabled: false }, filters: { enabled: false }, grpc: { port: 0 } });
    const loadConfig = path.join(path.dirname(m.configFile), "preload.json");
    writeFileSync(loadConfig, JSON.stringify(config, null, 2) + "\n");
    const node = await startNodeProcess(loadConfig, { stderrLimit: 20_000 });
    const client = new NodeClient(node.address, m.apiKey, { separateConnection: true });
    try {
      return await streamBatches(client, batches, inFlight);
    } finally {
      client.close();
      await node.stop(30_000);
    }
  }

  /** Starts every host and resolves once every member serves gRPC. */
  async start(): Promise<void> {
    const groups = hostGroups(this.members, this.opts.processes, this.opts.alone ?? 0);
    try {
      const hosts = await Promise.all(
        groups.map(async (g) => {
          const host = await startNodeHost(g.map((m) => m.configFile), { nodeArgs: this.opts.nodeArgs });
          this.hosts.push(host);
          return host;
        }),
      );
      for (const host of hosts) for (const n of host.nodes) this.member(n.institutionId).address = n.address;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Each member's count of peer queries answered as a holder (creditmesh_queries_answered_total, every status). */
  async queriesAnswered(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const host of this.hosts) {
      for (const { institutionId, text } of await host.metrics()) out.set(institutionId, sumCounter(text, "creditmesh_queries_answered_total"));
    }
    return out;
  }

  async stop(): Promise<void> {
    for (const c of this.#clients.splice(0)) c.close();
    await Promise.all(this.hosts.splice(0).map((h) => h.stop(30_000)));
    for (const m of this.members) m.address = "";
  }
}

/** The members of each host process: the first `alone` one to a process, the rest round-robin over `processes`. */
export function hostGroups<T>(members: readonly T[], processes: number, alone: number): T[][] {
  const own = Math.min(alone, members.length);
  const shared = members.slice(own);
  return [
    ...members.slice(0, own).map((m) => [m]),
    ...Array.from({ length: Math.min(processes, shared.length) }, (_, p) => shared.filter((_, i) => i % processes === p)),
  ];
}

/** The sum of every series of one counter in Prometheus text. */
export function sumCounter(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(name) && (line[name.length] === "{" || line[name.length] === " ")) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** Streams batches over one SubmitRecords call with at most `inFlight` unacknowledged; resolves with the records accepted. */
function streamBatches(client: NodeClient, batches: Iterable<WireRecord[]>, inFlight: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = client.raw.submitRecords(client.metadata);
    const it = batches[Symbol.iterator]();
    let sent = 0;
    let acked = 0;
    let accepted = 0;
    let done = false;
    const pump = () => {
      while (!done && sent - acked < inFlight) {
        const next = it.next();
        if (next.done) {
          done = true;
          stream.end();
          return;
        }
        stream.write({ records: next.value });
        sent++;
      }
    };
    stream.on("data", (r: { accepted: number; rejected: { field: string; reason: string }[] }) => {
      acked++;
      accepted += r.accepted;
      if (r.rejected.length > 0) {
        stream.cancel();
        reject(new Error(`preload: ${r.rejected.length} records refused, first: ${r.rejected[0]!.field}: ${r.rejected[0]!.reason}`));
        return;
      }
      pump();
    });
    stream.on("error", reject);
    stream.on("end", () => resolve(accepted));
    pump();
  });
}
