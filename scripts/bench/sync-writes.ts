/**
 * What one synced write costs on this disk when several processes make one
 * at the same instant, as the holders of one sequential report do (each
 * logs the query's inquiry in a synced LevelDB batch before it answers).
 * Child processes each hold a LevelDB (or a plain file); every round the
 * parent tells all of them at once to write ~600 bytes and sync, and each
 * times its own write. Printed per writer count: LevelDB synced batch,
 * append + fdatasync, and overwrite of preallocated space + fdatasync, with
 * each figure's ratio to one process alone (the floor, same run).
 *
 *   npm run bench -- sync-writes [--rounds N] [--writers 1,5]
 */
import { fork, type ChildProcess } from "node:child_process";
import { closeSync, fdatasyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Level } from "level";
import { makeTempDir, positiveInt, printTable, REPO_ROOT, writeResults } from "./common.js";
import { summarize, type Summary } from "./stats.js";

const KINDS = ["level", "append", "prealloc"] as const;
type Kind = (typeof KINDS)[number];
const PAYLOAD_BYTES = 600;
const PREALLOC_BYTES = 64 * 1024 * 1024;
const WARMUP_ROUNDS = 20;

async function child(kind: Kind, dir: string): Promise<void> {
  const payload = Buffer.alloc(PAYLOAD_BYTES, 7);
  let write: () => Promise<void>;
  let close: () => Promise<void>;
  if (kind === "level") {
    const db = new Level<string, Buffer>(path.join(dir, "db"), { valueEncoding: "buffer" });
    await db.open();
    let i = 0;
    write = () => db.batch([{ type: "put", key: `k${i++}`, value: payload }], { sync: true });
    close = () => db.close();
  } else {
    const fd = openSync(path.join(dir, "file"), kind === "append" ? "a" : "w+");
    let position = 0;
    if (kind === "prealloc") {
      // Written, not just reserved: an overwrite then changes no file size or extent.
      writeSync(fd, Buffer.alloc(PREALLOC_BYTES));
      fdatasyncSync(fd);
    }
    write = async () => {
      if (kind === "append") writeSync(fd, payload);
      else writeSync(fd, payload, 0, payload.length, (position = (position + payload.length) % (PREALLOC_BYTES - payload.length)));
      fdatasyncSync(fd);
    };
    close = async () => closeSync(fd);
  }
  process.on("message", (m: string) => {
    if (m === "stop") {
      void close().then(() => process.exit(0));
      return;
    }
    const t0 = performance.now();
    void write().then(() => process.send!(performance.now() - t0));
  });
  process.send!("ready");
}

const once = <T>(c: ChildProcess): Promise<T> => new Promise((resolve) => c.once("message", (m) => resolve(m as T)));

async function measure(kind: Kind, writers: number, rounds: number, dir: string): Promise<Summary> {
  const self = fileURLToPath(import.meta.url);
  const children = Array.from({ length: writers }, (_, i) =>
    fork(self, ["--child", kind, path.join(dir, `${kind}-${writers}-${i}`)], { execArgv: ["--import", "tsx"], cwd: REPO_ROOT }),
  );
  await Promise.all(children.map((c) => once(c)));
  const samples: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + rounds; round++) {
    const times = await Promise.all(
      children.map((c) => {
        const answered = once<number>(c);
        c.send("go");
        return answered;
      }),
    );
    if (round >= WARMUP_ROUNDS) samples.push(...times);
    // Idle between rounds, as between sequential reports.
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(children.map((c) => new Promise((r) => (c.once("exit", r), c.send("stop")))));
  return summarize(samples, 3);
}

if (process.argv[2] === "--child") {
  mkdirSync(process.argv[4]!, { recursive: true });
  await child(process.argv[3] as Kind, process.argv[4]!);
} else {
  const { values } = parseArgs({ options: { rounds: { type: "string", default: "300" }, writers: { type: "string", default: "1,5" }, out: { type: "string" } } });
  const rounds = positiveInt("rounds", values.rounds);
  // One writer alone is the floor every other count is compared with.
  const counts = [...new Set([1, ...values.writers.split(",").map((w) => positiveInt("writers", w))])];
  const tmp = await makeTempDir("cm-sync-writes-");
  const results: Record<string, Record<string, Summary>> = {};
  try {
    for (const kind of KINDS) {
      results[kind] = {};
      for (const writers of counts) results[kind][String(writers)] = await measure(kind, writers, rounds, tmp.dir);
    }
  } finally {
    await tmp.remove();
  }
  const rows: (string | number)[][] = [["synced write of 600 B", "writers", "p50 ms", "p90 ms", "p99 ms", "p50 ÷ one writer"]];
  for (const kind of KINDS) {
    const alone = results[kind]!["1"]!.p50;
    for (const writers of counts) {
      const s = results[kind]![String(writers)]!;
      rows.push([{ level: "LevelDB batch, sync", append: "append + fdatasync", prealloc: "overwrite + fdatasync" }[kind], writers, s.p50, s.p90, s.p99, Math.round((s.p50 / alone) * 100) / 100]);
    }
  }
  printTable(rows);
  const file = await writeResults("sync-writes", { rounds, payload_bytes: PAYLOAD_BYTES, writers: counts, ms: results }, values.out);
  process.stdout.write(`results: ${path.relative(REPO_ROOT, file)}\n`);
}
