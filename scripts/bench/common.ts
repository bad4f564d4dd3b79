/**
 * Small helpers shared by the benchmarks in this directory (statistics are in
 * stats.ts): memory of this process and of child nodes, a plain table printer, the
 * results file under bench/results/, and a node started as a child process.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readSecrets } from "../../src/config/secrets.js";
import { startNodeProcess, type NodeProcess } from "../../src/testnet/processes.js";
import { round } from "./stats.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const RESULTS_DIR = path.join(REPO_ROOT, "bench", "results");

// ---------------------------------------------------------------- memory

export const MB = 1024 * 1024;

export interface ProcMemory {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size since the process started (VmHWM), bytes. */
  peakRss: number;
}

/** VmRSS and VmHWM of a process from /proc (Linux); `undefined` once it is gone. */
export function readProcMemory(pid: number | "self" = "self"): ProcMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  };
  return { rss: kb("VmRSS"), peakRss: kb("VmHWM") };
}

/**
 * Samples a process's RSS every `intervalMs` and keeps the largest value, the
 * last one, and marks taken with `mark(name)`. With `useHwm` (the default),
 * VmHWM, the kernel's own peak since the process started, counts too, so a
 * spike between samples is not missed; turn it off to measure one phase of a
 * process that did other work before.
 */
export class RssSampler {
  private timer?: NodeJS.Timeout;
  peakRss = 0;
  lastRss = 0;
  peakHwm = 0;
  samples = 0;
  readonly marks: Record<string, number> = {};

  constructor(
    readonly pid: number | "self",
    private readonly opts: { intervalMs?: number; useHwm?: boolean } = {},
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.opts.intervalMs ?? 100);
    this.timer.unref();
    return this;
  }

  sample(): ProcMemory | undefined {
    const m = readProcMemory(this.pid);
    if (!m) return undefined;
    this.samples++;
    this.lastRss = m.rss;
    this.peakRss = Math.max(this.peakRss, m.rss);
    this.peakHwm = Math.max(this.peakHwm, m.peakRss);
    return m;
  }

  /** Records the current RSS under `name` (bytes). */
  mark(name: string): number {
    const m = this.sample();
    this.marks[name] = m?.rss ?? NaN;
    return this.marks[name];
  }

  /** Stops sampling after one last sample; returns the peak (VmHWM if known). */
  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.peak;
  }

  get peak(): number {
    return this.opts.useHwm === false ? this.peakRss : Math.max(this.peakRss, this.peakHwm);
  }
}

export const toMB = (bytes: number) => round(bytes / MB, 1);

/** Kernel clock ticks per second as reported in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** User + system CPU time a process has used so far, in ms (Linux); `undefined` once it is gone. */
export function readProcCpuMs(pid: number | "self" = "self"): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name may hold spaces; fields are counted after its closing ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the full line, 12 and 13 after the name.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

/**
 * Times the main thread of a process went to sleep and was woken again so
 * far (voluntary context switches, /proc/PID/status): for a node, the turns
 * its event loop waited for I/O. Under other load each wake-up costs a
 * scheduling delay, so a report's latency grows with the wake-ups on its path.
 */
export function readProcWakeups(pid: number | "self" = "self"): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

// ---------------------------------------------------------------- printing

/** Prints rows as an aligned text table; numbers are right-aligned. */
export function printTable(rows: readonly (readonly (string | number)[])[], out: NodeJS.WritableStream = process.stdout): void {
  const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? formatNumber(c) : c)));
  const widths: number[] = [];
  for (const r of cells) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  for (let ri = 0; ri < cells.length; ri++) {
    const line = cells[ri]
      .map((c, i) => (typeof rows[ri][i] === "number" ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
    out.write(line + "\n");
  }
}

/** 123456 → "123,456"; fractions keep up to two decimals. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return x.toLocaleString("en-US", { maximumFractionDigits: Number.isInteger(x) ? 0 : 2 });
}

// ---------------------------------------------------------------- results

/** Where and on what a benchmark ran, stored with its figures. */
export function environment(): Record<string, unknown> {
  let commit: string | undefined;
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    commit = undefined;
  }
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryMB: Math.round(totalmem() / MB),
    /** 1, 5 and 15 minute load averages when the results were written: other work on the machine skews figures. */
    loadAverage: loadavg().map((x) => round(x, 2)),
    commit,
  };
}

/**
 * Writes `bench/results/<name>.json` (or `file` if given): the figures with
 * the time and environment of the run. Returns the path written.
 */
export async function writeResults(name: string, figures: Record<string, unknown>, file?: string): Promise<string> {
  const out = file ? path.resolve(file) : path.join(RESULTS_DIR, `${name}.json`);
  await mkdir(path.dirname(out), { recursive: true });
  const doc = { benchmark: name, at: new Date().toISOString(), environment: environment(), ...figures };
  await writeFile(out, JSON.stringify(doc, null, 2) + "\n");
  return out;
}

// ---------------------------------------------------------------- temp dirs

export async function makeTempDir(prefix: string, parent = tmpdir()): Promise<{ dir: string; remove(): Promise<void> }> {
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------- child nodes

export interface ChildNode extends NodeProcess {
  /** The local operator key (all roles), from the node's secrets file. */
  apiKey: string;
  dataDir: string;
}

/**
 * Starts `creditmesh start` as a child process (the pid is the node itself, so
 * its memory and CPU can be read from /proc) with `config` written to
 * `<dir>/node.json`; data goes to `<dir>/data` unless the config says
 * otherwise. `nodeArgs` go to node before the script (e.g. `--cpu-prof`).
 */
export async function startChildNode(opts: {
  dir: string;
  config: Record<string, any>;
  nodeArgs?: string[];
  timeoutMs?: number;
}): Promise<ChildNode> {
  const dataDir = opts.config.storage?.dataDir ?? path.join(opts.dir, "data");
  const config = { ...opts.config, storage: { ...opts.config.storage, dataDir } };
  const configFile = path.join(opts.dir, "node.json");
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const node = await startNodeProcess(configFile, { cwd: REPO_ROOT, nodeArgs: opts.nodeArgs, timeoutMs: opts.timeoutMs, stderrLimit: 64 * 1024 });
  const secrets = readSecrets(config.storage.secretsFile ?? path.join(dataDir, "secrets.json"));
  const stop = node.stop;
  return { ...node, apiKey: secrets.localApiKey, dataDir, stop: (graceMs = 30_000) => stop(graceMs) };
}

/** A command-line count: a positive safe integer, else a usage error naming the flag (exit 2). */
export function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a positive integer, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}
