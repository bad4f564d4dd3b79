import { decodedChunks, type FileEncoding } from "./record-file-decode.js";

export interface PhysicalLine {
  line: number;
  text: string;
  /** Set instead of `text` being whole when the line exceeded the limit. */
  tooLong?: true;
}

/**
 * Splits a file into physical lines without holding more than one line (plus
 * one read chunk) in memory. A line longer than `maxChars` is reported rather
 * than buffered, so a file without newlines cannot exhaust memory. Lines
 * before `startLine` are counted but not materialized.
 */
export async function* readLines(
  path: string,
  opts: { startLine?: number; maxChars?: number; signal?: AbortSignal; encoding?: FileEncoding } = {},
): AsyncGenerator<PhysicalLine> {
  const startLine = opts.startLine ?? 1;
  const maxChars = opts.maxChars ?? 1 << 20;
  let line = 1;
  let pending = "";
  let tooLong = false;
  for await (const text of decodedChunks(path, opts.encoding ?? "utf-8", opts.signal)) {
    let from = 0;
    for (;;) {
      const nl = text.indexOf("\n", from);
      if (nl < 0) break;
      if (line >= startLine) {
        if (tooLong) yield { line, text: "", tooLong: true };
        else yield { line, text: stripCr(pending + text.slice(from, nl)) };
      }
      pending = "";
      tooLong = false;
      from = nl + 1;
      line++;
    }
    if (line < startLine || tooLong) continue;
    pending += text.slice(from);
    if (pending.length > maxChars) {
      pending = "";
      tooLong = true;
    }
  }
  if (line >= startLine && (tooLong || pending.length > 0)) {
    yield tooLong ? { line, text: "", tooLong: true } : { line, text: stripCr(pending) };
  }
}

function stripCr(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}
