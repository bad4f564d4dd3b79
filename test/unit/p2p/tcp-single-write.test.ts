import { once } from "node:events";
import { createServer, connect, type Socket, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { writeMessagesWhole, type ByteList } from "../../../src/p2p/tcp-single-write.js";
import { RpcClient, registerRpcHandler } from "../../../src/p2p/rpc.js";
import { startNetwork, type TestNetwork } from "./net-fixture.js";

/** What the noise layer hands the connection: a Uint8ArrayList's parts. */
function parts(...bufs: Uint8Array[]): ByteList & Iterable<Uint8Array> {
  return { bufs, byteLength: bufs.reduce((n, b) => n + b.byteLength, 0), [Symbol.iterator]: () => bufs[Symbol.iterator]() };
}

/** A connection class of the library's shape: a socket and a sendData of its own that writes each part. */
class PartWiseConnection {
  constructor(readonly socket: Socket) {}
  sendData(data: ByteList & Iterable<Uint8Array>): { sentBytes: number; canSendMore: boolean } {
    for (const buf of data) this.socket.write(buf);
    return { sentBytes: data.byteLength, canSendMore: true };
  }
}

describe("one socket write per noise message", () => {
  let server: Server;
  let client: Socket;
  let received: Buffer[];

  beforeAll(async () => {
    received = [];
    server = createServer((s) => s.on("data", (d: Buffer) => received.push(d)));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    client = connect(port, "127.0.0.1");
    await once(client, "connect");
  });

  afterAll(async () => {
    client?.destroy();
    await new Promise((r) => server?.close(r));
  });

  test("writes a message's length and body with one write, bytes unchanged", async () => {
    const conn = new PartWiseConnection(client);
    expect(writeMessagesWhole(conn)).toBe(true);
    expect(writeMessagesWhole(conn)).toBe(true); // idempotent: the prototype is replaced once
    const write = vi.spyOn(client, "write");
    const list = parts(Uint8Array.of(0, 5), Uint8Array.of(1, 2, 3, 4, 5));
    const result = conn.sendData(list);
    expect(write).toHaveBeenCalledTimes(1);
    expect(result).toEqual({ sentBytes: 7, canSendMore: true });
    const single = Uint8Array.of(9, 9);
    conn.sendData(parts(single));
    expect(write).toHaveBeenCalledTimes(2);
    expect(write.mock.calls[1][0]).toBe(single); // a lone part is written as is, not copied
    write.mockRestore();
    const deadline = Date.now() + 5_000;
    while (Buffer.concat(received).length < 9 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect([...Buffer.concat(received)]).toEqual([0, 5, 1, 2, 3, 4, 5, 9, 9]);
  });

  test("leaves anything that is not a socket connection alone", () => {
    expect(writeMessagesWhole(undefined)).toBe(false);
    expect(writeMessagesWhole({ socket: {}, sendData: () => undefined })).toBe(false);
    class NoOwnSendData {
      constructor(readonly socket: Socket) {}
    }
    expect(writeMessagesWhole(new NoOwnSendData(client))).toBe(false);
  });
});

describe("on libp2p's TCP connections", () => {
  let net: TestNetwork;

  beforeAll(async () => {
    net = await startNetwork(2);
  });

  afterAll(async () => {
    await net?.stop();
  });

  test("the peer node installs it on its connections, and requests still round-trip", async () => {
    const connection = net.nodes[0].libp2p.getConnections()[0] as unknown as { maConn: { socket: Socket } };
    const proto = Object.getPrototypeOf(connection.maConn) as Record<symbol, unknown>;
    expect(proto[Symbol.for("creditmesh.tcp.writeMessagesWhole")]).toBe(true);

    const protocol = "/creditmesh/test-whole-writes/1.0.0";
    await registerRpcHandler(net.nodes[1], protocol, async (body) => body, { maxFrameBytes: 256 * 1024, handlerTimeoutMs: 5_000 });
    const client = new RpcClient(net.nodes[0], { maxFrameBytes: 256 * 1024, defaultTimeoutMs: 10_000 });
    try {
      const write = vi.spyOn(connection.maConn.socket, "write");
      // Larger than one noise message (65,519 bytes): several messages, each one write.
      const body = Uint8Array.from({ length: 150_000 }, (_, i) => i % 251);
      const answer = await client.request(net.nodes[1].peerId, protocol, body);
      expect(Buffer.from(answer).equals(Buffer.from(body))).toBe(true);
      for (const [chunk] of write.mock.calls) expect((chunk as Uint8Array).byteLength).toBeGreaterThan(2);
      write.mockRestore();
    } finally {
      client.stop();
    }
  });
});
