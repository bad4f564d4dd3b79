import { describe, expect, it } from "vitest";
import { StreamState, YamuxStream } from "@chainsafe/libp2p-yamux/stream";
import { installLazyYamuxWindowUpdates, needsNoUpdate } from "../../../src/p2p/yamux-window.js";

/** A yamux stream whose frames are collected instead of sent. */
function stream(state: StreamState) {
  const frames: { type: number; flag: number; length: number }[] = [];
  const s = new YamuxStream({
    id: "1",
    streamId: 1,
    direction: "inbound",
    log: Object.assign(() => undefined, { error: () => undefined, trace: () => undefined, enabled: false }) as never,
    state,
    getRTT: () => -1,
    sendFrame: (header) => {
      frames.push({ type: header.type, flag: header.flag, length: header.length });
      return true;
    },
  });
  return { s, window: s as unknown as { recvWindow: number; recvWindowCapacity: number }, frames };
}

describe("lazy yamux window updates", () => {
  it("updates only once half the window is used", () => {
    expect(needsNoUpdate(256 * 1024, 256 * 1024)).toBe(true);
    expect(needsNoUpdate(256 * 1024, 128 * 1024)).toBe(true);
    expect(needsNoUpdate(256 * 1024, 128 * 1024 - 1)).toBe(false);
    expect(needsNoUpdate(256 * 1024, 0)).toBe(false);
  });

  it("sends no window update for a small message, and one that restores the window once half is used", () => {
    installLazyYamuxWindowUpdates();
    installLazyYamuxWindowUpdates(); // idempotent: not wrapped twice
    const { s, window, frames } = stream(StreamState.Established);
    const full = window.recvWindow;
    window.recvWindowCapacity = full - 600;
    s.sendWindowUpdate();
    expect(frames).toEqual([]);
    window.recvWindowCapacity = full / 2 - 1;
    s.sendWindowUpdate();
    expect(frames).toHaveLength(1);
    expect(frames[0].length).toBe(full / 2 + 1);
    expect(window.recvWindowCapacity).toBe(window.recvWindow);
  });

  it("leaves opening a stream to the library: its first frame carries the SYN flag", () => {
    installLazyYamuxWindowUpdates();
    const { s, frames } = stream(StreamState.Init);
    s.sendWindowUpdate();
    expect(frames).toHaveLength(1);
    expect(frames[0].flag).not.toBe(0);
  });
});
