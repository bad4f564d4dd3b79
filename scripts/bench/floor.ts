/**
 * The floor of one unified report, measured on the machine and in the run
 * that measures the report itself:
 *
 *   (a) one gRPC unary round trip over loopback (client here, server in
 *       another process, like a lender's client and its node);
 *   (b) one libp2p request/response over a reused stream between two
 *       PeerNodes in different processes (tcp + noise + yamux, the RPC layer
 *       the query protocol uses), with payloads the size of a real query and
 *       a real answer;
 *   (c) one LevelDB range scan over a prefix holding as many keys as one
 *       subject's accounts and repayments at one holder.
 *
 * The server of (a) is the gRPC echo reference, src/testnet/grpc-echo.ts,
 * run compiled from dist/ in a process of its own, as the nodes run (grpc-js
 * with the node's server channel options, nothing else in the process). The
 * servers of (b) run in child processes started from this file (`node
 * --import tsx scripts/bench/floor.ts serve`, config on stdin). Neither does
 * any work beyond answering with a buffer of the requested size, so what is
 * measured is transport only. Run without `serve`, the file measures the
 * floor on its own (see standalone()).
 *
 * Not part of the floor, for reference: the fan-out a report makes, with no
 * data work — one signed request to several such servers (each its own
 * process) in parallel, each verifying the request and signing its answer,
 * every answer verified (FanOutProbe).
 */
import "../../src/polyfill.js";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { Level } from "level";
import { Role } from "../../src/gen/creditmesh/v1/common.js";
import { QueryAnswer, Signed } from "../../src/gen/creditmesh/v1/peer.js";
import { signBody } from "../../src/identity/envelope.js";
import { Membership, operatorPublicKeyToHex, parseOperatorPublicKey, signManifest } from "../../src/identity/manifest.js";
import { NodeKey, verifyByPeerId } from "../../src/identity/node-key.js";
import { silentLogger } from "../../src/logger.js";
import { PeerNode } from "../../src/p2p/peer-node.js";
import { RpcClient, registerRpcHandler } from "../../src/p2p/rpc.js";
import { freePort } from "../../src/testnet/layout.js";
import { ECHO_PATH, GRPC_ECHO_MAIN, echoAnswerFor, echoRequest, startGrpcEcho } from "../../src/testnet/grpc-echo.js";
import { makeTempDir, printTable, writeResults } from "./common.js";
import { round, summarize } from "./stats.js";

const FLOOR_PROTOCOL = "/creditmesh/bench-floor/1.0.0";
const FANOUT_PROTOCOL = "/creditmesh/bench-fanout/1.0.0";
/** Same limits as the node's gRPC server and client. */
const GRPC_OPTIONS = {
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
};

// ---------------------------------------------------------------- payloads

/** A request asking for an answer of `answerBytes`, padded to `requestBytes`. */
export const sizedRequest = echoRequest;
const answerFor = echoAnswerFor;

// ---------------------------------------------------------------- echo client

const identity = (b: Buffer) => b;
const ECHO_SERVICE: grpc.ServiceDefinition = {
  echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const EchoClientCtor = grpc.makeGenericClientConstructor(ECHO_SERVICE, "Echo");

/** One gRPC channel to the echo server; `separateConnection` gives it its own HTTP/2 connection. */
export class EchoClient {
  readonly #client: grpc.Client;
  readonly #metadata = new grpc.Metadata();

  constructor(address: string, opts: { separateConnection?: boolean; authorization?: string } = {}) {
    this.#client = new EchoClientCtor(address, grpc.credentials.createInsecure(), {
      ...GRPC_OPTIONS,
      ...(opts.separateConnection ? { "grpc.use_local_subchannel_pool": 1 } : {}),
    });
    // The node's calls carry an API key; so do these, so both encode the same metadata.
    if (opts.authorization) this.#metadata.set("authorization", opts.authorization);
  }

  call(request: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) =>
      this.#client.makeUnaryRequest<Buffer, Buffer>(
        ECHO_PATH,
        identity,
        identity,
        request,
        this.#metadata,
        { deadline: Date.now() + 30_000 },
        (err, res) => (err ? reject(err) : resolve(res!)),
      ),
    );
  }

  close(): void {
    this.#client.close();
  }
}

// ---------------------------------------------------------------- the server process

interface ServeConfig {
  p2pPort: number;
  serverSeed: string;
  operatorPublicKey: string;
  manifest: { body: string; signature: string };
}

interface ServeReady {
  peerId: string;
  multiaddrs: string[];
}

/**
 * The echo service on a loopback port of this process (for reference only:
 * clients and server then share one thread).
 */
