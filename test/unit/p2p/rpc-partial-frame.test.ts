import type { Stream } from "@libp2p/interface";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { registerRpcHandler } from "../../../src/p2p/rpc.js";
import { FrameDecoder, FrameKind, encodeFrame } from "../../../src/p2p/rpc-frame.js";
import { startNetwork, waitFor, type TestNetwork } from "./net-fixture.js";

const PROTOCOL = "/creditmesh/test-partial/1.0.0";
const PARTIAL_TIMEOUT_MS = 300;

/** Opens a raw stream from node 0 to node 1, as a hostile member would, bypassing the rpc client. */
async function rawStream(net: TestNetwork): Promise<Stream> {
  const connection = net.nodes[0].libp2p.getConnections().find((c) => c.remotePeer.toString() === net.nodes[1].peerId);
  if (connection === undefined) throw new Error("no connection to node 1");
  return connection.newStream(PROTOCOL);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe("rpc read timeout on partial frames", () => {
  let net: TestNetwork;

  beforeAll(async () => {
    net = await startNetwork(2);
    await registerRpcHandler(net.nodes[1], PROTOCOL, async (body) => body, {
      maxFrameBytes: 64 * 1024,
      handlerTimeoutMs: 5_000,
      partialFrameTimeoutMs: PARTIAL_TIMEOUT_MS,
    });
  });

  afterAll(async () => {
    await net?.stop();
  });

  test("a stream holding a started but unfinished frame is closed by the holder", async () => {
    const stream = await rawStream(net);
    const whole = encodeFrame(1, FrameKind.Request, new Uint8Array(60 * 1024));
    stream.send(whole.subarray(0, 1024)); // announces 60 KiB, delivers 1 KiB, then nothing
    await waitFor(() => stream.status !== "open", 10_000, "the holder to close the stream");
    expect(stream.status).not.toBe("open");
  });

  test("trickling more bytes of the same frame does not extend its time", async () => {
    const stream = await rawStream(net);
    const whole = encodeFrame(1, FrameKind.Request, new Uint8Array(60 * 1024));
    let sent = 0;
    const trickle = setInterval(() => {
      if (stream.status !== "open" || stream.writeStatus !== "writable" || sent + 16 >= whole.length) return;
      stream.send(whole.subarray(sent, sent + 16));
      sent += 16;
    }, PARTIAL_TIMEOUT_MS / 6);
    try {
      await waitFor(() => stream.status !== "open", 10_000, "the holder to close the trickling stream");
    } finally {
      clearInterval(trickle);
    }
    expect(sent).toBeLessThan(whole.length);
    expect(stream.status).not.toBe("open");
  });

  test("a stream whose frames are complete is answered and stays open while idle", async () => {
    const stream = await rawStream(net);
    const decoder = new FrameDecoder(64 * 1024);
    const answers: number[] = [];
    stream.addEventListener("message", (evt) => {
      const chunks = evt.data instanceof Uint8Array ? [evt.data] : [...evt.data];
      for (const chunk of chunks) for (const frame of decoder.push(chunk)) answers.push(frame.id);
    });
    stream.send(encodeFrame(7, FrameKind.Request, new Uint8Array([1, 2, 3])));
    await waitFor(() => answers.length === 1, 10_000, "the answer");
    expect(answers).toEqual([7]);
    await sleep(PARTIAL_TIMEOUT_MS * 3); // well past the partial-frame timeout, with nothing pending
    expect(stream.status).toBe("open");
    stream.send(encodeFrame(8, FrameKind.Request, new Uint8Array([4])));
    await waitFor(() => answers.length === 2, 10_000, "the second answer");
    expect(answers).toEqual([7, 8]);
    await stream.close();
  });
});
