import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { LengthPrefixedDecoder } from "@libp2p/utils";
import { installQuietLengthPrefixEnd, zeroWhenEmpty } from "../../../src/p2p/length-prefix-guard.js";

/** The noise layer's length prefix: 2 bytes big-endian, a RangeError when fewer are buffered. */
function uint16Decoder(calls: { empty: number; thrown: number }) {
  return (data: { byteLength: number; subarray?: (a: number, b: number) => Uint8Array }): number => {
    if (data.byteLength === 0) calls.empty++;
    if (data.byteLength < 2) {
      calls.thrown++;
      throw new RangeError("Could not decode int16BE");
    }
    const head = (data as { subarray(a: number, b: number): Uint8Array }).subarray(0, 2);
    return (head[0] << 8) | head[1];
  };
}

function framed(messages: Uint8Array[]): Uint8Array {
  return Buffer.concat(messages.flatMap((m) => [Uint8Array.of(m.length >> 8, m.length & 0xff), m]));
}

function decodeAll(chunks: Uint8Array[], calls: { empty: number; thrown: number }): number[][] {
  const decoder = new LengthPrefixedDecoder({ lengthDecoder: uint16Decoder(calls), encodingLength: () => 2 });
  const out: number[][] = [];
  for (const chunk of chunks) for (const msg of decoder.decode(chunk)) out.push([...msg.subarray()]);
  return out;
}

describe("quiet end of a length-prefixed read", () => {
  it("answers 0 for an empty buffer and defers to the decoder otherwise", () => {
    const calls = { empty: 0, thrown: 0 };
    const guarded = zeroWhenEmpty(uint16Decoder(calls));
    expect(guarded({ byteLength: 0 })).toBe(0);
    expect(calls.empty).toBe(0);
    const oneByte = { byteLength: 1, subarray: () => Uint8Array.of(1) };
    expect(() => guarded(oneByte)).toThrow(RangeError);
  });

  it("reads whole messages without a RangeError at their end; a split prefix still waits for its second byte", () => {
    installQuietLengthPrefixEnd();
    installQuietLengthPrefixEnd(); // idempotent
    const calls = { empty: 0, thrown: 0 };
    const bytes = framed([Uint8Array.of(1, 2, 3), Uint8Array.of(4)]);
    expect(decodeAll([bytes], calls)).toEqual([[1, 2, 3], [4]]);
    expect(calls).toEqual({ empty: 0, thrown: 0 });
    // The next message's prefix split over two reads.
    const next = framed([Uint8Array.of(9, 9)]);
    expect(decodeAll([bytes, next.subarray(0, 1), next.subarray(1)], calls)).toEqual([[1, 2, 3], [4], [9, 9]]);
    expect(calls).toEqual({ empty: 0, thrown: 1 });
  });

  it("yields the same messages however the bytes are cut into reads", () => {
    installQuietLengthPrefixEnd();
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (messages, cuts) => {
          const bytes = framed(messages);
          const at = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
          const chunks = [0, ...at].map((from, i, all) => bytes.subarray(from, all[i + 1] ?? bytes.length)).filter((c) => c.length > 0);
          expect(decodeAll(chunks, { empty: 0, thrown: 0 })).toEqual(messages.map((m) => [...m]));
        },
      ),
    );
  });
});
