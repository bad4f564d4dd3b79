import { LengthPrefixedDecoder } from "@libp2p/utils";

/**
 * libp2p's LengthPrefixedDecoder (@libp2p/utils 7; the noise layer reads
 * every encrypted message through one) learns that its buffer holds no
 * further length prefix by calling the length decoder on it, which throws a
 * RangeError, and catching that. So every message read ends in building an
 * error with a stack trace ~20 frames deep: a few per cent of a node's CPU.
 *
 * Here each decoder's length decoder first answers 0 for an empty buffer,
 * which the decoder's own loop takes as "a prefix longer than what is
 * buffered" and stops on, exactly where the RangeError stopped it. Buffers
 * holding part of a prefix still go to the library's decoder (and its
 * RangeError), as do all the others.
 */
export function installQuietLengthPrefixEnd(): void {
  const proto = LengthPrefixedDecoder.prototype as unknown as DecoderInternals & { [installed]?: true };
  if (proto[installed]) return;
  const decode = proto.decode;
  proto.decode = function guardedDecode(this: DecoderInternals, buf: Uint8Array) {
    if (!this[guarded]) {
      this.lengthDecoder = zeroWhenEmpty(this.lengthDecoder);
      this[guarded] = true;
    }
    return decode.call(this, buf);
  };
  proto[installed] = true;
}

/** A length decoder that answers 0 for an empty buffer instead of throwing. */
export function zeroWhenEmpty(lengthDecoder: LengthDecoder): LengthDecoder {
  return (data) => (data.byteLength === 0 ? 0 : lengthDecoder(data));
}

type LengthDecoder = (data: { byteLength: number }) => number;

const installed = Symbol.for("creditmesh.lengthPrefix.quietEnd");
const guarded = Symbol.for("creditmesh.lengthPrefix.guarded");

/** The fields the patch touches (private in the library's types). */
interface DecoderInternals {
  lengthDecoder: LengthDecoder;
  decode(buf: Uint8Array): Generator<unknown>;
  [guarded]?: true;
}
