import { extname } from "node:path";
import { invalid } from "../errors.js";
import type { Record } from "../gen/creditmesh/v1/records.js";
import { readCsv } from "./record-file-csv.js";
import type { FileEncoding } from "./record-file-decode.js";
import { readJsonl } from "./record-file-jsonl.js";

/**
 * One record of a furnishing file, or why that line could not become one.
 * `line` is the 1-based physical line where the record starts (the CSV header
 * is line 1), which is what people see in an editor and what `startLine`
 * resumes from.
 */
export interface RecordFileItem {
  line: number;
  record?: Record;
  error?: { field: string; reason: string };
}

export interface ReadRecordFileOptions {
  /** Skip records that start before this line (resume after the last acknowledged one). */
  startLine?: number;
  signal?: AbortSignal;
  /** The file's character encoding; UTF-8 (the default) is checked strictly. */
  encoding?: FileEncoding;
}

export type RecordFileFormat = "csv" | "jsonl";

const FORMATS: { [ext: string]: RecordFileFormat } = { ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl" };

export function recordFileFormat(path: string): RecordFileFormat | undefined {
  return FORMATS[extname(path).toLowerCase()];
}

/**
 * Streams the records of a CSV or JSONL furnishing file. Only the file format
 * is checked here (shape, types the wire can carry, enum names); field rules
 * are the server's, which answers per record. Throws a VALIDATION_FAILED error
 * at once for an unsupported extension, and while iterating a FileEncodingError
 * (bytes that are not text in the encoding) and I/O errors.
 */
export function readRecordFile(path: string, opts: ReadRecordFileOptions = {}): AsyncIterable<RecordFileItem> {
  const format = recordFileFormat(path);
  if (format === undefined) {
    throw invalid("file", `unsupported file type ${JSON.stringify(extname(path))}; use .csv, .jsonl or .ndjson`);
  }
  const startLine = opts.startLine ?? 1;
  if (!Number.isInteger(startLine) || startLine < 1) {
    throw invalid("start_line", `expected a line number ≥ 1, got ${startLine}`);
  }
  return format === "csv" ? readCsv(path, startLine, opts.signal, opts.encoding) : readJsonl(path, startLine, opts.signal, opts.encoding);
}