export function startEchoServer(host = "127.0.0.1"): Promise<{ address: string; stop(): Promise<void> }> {
  return startGrpcEcho({ host });
}

/** The echo reference, compiled, in a process of its own; resolves once it listens. */
export async function spawnEchoServer(onSpawn?: (pid: number) => void): Promise<{ pid: number; address: string; kill(): Promise<void> }> {
  if (!existsSync(GRPC_ECHO_MAIN)) throw new Error(`${GRPC_ECHO_MAIN} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [GRPC_ECHO_MAIN], { stdio: ["pipe", "pipe", "pipe"] });
  onSpawn?.(child.pid!);
  const { ready, kill } = await awaitReady<{ address: string }>(child, "gRPC echo server");
  return { pid: child.pid!, address: ready.address, kill };
}

async function serve(config: ServeConfig): Promise<void> {
  const key = NodeKey.fromSeed(Buffer.from(config.serverSeed, "hex"));
  const membership = new Membership(parseOperatorPublicKey(config.operatorPublicKey), {
    body: Buffer.from(config.manifest.body, "base64"),
    signature: Buffer.from(config.manifest.signature, "base64"),
  });
  const peer = await PeerNode.create({
    key,
    membership,
    listen: [`/ip4/127.0.0.1/tcp/${config.p2pPort}`],
    logger: silentLogger(),
  });
  await peer.start();
  const rpcLimits = { maxFrameBytes: 4 * 1024 * 1024, handlerTimeoutMs: 5_000 };
  await registerRpcHandler(peer, FLOOR_PROTOCOL, async (body) => answerFor(body), rpcLimits);
  // As a holder does with a query: check the requester's signature, sign what goes back.
  await registerRpcHandler(
    peer,
    FANOUT_PROTOCOL,
    async (body, from) => {
      const request = Signed.decode(body);
      if (!verifyByPeerId(from.peerId, request.body, request.signature)) throw new Error("request signature does not verify");
      const answer = answerFor(request.body);
      return QueryAnswer.encode({ signedAnswer: answer, signature: Buffer.from(key.sign(answer)) }).finish();
    },
    rpcLimits,
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled([peer.stop()]);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The parent holds our stdin: when it goes away, so do we.
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();

  const ready: ServeReady = { peerId: key.peerId, multiaddrs: peer.multiaddrs() };
  process.stdout.write(JSON.stringify(ready) + "\n");
}

/** The floor's server processes, as seen from the benchmark. */
export interface FloorServer {
  /** The gRPC echo process: the one (a) and the concurrent echo measure against. */
  pid: number;
  /** Every server process: the echo's and the libp2p servers'. */
  pids: number[];
  grpcAddress: string;
  /**
   * A PeerNode in this process, connected to every server's, with an RPC
   * client; `serverPeerId` is the first server's.
   */
  p2p: { node: PeerNode; rpc: RpcClient; key: NodeKey; serverPeerId: string; serverPeerIds: string[] };
  stop(): Promise<void>;
}

interface ServerProcess {
  pid: number;
  ready: ServeReady;
  kill(): Promise<void>;
}

/**
 * Starts `peers` echo/libp2p server processes (one unless asked) and, in this
 * process, the client PeerNode connected to all of them. All are members of
 * one network signed by a throwaway operator key.
 */
export async function startFloorServer(opts: { peers?: number; onSpawn?: (pid: number) => void } = {}): Promise<FloorServer> {
  const peers = Math.max(1, opts.peers ?? 1);
  const operator = NodeKey.fromSeed(randomBytes(32));
  const client = NodeKey.fromSeed(randomBytes(32));
  const servers = await Promise.all(
    Array.from({ length: peers }, async () => ({ key: NodeKey.fromSeed(randomBytes(32)), p2pPort: await freePort() })),
  );
  const manifest = signManifest(
    {
      networkId: "bench-floor",
      version: "1",
      members: [
        { institutionId: "floor-client", name: "floor client", peerId: client.peerId, roles: [Role.LENDER], addrs: [] },
        ...servers.map((s, i) => ({
          institutionId: `floor-server-${i}`,
          name: `floor server ${i}`,
          peerId: s.key.peerId,
          roles: [Role.FURNISHER],
          addrs: [`/ip4/127.0.0.1/tcp/${s.p2pPort}`],
        })),
      ],
    },
    operator,
  );
  const started = await Promise.allSettled(
    servers.map((s) =>
      spawnServer(
        {
          p2pPort: s.p2pPort,
          serverSeed: Buffer.from(s.key.seed).toString("hex"),
          operatorPublicKey: operatorPublicKeyToHex(operator.publicKey),
          manifest: { body: Buffer.from(manifest.body).toString("base64"), signature: Buffer.from(manifest.signature).toString("base64") },
        },
        opts.onSpawn,
      ),
    ),
  );
  const echoStarted = await Promise.allSettled([spawnEchoServer(opts.onSpawn)]);
  const echo = echoStarted[0].status === "fulfilled" ? echoStarted[0].value : undefined;
  const processes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const killAll = () => Promise.all([...processes.map((p) => p.kill()), echo?.kill()]);
  const failed = [...started, ...echoStarted].find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed || !echo) {
    await killAll();
    throw (failed as PromiseRejectedResult).reason;
  }

  let node: PeerNode | undefined;
  try {
    node = await PeerNode.create({
      key: client,
      membership: new Membership(operator.publicKey, manifest),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      logger: silentLogger(),
    });
    await node.start();
    const connecting = node;
    await Promise.all(processes.map((p) => connecting.connect(p.ready.peerId, AbortSignal.timeout(15_000))));
  } catch (err) {
    await node?.stop().catch(() => undefined);
    await killAll();
    throw err;
  }
  const rpc = new RpcClient(node, { maxFrameBytes: 4 * 1024 * 1024 });
  const peerNode = node;
  return {
    pid: echo.pid,
    pids: [echo.pid, ...processes.map((p) => p.pid)],
    grpcAddress: echo.address,
    p2p: { node: peerNode, rpc, key: client, serverPeerId: processes[0].ready.peerId, serverPeerIds: processes.map((p) => p.ready.peerId) },
    stop: async () => {
      rpc.stop();
      await peerNode.stop().catch(() => undefined);
      await killAll();
    },
  };
}

/** One server process, started from this file with its config on stdin; resolves once it listens. */
async function spawnServer(config: ServeConfig, onSpawn?: (pid: number) => void): Promise<ServerProcess> {
  const self = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", self, "serve"], {
    cwd: path.dirname(self),
    stdio: ["pipe", "pipe", "pipe"],
  });
  onSpawn?.(child.pid!);
  child.stdin!.write(JSON.stringify(config) + "\n");
  const { ready, kill } = await awaitReady<ServeReady>(child, "floor server");
  return { pid: child.pid!, ready, kill };
}

/**
 * Waits for the first stdout line of a server child (JSON); `kill` closes its
 * stdin and stops it (SIGTERM, SIGKILL after 5 s). A child that fails to
 * start is stopped before this rejects.
 */
async function awaitReady<T>(child: ChildProcess, what: string): Promise<{ ready: T; kill(): Promise<void> }> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16 * 1024)));
  const kill = async () => {
    child.stdin!.end();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const ready = await new Promise<T>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${stderr}`)), 60_000);
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf("\n");
        if (nl >= 0) {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(out.slice(0, nl)) as T);
          } catch (err) {
            reject(err);
          }
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${what} exited during start:\n${stderr}`));
      });
    });
    return { ready, kill };
  } catch (err) {
    await kill();
    throw err;
  }
}

// ---------------------------------------------------------------- measurements

/**
 * Each probe is prepared once and then run in slices, so that a benchmark
 * can interleave floor and report measurements: load from elsewhere on the
 * machine then weighs on both alike instead of on whichever ran during it.
 */

/** Sequential unary calls on one channel; returns ms per call. */
export class GrpcEchoProbe {
  readonly #client: EchoClient;
  readonly #request: Buffer;

  constructor(address: string, opts: { requestBytes: number; answerBytes: number; authorization?: string }) {
    this.#client = new EchoClient(address, { authorization: opts.authorization });
    this.#request = sizedRequest(opts.requestBytes, opts.answerBytes);
  }

  async run(calls: number, into: number[] = []): Promise<number[]> {
    for (let i = 0; i < calls; i++) {
      const t = performance.now();
      await this.#client.call(this.#request);
      into.push(performance.now() - t);
    }
    return into;
  }

  close(): void {
    this.#client.close();
  }
}

export interface ConcurrentRun {
  /** ms per call. */
  samples: number[];
  calls: number;
  elapsedMs: number;
  callsPerSec: number;
}

/** `concurrency` clients, each on its own channel and HTTP/2 connection, one call in flight each. */
export class GrpcEchoConcurrentProbe {
  readonly #clients: EchoClient[];
  readonly #request: Buffer;

  constructor(address: string, opts: { concurrency: number; requestBytes: number; answerBytes: number; authorization?: string }) {
    this.#clients = Array.from({ length: opts.concurrency }, () => new EchoClient(address, { separateConnection: true, authorization: opts.authorization }));
    this.#request = sizedRequest(opts.requestBytes, opts.answerBytes);
  }

  /** Connects every channel and warms it. */
  async warm(rounds = 20): Promise<void> {
    for (let round = 0; round < rounds; round++) await Promise.all(this.#clients.map((c) => c.call(this.#request)));
  }

  run(total: number): Promise<ConcurrentRun> {
    return runConcurrent(this.#clients.length, total, (worker) => this.#clients[worker].call(this.#request));
  }

  close(): void {
    for (const c of this.#clients) c.close();
  }
}

/** Runs `total` calls spread over `concurrency` workers, one call in flight per worker. */
export async function runConcurrent(concurrency: number, total: number, call: (worker: number, index: number) => Promise<unknown>): Promise<ConcurrentRun> {
  const samples: number[] = new Array(total);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = next++; i < total; i = next++) {
        const t = performance.now();
        await call(worker, i);
        samples[i] = performance.now() - t;
      }
    }),
  );
  const elapsedMs = performance.now() - t0;
  return { samples, calls: total, elapsedMs, callsPerSec: (total / elapsedMs) * 1000 };
}

/** Sequential requests over the reused RPC stream to the floor server's PeerNode. */
export class Libp2pProbe {
  readonly #request: Buffer;

  constructor(
    private readonly floor: FloorServer,
    private readonly opts: { requestBytes: number; answerBytes: number },
  ) {
    this.#request = sizedRequest(opts.requestBytes, opts.answerBytes);
  }

  async run(calls: number, into: number[] = []): Promise<number[]> {
    const { rpc, serverPeerId } = this.floor.p2p;
    for (let i = 0; i < calls; i++) {
      const t = performance.now();
      const answer = await rpc.request(serverPeerId, FLOOR_PROTOCOL, this.#request);
      into.push(performance.now() - t);
      if (answer.length !== this.opts.answerBytes) throw new Error(`floor answer of ${answer.length} bytes, expected ${this.opts.answerBytes}`);
    }
    return into;
  }
}

/**
 * For reference, not part of the floor: the fan-out of a report with no data
 * work. Each call signs one request, sends it to every floor server in
 * parallel over the reused streams (each verifies it and signs its answer)
 * and verifies every answer; returns ms per fan-out.
 */
export class FanOutProbe {
  readonly #request: Buffer;

  constructor(
    private readonly floor: FloorServer,
    private readonly opts: { requestBytes: number; answerBytes: number },
  ) {
    // The signature and its envelope are part of the request's size.
    this.#request = sizedRequest(Math.max(4, opts.requestBytes - 70), opts.answerBytes);
  }

  async run(calls: number, into: number[] = []): Promise<number[]> {
    const { rpc, key, serverPeerIds } = this.floor.p2p;
    for (let i = 0; i < calls; i++) {
      const t = performance.now();
      const envelope = Signed.encode(signBody(key, this.#request)).finish();
      const answers = await Promise.all(serverPeerIds.map((peerId) => rpc.request(peerId, FANOUT_PROTOCOL, envelope)));
      answers.forEach((bytes, j) => {
        const answer = QueryAnswer.decode(bytes);
        if (!verifyByPeerId(serverPeerIds[j], answer.signedAnswer, answer.signature)) throw new Error("fan-out answer signature does not verify");
        if (answer.signedAnswer.length !== this.opts.answerBytes) throw new Error(`fan-out answer of ${answer.signedAnswer.length} bytes, expected ${this.opts.answerBytes}`);
      });
      into.push(performance.now() - t);
    }
    return into;
  }
}

/**
 * Range scans of one prefix each, over a database of `prefixes` prefixes
 * holding `keysPerPrefix` keys with values of `valueBytes` (the size of a
 * stored repayment). Reads keys and values, as the node does.
 */
export class LevelScanProbe {
  #seed = 12345;

  private constructor(
    private readonly db: Level<string, string>,
    private readonly opts: { prefixes: number; keysPerPrefix: number },
  ) {}

  static async open(dir: string, opts: { prefixes: number; keysPerPrefix: number; valueBytes: number }): Promise<LevelScanProbe> {
    await mkdir(dir, { recursive: true });
    const db = new Level<string, string>(dir, { keyEncoding: "utf8", valueEncoding: "utf8" });
    await db.open();
    const value = "x".repeat(opts.valueBytes);
    for (let p = 0; p < opts.prefixes; p += 100) {
      const batch = db.batch();
      for (let i = p; i < Math.min(opts.prefixes, p + 100); i++) {
        for (let k = 0; k < opts.keysPerPrefix; k++) batch.put(`${LevelScanProbe.prefix(i)}!${String(k + 1).padStart(5, "0")}`, value);
      }
      await batch.write();
    }
    return new LevelScanProbe(db, opts);
  }

  private static prefix(i: number): string {
    return `r${String(i).padStart(8, "0")}`;
  }

  async run(scans: number, into: number[] = []): Promise<number[]> {
    for (let i = 0; i < scans; i++) {
      this.#seed = (this.#seed * 1103515245 + 12345) & 0x7fffffff;
      const p = LevelScanProbe.prefix(this.#seed % this.opts.prefixes);
      const t = performance.now();
      const entries = await this.db.iterator({ gt: p + "!", lt: p + '"' }).all();
      into.push(performance.now() - t);
      if (entries.length !== this.opts.keysPerPrefix) throw new Error(`scan returned ${entries.length} keys, expected ${this.opts.keysPerPrefix}`);
    }
    return into;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

// ---------------------------------------------------------------- entry points

/**
 * `floor.ts` on its own (`npm run bench -- floor`) measures the floor parts
 * with typical sizes (a report request and answer, a query and answer, one
 * subject's keys) and writes bench/results/floor.json; bench:report measures
 * them again with the sizes of its own run.
 */
async function standalone(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      calls: { type: "string", default: "2000" },
      concurrency: { type: "string", default: "32" },
      "echo-calls": { type: "string", default: "20000" },
      out: { type: "string" },
    },
  });
  const calls = Number(values.calls);
  const concurrency = Number(values.concurrency);
  const sizes = { reportRequest: 90, report: 4096, query: 512, answer: 520, scanKeys: 8, valueBytes: 100 };
  const temp = await makeTempDir("creditmesh-bench-floor-");
  const floor = await startFloorServer();
  try {
    const grpcProbe = new GrpcEchoProbe(floor.grpcAddress, { requestBytes: sizes.reportRequest, answerBytes: sizes.report });
    const p2pProbe = new Libp2pProbe(floor, { requestBytes: sizes.query, answerBytes: sizes.answer });
    const scanProbe = await LevelScanProbe.open(path.join(temp.dir, "leveldb"), { prefixes: 5_000, keysPerPrefix: sizes.scanKeys, valueBytes: sizes.valueBytes });
    const echo = new GrpcEchoConcurrentProbe(floor.grpcAddress, { concurrency, requestBytes: sizes.reportRequest, answerBytes: sizes.report });
    try {
      await grpcProbe.run(300);
      await p2pProbe.run(300);
      await scanProbe.run(300);
      await echo.warm();
      const grpc = summarize(await grpcProbe.run(calls));
      const p2p = summarize(await p2pProbe.run(calls));
      const scan = summarize(await scanProbe.run(calls));
      const concurrent = await echo.run(Number(values["echo-calls"]));
      const figures = {
        sizes_bytes: sizes,
        grpc_round_trip_ms: grpc,
        libp2p_request_response_ms: p2p,
        leveldb_range_scan_ms: scan,
        floor_p50_ms: round(grpc.p50 + p2p.p50 + scan.p50, 3),
        grpc_echo_concurrent: { concurrency, calls: concurrent.calls, calls_per_sec: round(concurrent.callsPerSec, 1), latency_ms: summarize(concurrent.samples) },
      };
      printTable([
        ["floor part", "p50 ms", "p99 ms"],
        ["gRPC unary round trip", grpc.p50, grpc.p99],
        ["libp2p req/resp, reused stream", p2p.p50, p2p.p99],
        ["LevelDB range scan", scan.p50, scan.p99],
        ["floor (sum of p50s)", figures.floor_p50_ms, ""],
        [`gRPC echo calls/s, ${concurrency} clients`, round(concurrent.callsPerSec, 1), ""],
      ]);
      process.stdout.write(`results: ${path.relative(process.cwd(), await writeResults("floor", figures, values.out))}\n`);
    } finally {
      grpcProbe.close();
      echo.close();
      await scanProbe.close();
    }
  } finally {
    await floor.stop();
    await temp.remove();
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly && process.argv[2] === "serve") {
  let input = "";
  const onData = (d: Buffer) => {
    input += d.toString();
    const nl = input.indexOf("\n");
    if (nl < 0) return;
    process.stdin.off("data", onData);
    serve(JSON.parse(input.slice(0, nl)) as ServeConfig).catch((err) => {
      process.stderr.write(`floor server failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
  };
  process.stdin.on("data", onData);
} else if (invokedDirectly) {
  standalone(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`floor benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
