import { describe, expect, test } from "vitest";
import fc from "fast-check";
import {
  FrameDecoder,
  FrameError,
  FrameKind,
  decodeErrorPayload,
  encodeErrorPayload,
  encodeFrame,
  varintLength,
} from "../../../src/p2p/rpc-frame.js";

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

describe("rpc frames", () => {
  test("decode what was encoded, however the bytes are split", () => {
    const frames = [
      { id: 1, kind: FrameKind.Request, payload: new Uint8Array([1, 2, 3]) },
      { id: 300, kind: FrameKind.Response, payload: new Uint8Array(200).fill(9) },
      { id: 2 ** 40, kind: FrameKind.Error, payload: encodeErrorPayload("P2P_TIMEOUT", "slow") },
      { id: 7, kind: FrameKind.Cancel, payload: new Uint8Array(0) },
    ];
    const bytes = concat(frames.map((f) => encodeFrame(f.id, f.kind, f.payload)));
    for (let split = 0; split <= bytes.length; split++) {
      const decoder = new FrameDecoder(1024);
      const out = [...decoder.push(bytes.subarray(0, split)), ...decoder.push(bytes.subarray(split))];
      expect(out.map((f) => ({ ...f, payload: Buffer.from(f.payload) }))).toEqual(
        frames.map((f) => ({ ...f, payload: Buffer.from(f.payload) })),
      );
    }
    const byteByByte = new FrameDecoder(1024);
    const out = [];
    for (const b of bytes) out.push(...byteByByte.push(Uint8Array.of(b)));
    expect(out.map((f) => f.id)).toEqual(frames.map((f) => f.id));
  });

  test("property: random frames in random chunks round-trip", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
            kind: fc.constantFrom(FrameKind.Request, FrameKind.Response, FrameKind.Error, FrameKind.Cancel),
            payload: fc.uint8Array({ maxLength: 300 }),
          }),
          { maxLength: 20 },
        ),
        fc.array(fc.nat({ max: 64 }), { maxLength: 30 }),
        (frames, cuts) => {
          const bytes = concat(frames.map((f) => encodeFrame(f.id, f.kind, f.payload)));
          const decoder = new FrameDecoder(300);
          const out = [];
          let at = 0;
          for (const cut of cuts) {
            out.push(...decoder.push(bytes.subarray(at, at + cut)));
            at += cut;
          }
          out.push(...decoder.push(bytes.subarray(at)));
          expect(out.length).toBe(frames.length);
          out.forEach((f, i) => {
            expect(f.id).toBe(frames[i].id);
            expect(f.kind).toBe(frames[i].kind);
            expect(Buffer.from(f.payload).equals(Buffer.from(frames[i].payload))).toBe(true);
          });
        },
      ),
    );
  });

  test("a frame above the limit is refused from its header, before its bytes arrive", () => {
    const decoder = new FrameDecoder(100);
    const big = encodeFrame(1, FrameKind.Request, new Uint8Array(1000));
    expect(() => decoder.push(big.subarray(0, 3))).toThrow(FrameError);
  });

  test("a frame at the limit passes", () => {
    const decoder = new FrameDecoder(100);
    expect(decoder.push(encodeFrame(2 ** 50, FrameKind.Response, new Uint8Array(100)))).toHaveLength(1);
  });

  test("garbage only ever raises FrameError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          new FrameDecoder(64).push(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
        }
      }),
    );
  });

  test("unknown kind and empty frame are errors", () => {
    expect(() => new FrameDecoder(64).push(Uint8Array.of(2, 1, 9))).toThrow(/kind/);
    expect(() => new FrameDecoder(64).push(Uint8Array.of(0))).toThrow(/empty/);
  });

  test("error payload round trip; a foreign payload becomes the message", () => {
    expect(decodeErrorPayload(encodeErrorPayload("CONSENT_DENIED", "no consent"))).toEqual({
      code: "CONSENT_DENIED",
      message: "no consent",
    });
    expect(decodeErrorPayload(encodeErrorPayload("X", "m".repeat(5000))).message).toHaveLength(1024);
    expect(decodeErrorPayload(Uint8Array.of(0x7f, 0x41)).message).toContain("A");
  });

  test("error payload carries the field; a payload without one (older peers) still decodes", () => {
    expect(decodeErrorPayload(encodeErrorPayload("NOT_FOUND", "account_ref: no such account", "account_ref"))).toEqual({
      code: "NOT_FOUND",
      message: "account_ref: no such account",
      field: "account_ref",
    });
    // A NUL inside the message cannot forge a field.
    expect(decodeErrorPayload(encodeErrorPayload("X", "a\0b"))).toEqual({ code: "X", message: "a b" });
    // What an older peer sends: code and message only.
    const older = Uint8Array.of(1, 0x58, ...new TextEncoder().encode("plain"));
    expect(decodeErrorPayload(older)).toEqual({ code: "X", message: "plain" });
  });

  test("varint length", () => {
    expect([0, 127, 128, 16383, 16384, 2 ** 35].map(varintLength)).toEqual([1, 1, 2, 2, 3, 6]);
  });
});
