/**
 * The frame that request/response protocols carry on one long-lived stream:
 *
 *   varint length | varint id | u8 kind | payload
 *
 * `length` counts everything after itself. Requests and their answers share an
 * id, so many requests can be in flight and answered in any order. No protobuf
 * here: the payload already is one, and this header is a dozen lines to parse.
 */

export const FrameKind = {
  Request: 0,
  Response: 1,
  Error: 2,
  /** The requester gave up on this id; the handler's signal is aborted. */
  Cancel: 3,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Frame {
  id: number;
  kind: FrameKind;
  payload: Uint8Array;
}

/** Bytes a frame adds around its payload at most (length varint + id varint + kind). */
export const MAX_FRAME_OVERHEAD = 8 + 8 + 1;

export class FrameError extends Error {
  override name = "FrameError";
}

const MAX_VARINT_BYTES = 8; // 56 bits: every safe integer fits

export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Uint8Array, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[offset++] = n;
  return offset;
}

/** [value, bytes read], or undefined when `buf` ends inside the varint. */
function readVarint(buf: Uint8Array, offset: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (offset + i >= buf.length) return undefined;
    const b = buf[offset + i];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw new FrameError("varint out of range");
      return [value, i + 1];
    }
    scale *= 128;
  }
  throw new FrameError("varint too long");
}

export function encodeFrame(id: number, kind: FrameKind, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const inner = varintLength(id) + 1 + payload.length;
  const out = Buffer.allocUnsafe(varintLength(inner) + inner);
  let o = writeVarint(out, 0, inner);
  o = writeVarint(out, o, id);
  out[o++] = kind;
  out.set(payload, o);
  return out;
}

function decodeFrameBody(body: Uint8Array): Frame {
  const id = readVarint(body, 0);
  if (id === undefined || id[1] >= body.length) throw new FrameError("truncated frame header");
  const kind = body[id[1]];
  if (kind > FrameKind.Cancel) throw new FrameError(`unknown frame kind ${kind}`);
  return { id: id[0], kind: kind as FrameKind, payload: body.subarray(id[1] + 1) };
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** What an error frame carries: the stable code, a message for people, and the offending field if any. */
export interface ErrorPayload {
  code: string;
  message: string;
  field?: string;
}

/**
 * An error frame's payload: `varint code length | code | message [| 0x00 | field]`.
 * The field rides after a NUL that messages never contain, so a decoder that
 * predates it still reads the code and a message.
 */
export function encodeErrorPayload(code: string, message: string, field?: string): Uint8Array {
  const codeBytes = utf8.encode(code);
  const text = message.slice(0, 1024).replaceAll("\0", " ") + (field ? `\0${field.replaceAll("\0", " ").slice(0, 128)}` : "");
  const messageBytes = utf8.encode(text);
  const out = new Uint8Array(varintLength(codeBytes.length) + codeBytes.length + messageBytes.length);
  const o = writeVarint(out, 0, codeBytes.length);
  out.set(codeBytes, o);
  out.set(messageBytes, o + codeBytes.length);
  return out;
}

export function decodeErrorPayload(payload: Uint8Array): ErrorPayload {
  const len = readVarint(payload, 0);
  if (len === undefined || len[1] + len[0] > payload.length) return { code: "", message: fromUtf8.decode(payload) };
  const text = fromUtf8.decode(payload.subarray(len[1] + len[0]));
  const nul = text.indexOf("\0");
  return {
    code: fromUtf8.decode(payload.subarray(len[1], len[1] + len[0])),
    message: nul < 0 ? text : text.slice(0, nul),
    ...(nul < 0 || nul === text.length - 1 ? {} : { field: text.slice(nul + 1) }),
  };
}

/**
 * Turns the byte chunks a stream delivers into frames. Memory is bounded by
 * one frame: a length above `maxFrameBytes` is refused before its bytes are
 * buffered.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes of a frame that has started but not yet arrived in full (0 between frames). */
  get pendingBytes(): number {
    return this.#buffered;
  }

  /** Appends a chunk and returns every frame it completed; throws FrameError on a bad stream. */
  push(chunk: Uint8Array): Frame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.#buffered === 0) break;
      const header = readVarint(this.#peek(MAX_VARINT_BYTES), 0);
      if (header === undefined) break;
      const [length, headerBytes] = header;
      if (length > this.#maxFrameBytes + MAX_FRAME_OVERHEAD) {
        throw new FrameError(`frame of ${length} bytes exceeds the limit of ${this.#maxFrameBytes}`);
      }
      if (length === 0) throw new FrameError("empty frame");
      if (this.#buffered < headerBytes + length) break;
      this.#consume(headerBytes);
      frames.push(decodeFrameBody(this.#take(length)));
    }
    return frames;
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.length >= n || this.#chunks.length === 1) return first.subarray(0, n);
    const out = new Uint8Array(Math.min(n, this.#buffered));
    let o = 0;
    for (const c of this.#chunks) {
      const part = c.subarray(0, out.length - o);
      out.set(part, o);
      o += part.length;
      if (o === out.length) break;
    }
    return out;
  }

  #consume(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const first = this.#chunks[0];
      if (first.length <= n) {
        this.#chunks.shift();
        n -= first.length;
      } else {
        this.#chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.length >= n) {
      const out = first.subarray(0, n);
      this.#consume(n);
      return out;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.#chunks[0];
      const part = c.subarray(0, n - o);
      out.set(part, o);
      o += part.length;
      this.#consume(part.length);
    }
    return out;
  }
}
