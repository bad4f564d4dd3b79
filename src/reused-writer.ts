import { BinaryWriter } from "@bufbuild/protobuf/wire";

/** A writer whose buffer grew past this is dropped after use, so one large message does not pin its size for good. */
const KEEP_BYTES = 64 * 1024;

/**
 * A protobuf writer kept for the encodings of one call site. A generated
 * encode() starts from an empty writer whose buffer doubles (each time
 * zero-filled and copied) until the message fits: for a signed answer of a
 * few KB that is over half of its encoding time. Encoding is synchronous, so
 * two encodings never share the writer at once; each result is a copy of
 * its own.
 */
export class ReusedWriter {
  #writer = new BinaryWriter();

  encode(write: (writer: BinaryWriter) => BinaryWriter): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = write(this.#writer).finish();
    } catch (err) {
      // finish() resets the position: a failed encoding leaves nothing behind for the next one.
      this.#writer.finish();
      throw err;
    }
    if (bytes.length > KEEP_BYTES) this.#writer = new BinaryWriter();
    return bytes;
  }
}
