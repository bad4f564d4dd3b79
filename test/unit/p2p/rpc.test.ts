import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { isCreditMeshError, CreditMeshError } from "../../../src/errors.js";
import { RpcClient, RpcRemoteError, RpcServer, registerRpcHandler, type RpcHandler } from "../../../src/p2p/rpc.js";
import { QUERY_PROTOCOL } from "../../../src/p2p/protocols.js";
import { startNetwork, type TestNetwork } from "./net-fixture.js";

const ECHO = "/creditmesh/test-echo/1.0.0";
const enc = new TextEncoder();
const dec = new TextDecoder();

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

function streamsTo(net: TestNetwork, from: number, to: number, protocol: string): number {
  return net.nodes[from].libp2p
    .getConnections()
    .filter((c) => c.remotePeer.toString() === net.nodes[to].peerId)
    .flatMap((c) => c.streams)
    .filter((s) => s.protocol === protocol && s.status === "open").length;
}

describe("rpc over reused streams", () => {
  let net: TestNetwork;
  let client: RpcClient;
  let server: RpcServer;
  let handler: RpcHandler;
  const calls: Array<{ peerId: string }> = [];

  beforeAll(async () => {
    net = await startNetwork(2);
    server = await registerRpcHandler(net.nodes[1], ECHO, (body, from, signal) => handler(body, from, signal), {
      maxFrameBytes: 64 * 1024,
      handlerTimeoutMs: 1_500,
    });
    client = new RpcClient(net.nodes[0], { maxFrameBytes: 64 * 1024, defaultTimeoutMs: 5_000 });
  });

  afterAll(async () => {
    client?.stop();
    await net?.stop();
  });

  afterEach(() => {
    calls.length = 0;
    handler = async (body, from) => {
      calls.push(from);
      return body;
    };
  });

  test("round trip, with the caller's peer id given to the handler", async () => {
    handler = async (body, from) => {
      calls.push(from);
      return enc.encode(`echo:${dec.decode(body)}`);
    };
    const answer = await client.request(net.nodes[1].peerId, ECHO, enc.encode("hello"));
    expect(dec.decode(answer)).toBe("echo:hello");
    expect(calls).toEqual([{ peerId: net.nodes[0].peerId }]);
  });

  test("200 concurrent requests share one stream and get their own answers, out of order", async () => {
    const order: number[] = [];
    handler = async (body) => {
      const n = Number(dec.decode(body));
      await new Promise((r) => setTimeout(r, (n * 7919) % 50));
      order.push(n);
      return enc.encode(`answer-${n}`);
    };
    const signal = AbortSignal.timeout(10_000);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, n) => client.request(net.nodes[1].peerId, ECHO, enc.encode(String(n)), signal)),
    );
    answers.forEach((a, n) => expect(dec.decode(a)).toBe(`answer-${n}`));
    expect(order).not.toEqual([...order].sort((x, y) => x - y)); // really answered out of order
    expect(streamsTo(net, 0, 1, ECHO)).toBe(1);
  });

  test("empty bodies and large bodies (up to the limit) pass", async () => {
    expect(await client.request(net.nodes[1].peerId, ECHO, new Uint8Array(0))).toHaveLength(0);
    const big = new Uint8Array(64 * 1024).map((_, i) => i % 251);
    expect(Buffer.from(await client.request(net.nodes[1].peerId, ECHO, big)).equals(Buffer.from(big))).toBe(true);
  });

  test("a request above the frame limit is P2P_PROTOCOL and sends nothing", async () => {
    const err = await caught(client.request(net.nodes[1].peerId, ECHO, new Uint8Array(64 * 1024 + 1)));
    expect(isCreditMeshError(err, "P2P_PROTOCOL")).toBe(true);
    expect(calls).toHaveLength(0);
  });

  test("an answer above the limit becomes an error for that request only", async () => {
    handler = async (body) => (body.length === 1 ? new Uint8Array(64 * 1024 + 10) : body);
    const [tooBig, fine] = await Promise.allSettled([
      client.request(net.nodes[1].peerId, ECHO, new Uint8Array(1)),
      client.request(net.nodes[1].peerId, ECHO, new Uint8Array(2)),
    ]);
    expect(tooBig.status === "rejected" && isCreditMeshError(tooBig.reason, "P2P_PROTOCOL")).toBe(true);
    expect(fine.status).toBe("fulfilled");
  });

  test("a handler that throws answers P2P_PROTOCOL with its message; the stream lives on", async () => {
    handler = async (body) => {
      if (dec.decode(body) === "bad") throw new CreditMeshError("CONSENT_DENIED", "no valid consent");
      if (dec.decode(body) === "boom") throw new Error("handler exploded");
      return body;
    };
    const denied = await caught(client.request(net.nodes[1].peerId, ECHO, enc.encode("bad")));
    expect(isCreditMeshError(denied, "P2P_PROTOCOL")).toBe(true);
    expect((denied as RpcRemoteError).remoteCode).toBe("CONSENT_DENIED");
    expect((denied as Error).message).toContain("no valid consent");
    const boom = await caught(client.request(net.nodes[1].peerId, ECHO, enc.encode("boom")));
    expect(isCreditMeshError(boom, "P2P_PROTOCOL")).toBe(true);
    expect((boom as Error).message).toContain("handler exploded");
    expect(dec.decode(await client.request(net.nodes[1].peerId, ECHO, enc.encode("ok")))).toBe("ok");
    expect(streamsTo(net, 0, 1, ECHO)).toBe(1);
  });

  test("a handler that never answers gives P2P_TIMEOUT when the signal's deadline fires, and is cancelled", async () => {
    let handlerSignal: AbortSignal | undefined;
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    handler = (_body, _from, signal) => {
      handlerSignal = signal;
      entered();
      return new Promise(() => undefined);
    };
    // The deadline is fired by the test once the holder holds the request, so no clock decides the order.
    const deadline = new AbortController();
    let settled = false;
    const pending = caught(client.request(net.nodes[1].peerId, ECHO, enc.encode("x"), deadline.signal)).finally(() => (settled = true));
    await inHandler;
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    deadline.abort(new DOMException("the deadline passed", "TimeoutError"));
    const err = await pending;
    expect(isCreditMeshError(err, "P2P_TIMEOUT")).toBe(true);
    expect(err).not.toBeInstanceOf(RpcRemoteError); // the caller's deadline, not the holder's
    // the cancel frame reaches the holder, which aborts the handler's signal
    await expect.poll(() => handlerSignal?.aborted, { timeout: 2_000 }).toBe(true);
    handler = async (body) => body;
    expect(dec.decode(await client.request(net.nodes[1].peerId, ECHO, enc.encode("after")))).toBe("after");
  });

  test("the holder's own handler timeout answers P2P_TIMEOUT", async () => {
    handler = () => new Promise(() => undefined);
    // The caller waits without end: only the holder's timeout can answer.
    const err = await caught(client.request(net.nodes[1].peerId, ECHO, enc.encode("x"), new AbortController().signal));
    expect(isCreditMeshError(err, "P2P_TIMEOUT")).toBe(true);
    expect(err).toBeInstanceOf(RpcRemoteError);
    expect((err as RpcRemoteError).remoteCode).toBe("P2P_TIMEOUT");
  });

  test("cancellation for another reason rethrows that reason", async () => {
    handler = () => new Promise(() => undefined);
    const controller = new AbortController();
    const reason = new Error("report cancelled by the caller");
    setTimeout(() => controller.abort(reason), 50);
    expect(await caught(client.request(net.nodes[1].peerId, ECHO, enc.encode("x"), controller.signal))).toBe(reason);
    expect(await caught(client.request(net.nodes[1].peerId, ECHO, enc.encode("x"), controller.signal))).toBe(reason);
  });

  test("a stream that was reset is reopened for the next request", async () => {
    await client.request(net.nodes[1].peerId, ECHO, enc.encode("warm"));
    for (const conn of net.nodes[0].libp2p.getConnections()) {
      for (const s of conn.streams) if (s.protocol === ECHO) s.abort(new Error("test reset"));
    }
    expect(dec.decode(await client.request(net.nodes[1].peerId, ECHO, enc.encode("again")))).toBe("again");
    expect(streamsTo(net, 0, 1, ECHO)).toBe(1);
  });

  test("a protocol the peer does not serve is P2P_UNREACHABLE", async () => {
    const err = await caught(client.request(net.nodes[1].peerId, QUERY_PROTOCOL, enc.encode("x")));
    expect(isCreditMeshError(err, "P2P_UNREACHABLE")).toBe(true);
  });

  test("after the handler is removed, requests fail fast instead of hanging", async () => {
    await client.request(net.nodes[1].peerId, ECHO, enc.encode("warm"));
    await server.stop();
    try {
      // No deadline: a request that hung would fail the test by its timeout.
      const err = await caught(client.request(net.nodes[1].peerId, ECHO, enc.encode("x"), new AbortController().signal));
      expect(isCreditMeshError(err, "P2P_UNREACHABLE")).toBe(true);
    } finally {
      await server.start();
    }
    expect(dec.decode(await client.request(net.nodes[1].peerId, ECHO, enc.encode("back")))).toBe("back");
  });
});

