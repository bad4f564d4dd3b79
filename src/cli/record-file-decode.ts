import { createReadStream } from "node:fs";
import iconv from "iconv-lite";
import { CreditMeshError } from "../errors.js";

/** Encodings a furnishing file may be in; UTF-8 is checked strictly, the others are decoded by iconv-lite. */
export const FILE_ENCODINGS = ["utf-8", "gb18030", "gbk"] as const;
export type FileEncoding = (typeof FILE_ENCODINGS)[number];

export function fileEncodingOf(text: string | undefined): FileEncoding {
  const e = (text ?? "utf-8").trim().toLowerCase().replace(/^utf8$/, "utf-8");
  if (!(FILE_ENCODINGS as readonly string[]).includes(e)) {
    throw new CreditMeshError("VALIDATION_FAILED", `encoding: must be one of ${FILE_ENCODINGS.join(", ")}, got ${JSON.stringify(text)}`, { field: "encoding" });
  }
  return e as FileEncoding;
}

/** Where a file stops being text: 1-based line, 0-based byte offset in the file. */
export class FileEncodingError extends CreditMeshError {
  constructor(
    readonly line: number,
    readonly byteOffset: number,
    reason: string,
  ) {
    super("VALIDATION_FAILED", `line ${line}: ${reason}`, { field: "encoding" });
  }
}

const REPLACEMENT = 0xfffd;


/**
 * Byte offset in `bytes` of the first sequence that is not UTF-8, found by a
 * lenient decode: a U+FFFD that the file did not spell as EF BF BD marks it.
 */
function firstInvalidUtf8(bytes: Buffer): number {
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  let offset = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === REPLACEMENT && !(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) return offset;
    offset += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes.length;
}

function firstNewline(bytes: Buffer): number {
  const i = bytes.indexOf(10);
  return i < 0 ? bytes.length : i;
}

function countNewlines(bytes: Uint8Array, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (bytes[i] === 10) n++;
  return n;
}

function hex(b: number | undefined): string {
  return b === undefined ? "end of file" : `0x${b.toString(16).padStart(2, "0").toUpperCase()}`;
}

/**
 * The text of a file, chunk by chunk, decoded from `encoding` with any BOM
 * dropped. Invalid UTF-8 and NUL bytes (a binary file) throw a
 * FileEncodingError naming the line and byte offset: a garbled name must not
 * be stored, and one that decodes to U+FFFD would be.
 */
export async function* decodedChunks(path: string, encoding: FileEncoding, signal?: AbortSignal): AsyncGenerator<string> {
  const stream = createReadStream(path, { highWaterMark: 1 << 16, signal });
  const utf8 = encoding === "utf-8" ? new TextDecoder("utf-8", { fatal: true }) : undefined;
  const other = encoding === "utf-8" ? undefined : iconv.getDecoder(encoding, { stripBOM: true });
  let consumed = 0;
  let lines = 0;
  // Bytes of a sequence split across chunks, kept so an error can be located exactly.
  let carry: Buffer = Buffer.alloc(0);
  let first = true;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    // A NUL byte in the first line means a binary file: no header or record starts that way.
    const nul = lines === 0 ? chunk.subarray(0, firstNewline(chunk)).indexOf(0) : -1;
    if (nul >= 0) {
      throw new FileEncodingError(1, consumed + nul, `header: not a text file (a NUL byte at byte offset ${consumed + nul}); expected CSV or JSONL text`);
    }
    let text: string;
    if (utf8) {
      try {
        text = utf8.decode(chunk, { stream: true });
      } catch {
        const bytes = Buffer.concat([carry, chunk]);
        const at = firstInvalidUtf8(bytes);
        const base = consumed - carry.length;
        const line = lines - countNewlines(carry, carry.length) + countNewlines(bytes, at) + 1;
        const what = line === 1 ? "header: not UTF-8 text (a binary file?)" : "invalid UTF-8";
        throw new FileEncodingError(
          line,
          base + at,
          `${what} at byte offset ${base + at} (byte ${hex(bytes[at])}); if the file is GB18030 or GBK, pass --encoding gb18030`,
        );
      }
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      carry = incompleteTail(chunk);
    } else {
      text = other!.write(chunk);
    }
    first = false;
    consumed += chunk.length;
    lines += countNewlines(chunk, chunk.length);
    if (text) yield text;
  }
  if (utf8) {
    try {
      const rest = utf8.decode();
      if (rest) yield rest;
    } catch {
      throw new FileEncodingError(lines + 1, consumed - carry.length, `invalid UTF-8 at byte offset ${consumed - carry.length} (the file ends inside a character)`);
    }
  } else {
    const rest = other!.end();
    if (rest) yield rest;
  }
}

/** The bytes at the end of a chunk that start a multi-byte sequence not yet complete. */
function incompleteTail(chunk: Buffer): Buffer {
  for (let back = 1; back <= 3 && back <= chunk.length; back++) {
    const b = chunk[chunk.length - back]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? chunk.subarray(chunk.length - back) : Buffer.alloc(0);
  }
  return Buffer.alloc(0);
}

/** Reads the whole file once to check it decodes, before anything is sent: a bad byte at the end must not leave a half-stored file. */
export async function checkFileDecodes(path: string, encoding: FileEncoding, signal?: AbortSignal): Promise<void> {
  for await (const _ of decodedChunks(path, encoding, signal)) {
    // decoding is the check
  }
}
