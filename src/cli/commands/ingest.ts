import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { status as Status } from "@grpc/grpc-js";
import type { Command } from "commander";
import { SingleBar } from "cli-progress";
import { CreditMeshError, invalid } from "../../errors.js";
import type { Record as WireRecord } from "../../gen/creditmesh/v1/records.js";
import type { SubmitRecordsResponse } from "../../gen/creditmesh/v1/node.js";
import { connect } from "../client.js";
import { addClientOptions, type ClientFlags } from "../options.js";
import { checkFileDecodes, FILE_ENCODINGS, fileEncodingOf, type FileEncoding } from "../record-file-decode.js";
import { readRecordFile, recordFileFormat } from "../record-file.js";

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
    .option("--encoding <encoding>", `the file's character encoding: ${FILE_ENCODINGS.join(", ")} (UTF-8 is checked strictly)`, "utf-8")
    .option("--resume", "continue after the last acknowledged batch of an earlier run of this file")
    .option("--quiet", "no progress bar")
    .action(async (file: string, opts: ClientFlags & { batchSize: string; encoding: string; resume?: boolean; quiet?: boolean }) => {
      const batchSize = Number(opts.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw invalid("batch_size", "an integer from 1 to 100000");
      const encoding = fileEncodingOf(opts.encoding);
      if (!existsSync(file)) throw invalid("file", `${file} does not exist`);
      const st = statSync(file);
      const checkpoint = opts.resume ? readCheckpoint(file) : undefined;
      const startLine = checkpoint ? checkpoint.ackedThroughLine + 1 : 1;
      // Every byte is checked before the first record is sent: a bad one near the end must not leave half the file stored.
      await checkFileDecodes(file, encoding);
      let ackedThrough = checkpoint?.ackedThroughLine ?? 0;
      let result: IngestResult;
      try {
        result = await ingestFile(file, { ...opts, encoding, batchSize, startLine, progress: !opts.quiet && process.stderr.isTTY }, (line) => {
          ackedThrough = line;
          writeCheckpoint(file, { file, size: st.size, mtimeMs: st.mtimeMs, ackedThroughLine: line });
        });
      } catch (err) {
        if (!(err instanceof NodeLost)) throw err;
        const done = ackedThrough > 0 ? `every record through line ${ackedThrough} is acknowledged` : "no record was acknowledged";
        throw new CreditMeshError("UNAVAILABLE", `lost the node at ${err.address} (${err.why}); ${done}. Once it is back, run: ${resumeCommand()}`, {
          cause: err.cause,
        });
      }
      if (checkpoint) process.stdout.write(`resumed after line ${checkpoint.ackedThroughLine}\n`);
      process.stdout.write(`accepted ${result.accepted}, rejected ${result.rejected} (${Math.round(result.recordsPerSec)} records/s)\n`);
      for (const r of result.firstRejections) process.stdout.write(`  line ${r.line}: ${r.field}: ${r.reason}\n`);
      if (result.rejected > result.firstRejections.length) {
        process.stdout.write(`  … and ${result.rejected - result.firstRejections.length} more\n`);
      }
      if (result.repaymentsBeforeAccount > 0) {
        const n = result.repaymentsBeforeAccount;
        process.stdout.write(`  ${n} repayment${n === 1 ? " comes" : "s come"} before ${n === 1 ? "its" : "their"} account's line, which the node took later: ingest the file again (without --resume) and ${n === 1 ? "it goes" : "they go"} in; an export should put each account before its repayments\n`);
      }
      if (result.rejected === 0) rmSync(checkpointPath(file), { force: true });
      process.exitCode = result.rejected > 0 ? 1 : 0;
    });
}

