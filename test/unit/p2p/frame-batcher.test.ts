import { describe, expect, it } from "vitest";
import type { Stream } from "@libp2p/interface";
import { FrameBatcher } from "../../../src/p2p/frame-batcher.js";

function fakeStream(opts: { refuse?: boolean } = {}) {
  const sent: Uint8Array[] = [];
  const stream = {
    writeStatus: "writable",
    send(data: Uint8Array) {
      if (opts.refuse) throw new Error("stream reset");
      sent.push(Uint8Array.from(data));
      return true;
    },
  };
  return { stream: stream as unknown as Stream & { writeStatus: string }, sent };
}

const turn = () => new Promise((r) => setImmediate(r));

describe("FrameBatcher", () => {
  it("sends the frames of one turn as one message, in order, and a later frame in the next", async () => {
    const { stream, sent } = fakeStream();
    const batcher = new FrameBatcher(stream);
    batcher.push(Uint8Array.of(1, 2));
    batcher.push(Uint8Array.of(3));
    await Promise.resolve();
    batcher.push(Uint8Array.of(4, 5));
    expect(sent).toEqual([]);
    await turn();
    expect(sent).toEqual([Uint8Array.of(1, 2, 3, 4, 5)]);
    batcher.push(Uint8Array.of(6));
    await turn();
    expect(sent).toEqual([Uint8Array.of(1, 2, 3, 4, 5), Uint8Array.of(6)]);
  });

  it("keeps a message under 64 KiB by sending what is queued before a frame that would not fit", async () => {
    const { stream, sent } = fakeStream();
    const batcher = new FrameBatcher(stream);
    batcher.push(new Uint8Array(40_000));
    batcher.push(new Uint8Array(40_000));
    expect(sent.map((m) => m.length)).toEqual([40_000]);
    await turn();
    expect(sent.map((m) => m.length)).toEqual([40_000, 40_000]);
  });

  it("tells every frame of a refused batch, and flush/clear act at once", async () => {
    const refused = fakeStream({ refuse: true });
    const failures: string[] = [];
    const batcher = new FrameBatcher(refused.stream);
    batcher.push(Uint8Array.of(1), (err) => failures.push(`a: ${err.message}`));
    batcher.push(Uint8Array.of(2), (err) => failures.push(`b: ${err.message}`));
    batcher.flush();
    expect(failures).toEqual(["a: stream reset", "b: stream reset"]);

    const closed = fakeStream();
    closed.stream.writeStatus = "closed";
    const late: string[] = [];
    new FrameBatcher(closed.stream).push(Uint8Array.of(1), (err) => late.push(err.message));
    await turn();
    expect(late).toEqual(["stream is closed"]);

    const ok = fakeStream();
    const cleared = new FrameBatcher(ok.stream);
    cleared.push(Uint8Array.of(9));
    cleared.clear();
    await turn();
    expect(ok.sent).toEqual([]);
  });

  it("sends at the end of the current job when its owner is not busy, still as one message", async () => {
    const { stream, sent } = fakeStream();
    let busy = false;
    const batcher = new FrameBatcher(stream, { busy: () => busy });
    batcher.push(Uint8Array.of(1));
    batcher.push(Uint8Array.of(2));
    expect(sent).toEqual([]);
    await Promise.resolve();
    expect(sent).toEqual([Uint8Array.of(1, 2)]);

    // With traffic in flight, frames wait for the turn's end to share a message.
    busy = true;
    batcher.push(Uint8Array.of(3));
    await Promise.resolve();
    expect(sent).toEqual([Uint8Array.of(1, 2)]);
    await turn();
    expect(sent).toEqual([Uint8Array.of(1, 2), Uint8Array.of(3)]);
  });
});