describe("rpc when the peer goes away", () => {
  let net: TestNetwork | undefined;
  afterEach(async () => {
    await net?.stop();
    net = undefined;
  });

  test("pending and later requests to a stopped peer fail with P2P_UNREACHABLE, without waiting for a deadline", async () => {
    net = await startNetwork(2);
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    await registerRpcHandler(
      net.nodes[1],
      ECHO,
      () => {
        entered();
        return new Promise(() => undefined);
      },
      { maxFrameBytes: 1024, handlerTimeoutMs: 60_000 },
    );
    const client = new RpcClient(net.nodes[0]);
    // No deadlines: only the peer going away can end these requests.
    const never = new AbortController().signal;
    const pending = caught(client.request(net.nodes[1].peerId, ECHO, enc.encode("x"), never));
    await inHandler;
    await net.nodes[1].stop();
    const err = await pending;
    expect(isCreditMeshError(err, "P2P_UNREACHABLE")).toBe(true);
    const later = await caught(client.request(net.nodes[1].peerId, ECHO, enc.encode("y"), never));
    expect(isCreditMeshError(later, "P2P_UNREACHABLE")).toBe(true);
  });

  test("a connection found closing when a stream is opened (its other end closed it) is replaced, and the request goes through", async () => {
    net = await startNetwork(2);
    await registerRpcHandler(net.nodes[1], ECHO, async (body) => body, { maxFrameBytes: 1024, handlerTimeoutMs: 5_000 });
    const node = net.nodes[0];
    const real = await node.connect(net.nodes[1].peerId);
    // What libp2p hands out while the other end's close is on its way: the status still open, the muxer closed.
    const closing = Object.create(real, {
      newStream: { value: async () => Promise.reject(Object.assign(new Error('The connection muxer is "closed" and not "open"'), { name: "ConnectionClosedError" })) },
    }) as typeof real;
    const asked: unknown[] = [];
    const proxy = Object.create(node, {
      connect: { value: (peerId: string, signal?: AbortSignal, instead?: typeof real) => (asked.push(instead), asked.length === 1 ? Promise.resolve(closing) : node.connect(peerId, signal, instead)) },
      markUsed: { value: (peerId: string) => node.markUsed(peerId) },
    }) as typeof node;
    const client = new RpcClient(proxy);
    expect(dec.decode(await client.request(net.nodes[1].peerId, ECHO, enc.encode("through")))).toBe("through");
    expect(asked).toEqual([undefined, closing]);
  });

  test("answering a request counts as using the connection, so the member that dialed it does not close it as idle", async () => {
    net = await startNetwork(2);
    const node = net.nodes[1];
    const marked: string[] = [];
    const proxy = Object.create(node, {
      handle: { value: (...args: Parameters<typeof node.handle>) => node.handle(...args) },
      unhandle: { value: (protocol: string) => node.unhandle(protocol) },
      markUsed: { value: (peerId: string) => marked.push(peerId) },
    }) as typeof node;
    const server = new RpcServer(proxy, ECHO, async (body) => body, { maxFrameBytes: 1024, handlerTimeoutMs: 5_000 });
    await server.start();
    try {
      const client = new RpcClient(net.nodes[0]);
      for (const word of ["one", "two"]) expect(dec.decode(await client.request(node.peerId, ECHO, enc.encode(word)))).toBe(word);
      expect(marked).toEqual([net.nodes[0].peerId, net.nodes[0].peerId]);
    } finally {
      await server.stop();
    }
  });

  test("a stream refused for another reason is not asked again", async () => {
    net = await startNetwork(2);
    const node = net.nodes[0];
    const real = await node.connect(net.nodes[1].peerId);
    const refusing = Object.create(real, { newStream: { value: async () => Promise.reject(new Error("protocol selection failed")) } }) as typeof real;
    let asked = 0;
    const proxy = Object.create(node, {
      connect: { value: () => (asked++, Promise.resolve(refusing)) },
      markUsed: { value: (peerId: string) => node.markUsed(peerId) },
    }) as typeof node;
    const err = await caught(new RpcClient(proxy).request(net.nodes[1].peerId, ECHO, enc.encode("x")));
    expect(isCreditMeshError(err, "P2P_UNREACHABLE")).toBe(true);
    expect((err as Error).message).toContain("protocol selection failed");
    expect(asked).toBe(1);
  });

  test("requests to a non-member are MEMBERSHIP_DENIED without dialling", async () => {
    net = await startNetwork(2);
    const { generateNodeKey } = await import("../../../src/identity/node-key.js");
    const client = new RpcClient(net.nodes[0]);
    const err = await caught(client.request(generateNodeKey().peerId, ECHO, enc.encode("x")));
    expect(isCreditMeshError(err, "MEMBERSHIP_DENIED")).toBe(true);
  });
});