/** This very command line with `--resume`, quoted for a POSIX shell, so that it can be pasted as printed. */
export function resumeCommand(argv: readonly string[] = process.argv.slice(2)): string {
  const args = argv.includes("--resume") ? [...argv] : [...argv, "--resume"];
  return ["creditmesh", ...args].map(shellQuote).join(" ");
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The stream to the node failed: the node died, restarted or went away. */
class NodeLost extends Error {
  constructor(
    readonly address: string,
    readonly why: string,
    cause: unknown,
  ) {
    super(`lost the node at ${address}: ${why}`, { cause });
  }
}

export interface IngestResult {
  accepted: number;
  rejected: number;
  firstRejections: { line: number; field: string; reason: string }[];
  recordsPerSec: number;
  /** Repayments refused because their account came later in the file (and was accepted there): sent again, they go in. */
  repaymentsBeforeAccount: number;
}

/** Accounts and repayments remembered so that a rejection can say why (an account rejected, or sent later): bounded for huge files. */
const MAX_REMEMBERED = 100_000;
const NOT_FURNISHED = /^no account with this account_id has been furnished/;

function accountIdOf(record: WireRecord): string {
  return record.kind?.value.accountId ?? "";
}

/**
 * Streams a file as batches over SubmitRecords, keeping at most
 * MAX_UNACKED_BATCHES in flight; `onAck(line)` is told the last line covered
 * by each acknowledgement, in order, so a later run can resume after it.
 * Throws NodeLost as soon as the stream fails, whatever it was waiting for.
 */
export async function ingestFile(
  file: string,
  opts: ClientFlags & { batchSize: number; startLine: number; progress: boolean; encoding?: FileEncoding },
  onAck: (throughLine: number) => void,
): Promise<IngestResult> {
  const conn = connect(opts);
  let stream: ReturnType<typeof conn.client.submitRecords> | undefined;
  const pending: { lines: number[]; accountIds: string[]; kinds: string[]; lastLine: number }[] = [];
  const rejectedAccounts = new Map<string, number>();
  // Repayments refused for want of their account (line → account_id), and where each account record was: a file exported repayments first.
  const orphans = new Map<number, string>();
  const accountLines = new Map<string, number>();
  const result: IngestResult = { accepted: 0, rejected: 0, firstRejections: [], recordsPerSec: 0, repaymentsBeforeAccount: 0 };
  const total = opts.progress ? countHint(file) : 0;
  const bar = opts.progress ? new SingleBar({ format: "{bar} {value}/{total} records | {speed} records/s", hideCursor: true }) : undefined;
  bar?.start(total, 0, { speed: 0 });
  const started = performance.now();
  let done = 0;
  let failed: Error | undefined;
  let completed = false;
  let wake: (() => void) | undefined;
  let acked: Promise<void> = Promise.resolve();

  const reject = (line: number, field: string, reason: string) => {
    result.rejected++;
    if (result.firstRejections.length < SHOWN_REJECTIONS) result.firstRejections.push({ line, field, reason });
  };

  const open = () => {
    const s = conn.client.submitRecords(conn.metadata);
    acked = new Promise<void>((resolve, rejectAcks) => {
      s.on("data", (res: SubmitRecordsResponse) => {
        const batch = pending.shift();
        if (!batch) return rejectAcks(new Error("the node acknowledged a batch that was not sent"));
        result.accepted += res.accepted;
        for (const r of res.rejected) {
          const line = batch.lines[r.index] ?? batch.lastLine;
          const accountId = batch.accountIds[r.index] ?? "";
          if (batch.kinds[r.index] === "account" && rejectedAccounts.size < MAX_REMEMBERED) rejectedAccounts.set(accountId, line);
          const cause = rejectedAccounts.get(accountId);
          const notFurnished = r.field.endsWith(".account_id") && NOT_FURNISHED.test(r.reason);
          if (notFurnished && cause === undefined && batch.kinds[r.index] === "repayment" && orphans.size < MAX_REMEMBERED) orphans.set(line, accountId);
          const reason = cause !== undefined && notFurnished ? `account ${accountId} was rejected on line ${cause}` : r.reason;
          reject(line, r.field, reason);
        }
        done += batch.lines.length;
        onAck(batch.lastLine);
        bar?.update(done, { speed: Math.round(done / ((performance.now() - started) / 1000)) });
        wake?.();
      });
      s.on("error", (err: Error & { code?: number; details?: string }) => {
        // A node that was never reached is explained as such by the caller; one lost mid-file leaves a resume point.
        const neverReached = done === 0 && /ECONNREFUSED|No connection established/.test(err.details ?? "");
        failed ??= err.code === Status.UNAVAILABLE && !neverReached ? new NodeLost(conn.address, err.details || err.message, err) : err;
        rejectAcks(failed);
        wake?.();
      });
      s.on("end", resolve);
    });
    acked.catch(() => undefined);
    return s;
  };

  const send = async (records: WireRecord[], lines: number[], lastLine: number) => {
    stream ??= open();
    while (pending.length >= MAX_UNACKED_BATCHES && !failed) await new Promise<void>((resolve) => (wake = resolve));
    if (failed) throw failed;
    const kinds = records.map((r) => r.kind?.$case ?? "");
    pending.push({ lines, accountIds: records.map(accountIdOf), kinds, lastLine });
    kinds.forEach((kind, i) => {
      const accountId = accountIdOf(records[i]);
      if (kind === "account" && accountLines.size < MAX_REMEMBERED && !accountLines.has(accountId)) accountLines.set(accountId, lines[i]);
    });
    if (!stream.write({ records })) await Promise.race([once(stream, "drain"), acked]);
  };

  try {
    let records: WireRecord[] = [];
    let lines: number[] = [];
    let lastLine = opts.startLine - 1;
    for await (const item of readRecordFile(file, { startLine: opts.startLine, encoding: opts.encoding })) {
      if (failed) throw failed;
      if (item.error?.field === "header" || item.error?.field === "file") {
        // Nothing after a bad header can be read right; what was sent before it stays acknowledged.
        throw new CreditMeshError("VALIDATION_FAILED", `line ${item.line}: ${item.error.field}: ${item.error.reason}`, { field: item.error.field });
      }
      lastLine = item.line;
      if (item.error || !item.record) {
        // A line the file format cannot express as a record is reported like a server rejection.
        reject(item.line, item.error?.field ?? "line", item.error?.reason ?? "unreadable");
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
    if (stream) {
      stream.end();
      await acked;
    }
    completed = true;
  } catch (err) {
    // Whichever wait noticed first, the stream's own failure is the one to report.
    throw failed ?? err;
  } finally {
    bar?.stop();
    if (!completed) stream?.cancel();
    conn.close();
  }
  result.recordsPerSec = done / Math.max(1e-3, (performance.now() - started) / 1000);
  for (const [line, accountId] of orphans) {
    const accountLine = accountLines.get(accountId);
    if (accountLine !== undefined && accountLine > line && !rejectedAccounts.has(accountId)) result.repaymentsBeforeAccount++;
  }
  return result;
}

/** Records in the file, for the progress bar: its lines, less a CSV header. */
function countHint(file: string): number {
  const size = statSync(file).size;
  const lines = size < 64 * 1024 * 1024 ? readFileSync(file).reduce((n, b) => (b === 10 ? n + 1 : n), 0) : Math.round(size / 120);
  return Math.max(0, lines - (recordFileFormat(file) === "csv" ? 1 : 0));
}
