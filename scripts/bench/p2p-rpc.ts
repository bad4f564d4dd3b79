/**
 * Round trip of one small request/response between two PeerNodes on
 * loopback (tcp + noise + yamux), over the reused RPC stream, next to the
 * floor of opening a fresh stream per request. Prints figures as JSON.
 *
 *   node --import tsx scripts/bench/p2p-rpc.ts [--requests N] [--out FILE]
 */
import "../../src/polyfill.js";
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { lpStream } from "@libp2p/utils";
import { silentLogger } from "../../src/logger.js";
import { generateNodeKey } from "../../src/identity/node-key.js";
import { Membership, signManifest } from "../../src/identity/manifest.js";
import { PeerNode } from "../../src/p2p/peer-node.js";
import { RpcClient, registerRpcHandler } from "../../src/p2p/rpc.js";
import { summarize } from "./stats.js";

const { values } = parseArgs({
  options: { requests: { type: "string", default: "2000" }, out: { type: "string" } },
});
const requests = Number(values.requests);
const RPC = "/creditmesh/bench-rpc/1.0.0";
const FRESH = "/creditmesh/bench-fresh/1.0.0";

function summary(samples: number[]): { p50_ms: number; p90_ms: number; p99_ms: number } {
  const s = summarize(samples);
  return { p50_ms: s.p50, p90_ms: s.p90, p99_ms: s.p99 };
}

async function main(): Promise<void> {
  const operator = generateNodeKey();
  const keys = [generateNodeKey(), generateNodeKey()];
  const v1 = signManifest(
    {
      networkId: "bench",
      version: "1",
      members: keys.map((k, i) => ({ institutionId: `b${i}`, name: `b${i}`, peerId: k.peerId, roles: [], addrs: [] })),
    },
    operator,
  );
  const nodes = await Promise.all(
    keys.map((key) =>
      PeerNode.create({ key, membership: new Membership(operator.publicKey, v1), listen: ["/ip4/127.0.0.1/tcp/0"], logger: silentLogger() }),
    ),
  );
  try {
    await Promise.all(nodes.map((n) => n.start()));
    const v2 = signManifest(
      {
        networkId: "bench",
        version: "2",
        members: keys.map((k, i) => ({ institutionId: `b${i}`, name: `b${i}`, peerId: k.peerId, roles: [], addrs: nodes[i].multiaddrs() })),
      },
      operator,
    );
    for (const n of nodes) n.membership.replace(v2);
    const [client, server] = nodes;

    const answer = new Uint8Array(512).fill(7);
    await registerRpcHandler(server, RPC, async () => answer, { maxFrameBytes: 64 * 1024, handlerTimeoutMs: 5_000 });
    await server.handle(FRESH, async (stream) => {
      const lp = lpStream(stream);
      await lp.read();
      await lp.write(answer);
      await stream.close();
    });
    const rpc = new RpcClient(client);
    const body = new Uint8Array(256).fill(1);
    await client.connect(server.peerId);

    const warm = Math.min(200, requests);
    for (let i = 0; i < warm; i++) await rpc.request(server.peerId, RPC, body);

    const reused: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t = performance.now();
      await rpc.request(server.peerId, RPC, body);
      reused.push(performance.now() - t);
    }

    const conn = await client.connect(server.peerId);
    const fresh: number[] = [];
    for (let i = 0; i < Math.min(requests, 1000); i++) {
      const t = performance.now();
      const stream = await conn.newStream(FRESH);
      const lp = lpStream(stream);
      await lp.write(body);
      await lp.read();
      await stream.close();
      fresh.push(performance.now() - t);
    }

    const concurrency = 64;
    const total = requests * 2;
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < total) await rpc.request(server.peerId, RPC, body);
      }),
    );
    const pipelinedPerSec = Math.round(total / ((performance.now() - t0) / 1000));

    const result = {
      bench: "p2p-rpc",
      requests,
      request_bytes: body.length,
      answer_bytes: answer.length,
      reused_stream: summary(reused),
      new_stream_per_request: summary(fresh),
      ratio_reused_to_new_stream_p50: Math.round((summary(reused).p50_ms / summary(fresh).p50_ms) * 100) / 100,
      pipelined: { concurrency, requests_per_sec: pipelinedPerSec },
    };
    console.log(JSON.stringify(result, null, 2));
    if (values.out !== undefined) await writeFile(values.out, JSON.stringify(result, null, 2) + "\n");
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

await main();
