import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import type { Command } from "commander";
import { SingleBar } from "cli-progress";
import { invalid } from "../../errors.js";
import type { Record as WireRecord } from "../../gen/creditmesh/v1/records.js";
import type { SubmitRecordsResponse } from "../../gen/creditmesh/v1/node.js";
import { connect } from "../client.js";
import { addClientOptions, type ClientFlags } from "../options.js";
import { readRecordFile } from "../record-file.js";

/** Batches sent but not yet acknowledged; bounds memory whatever the file size. */
const MAX_UNACKED_BATCHES = 8;
const SHOWN_REJECTIONS = 10;

interface Checkpoint {
  file: string;
  size: number;
  mtimeMs: number;
  /** Every record on or before this line is acknowledged (durable or rejected). */
  ackedThroughLine: number;
}

export function checkpointPath(file: string): string {
  return `${file}.ingest-checkpoint.json`;
}

function readCheckpoint(file: string): Checkpoint | undefined {
  const path = checkpointPath(file);
  if (!existsSync(path)) return undefined;
  const cp = JSON.parse(readFileSync(path, "utf8")) as Checkpoint;
  const st = statSync(file);
  // A file changed since the checkpoint would resume at the wrong place.
  if (cp.size !== st.size || cp.mtimeMs !== st.mtimeMs) {
    throw invalid("resume", `${file} changed since its checkpoint; ingest it without --resume`);
  }
  return cp;
}

/** Temp file + rename: a CLI killed mid-write leaves the previous checkpoint, never half of one. */
function writeCheckpoint(file: string, cp: Checkpoint): void {
  const tmp = `${checkpointPath(file)}.tmp`;
  writeFileSync(tmp, JSON.stringify(cp));
  renameSync(tmp, checkpointPath(file));
}

export function registerIngest(program: Command): void {
  addClientOptions(
    program
      .command("ingest")
      .description("stream accounts and repayments from a CSV or JSONL file to the node")
      .argument("<file>", "records file (.csv, .jsonl); format in docs/record-format.md"),
  )
    .option("-b, --batch-size <n>", "records per batch", "1000")
    .option("--resume", "continue after the last acknowledged batch of an earlier run of this file")
    .option("--quiet", "no progress bar")
    .action(async (file: string, opts: ClientFlags & { batchSize: string; resume?: boolean; quiet?: boolean }) => {
      const batchSize = Number(opts.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw invalid("batch_size", "an integer from 1 to 100000");
      const st = statSync(file);
      const checkpoint = opts.resume ? readCheckpoint(file) : undefined;
      const startLine = checkpoint ? checkpoint.ackedThroughLine + 1 : 1;
      const result = await ingestFile(file, { ...opts, batchSize, startLine, progress: !opts.quiet && process.stderr.isTTY }, (line) =>
        writeCheckpoint(file, { file, size: st.size, mtimeMs: st.mtimeMs, ackedThroughLine: line }),
      );
      if (checkpoint) process.stdout.write(`resumed after line ${checkpoint.ackedThroughLine}\n`);
      process.stdout.write(`accepted ${result.accepted}, rejected ${result.rejected} (${Math.round(result.recordsPerSec)} records/s)\n`);
      for (const r of result.firstRejections) process.stdout.write(`  line ${r.line}: ${r.field}: ${r.reason}\n`);
      if (result.rejected > result.firstRejections.length) {
        process.stdout.write(`  … and ${result.rejected - result.firstRejections.length} more\n`);
      }
      if (result.rejected === 0) rmSync(checkpointPath(file), { force: true });
      process.exitCode = result.rejected > 0 ? 1 : 0;
    });
}

export interface IngestResult {
  accepted: number;
  rejected: number;
  firstRejections: { line: number; field: string; reason: string }[];
  recordsPerSec: number;
}

/**
 * Streams a file as batches over SubmitRecords, keeping at most
 * MAX_UNACKED_BATCHES in flight; `onAck(line)` is told the last line covered
 * by each acknowledgement, in order, so a later run can resume after it.
 */
export async function ingestFile(
  file: string,
  opts: ClientFlags & { batchSize: number; startLine: number; progress: boolean },
  onAck: (throughLine: number) => void,
): Promise<IngestResult> {
  const conn = connect(opts);
  const stream = conn.client.submitRecords(conn.metadata);
  const pending: { lines: number[]; lastLine: number }[] = [];
  const result: IngestResult = { accepted: 0, rejected: 0, firstRejections: [], recordsPerSec: 0 };
  const total = opts.progress ? countHint(file) : 0;
  const bar = opts.progress ? new SingleBar({ format: "{bar} {value}/{total} records | {speed} records/s", hideCursor: true }) : undefined;
  bar?.start(total, 0, { speed: 0 });
  const started = performance.now();
  let done = 0;
  let waiter: (() => void) | undefined;

  const acked = new Promise<void>((resolve, reject) => {
    stream.on("data", (res: SubmitRecordsResponse) => {
      const batch = pending.shift();
      if (!batch) return reject(new Error("the node acknowledged a batch that was not sent"));
      result.accepted += res.accepted;
      result.rejected += res.rejected.length;
      for (const r of res.rejected) {
        if (result.firstRejections.length < SHOWN_REJECTIONS) {
          result.firstRejections.push({ line: batch.lines[r.index] ?? batch.lastLine, field: r.field, reason: r.reason });
        }
      }
      done += batch.lines.length;
      onAck(batch.lastLine);
      bar?.update(done, { speed: Math.round(done / ((performance.now() - started) / 1000)) });
      waiter?.();
    });
    stream.on("error", reject);
    stream.on("end", resolve);
  });
  acked.catch(() => waiter?.());

  const send = async (records: WireRecord[], lines: number[], lastLine: number) => {
    while (pending.length >= MAX_UNACKED_BATCHES) {
      await new Promise<void>((resolve) => (waiter = resolve));
      waiter = undefined;
    }
    pending.push({ lines, lastLine });
    if (!stream.write({ records })) await once(stream, "drain");
  };

  try {
    let records: WireRecord[] = [];
    let lines: number[] = [];
    let lastLine = opts.startLine - 1;
    for await (const item of readRecordFile(file, { startLine: opts.startLine })) {
      lastLine = item.line;
      if (item.error || !item.record) {
        // A line the file format cannot express as a record is reported like a server rejection.
        result.rejected++;
        if (result.firstRejections.length < SHOWN_REJECTIONS) {
          result.firstRejections.push({ line: item.line, field: item.error?.field ?? "line", reason: item.error?.reason ?? "unreadable" });
        }
        continue;
      }
      records.push(item.record);
      lines.push(item.line);
      if (records.length >= opts.batchSize) {
        await send(records, lines, lastLine);
        records = [];
        lines = [];
      }
    }
    if (records.length) await send(records, lines, lastLine);
    stream.end();
    await acked;
  } finally {
    bar?.stop();
    conn.close();
  }
  result.recordsPerSec = done / Math.max(1e-3, (performance.now() - started) / 1000);
  return result;
}

/** Lines in the file, for the progress bar (a CSV header makes it one too many; close enough). */
function countHint(file: string): number {
  const size = statSync(file).size;
  return size < 64 * 1024 * 1024 ? readFileSync(file).reduce((n, b) => (b === 10 ? n + 1 : n), 0) : Math.round(size / 120);
}
