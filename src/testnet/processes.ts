import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../config/load.js";
import { readRuntime, type RuntimeInfo } from "../config/runtime-file.js";
import { CreditMeshError } from "../errors.js";

/**
 * The compiled CLI that every node process runs, found from this file in src/
 * (tests, benchmarks) as in dist/ (the installed command): both sit one level
 * under the package root.
 */
export const CLI_MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
/** Whether process states can be read from /proc (Linux with procfs mounted). */
const PROC_STAT = process.platform === "linux" && existsSync("/proc/self/stat");

export interface CliProcessOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The whole environment instead of this process's plus `env`. */
  replaceEnv?: NodeJS.ProcessEnv;
  /** Options for node itself, before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** stdout and stderr appended to this file; else both are pipes. */
  logFile?: string;
  /** Its own process group, outliving the process that started it (`testnet up`). */
  detached?: boolean;
  /** A Node IPC channel to the child as well (`creditmesh host` answers metrics requests on it). */
  ipc?: boolean;
}

/**
 * The one place that starts `creditmesh` processes (nodes and one-shot
 * commands alike): `node dist/cli/main.js ARGS`, so that the pid held is the
 * CLI's own and what runs is what a user runs.
 */
export function spawnCli(args: string[], opts: CliProcessOptions = {}): ChildProcess {
  if (!existsSync(CLI_MAIN)) throw new CreditMeshError("UNAVAILABLE", `${CLI_MAIN} is missing; run \`npm run build\``);
  const fd = opts.logFile === undefined ? undefined : openSync(opts.logFile, "a");
  try {
    return spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI_MAIN, ...args], {
      cwd: opts.cwd,
      detached: opts.detached ?? false,
      stdio: [...(fd === undefined ? ["ignore", "pipe", "pipe"] as const : ["ignore", fd, fd] as const), ...(opts.ipc ? ["ipc" as const] : [])],
      env: opts.replaceEnv ?? { ...process.env, ...opts.env },
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Starts `creditmesh start` for one config as its own detached process (it
 * outlives the command that started it), logging to `logFile`.
 */
export function spawnNode(configFile: string, logFile: string, opts: Pick<CliProcessOptions, "env" | "nodeArgs"> = {}): number {
  const child = spawnCli(["start", "--config", configFile], { ...opts, cwd: path.dirname(configFile), logFile, detached: true });
  child.unref();
  if (!child.pid) throw new CreditMeshError("UNAVAILABLE", `could not start a node for ${configFile}`);
  return child.pid;
}

/**
 * Whether the process still runs. A process that has exited but is not yet
 * reaped (a zombie) counts as gone: a detached node's parent is init once the
 * command that started it has exited, and an init that reaps late, or never
 * (a container whose pid 1 does not wait for orphans), must not keep a stopped
 * node "alive" (`stopProcesses` would wait for it forever).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !hasExited(pid);
}

/**
 * True for a zombie, or a process that vanished since it was signalled.
 * Reads /proc/PID/stat; without procfs, false.
 */
function hasExited(pid: number): boolean {
  if (!PROC_STAT) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT";
  }
  // "pid (comm) state …": comm may itself hold spaces and parentheses.
  const close = stat.lastIndexOf(")");
  const state = stat.slice(close + 2, close + 3);
  return state === "Z" || state === "X";
}

/** Resolves with the node's runtime info once it serves gRPC; fails if the process dies first. */
export async function waitForNode(configFile: string, pid: number, timeoutMs: number, logFile: string): Promise<RuntimeInfo> {
  const config = loadConfig(configFile);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = readRuntime(config);
    if (info && info.pid === pid) return info;
    if (!isAlive(pid)) {
      throw new CreditMeshError("UNAVAILABLE", `node for ${configFile} exited during start; see ${logFile}${logTail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new CreditMeshError("DEADLINE_EXCEEDED", `node for ${configFile} not ready within ${timeoutMs} ms; see ${logFile}`);
}

/** Enough for a dozen log lines. */
const LOG_TAIL_BYTES = 16 * 1024;

/**
 * The last lines of a node's log, for an error that points at it: a test
 * network's directory is often removed before anyone reads the file. Node logs
 * hold no personal data.
 */
function logTail(logFile: string, lines = 12): string {
  // The log is appended to across restarts: only its end is read, however long it has grown.
  let text: string;
  let fd: number | undefined;
  try {
    fd = openSync(logFile, "r");
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, LOG_TAIL_BYTES));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    text = buf.toString("utf8");
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const tail = text.trimEnd().split("\n").slice(-lines).join("\n");
  return tail ? `; its last lines:\n${tail}` : "";
}

/** SIGTERM, then SIGKILL whatever is still alive after `graceMs`. */
export async function stopProcesses(pids: number[], graceMs = 10_000): Promise<void> {
  for (const pid of pids) {
    if (isAlive(pid)) process.kill(pid, "SIGTERM");
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) {
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  while (pids.some(isAlive)) await new Promise((r) => setTimeout(r, 50));
}

/** A `creditmesh start` child of this process, its stderr piped. */
export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  /** gRPC host:port, from the node's "ready" line. */
  address: string;
  /** What the process wrote to stderr so far (its log), up to `stderrLimit` characters from the end. */
  stderr(): string;
  exited: Promise<number | null>;
  /** SIGTERM and wait for the exit code; SIGKILL after `graceMs` if given. */
  stop(graceMs?: number): Promise<number | null>;
  /** Sends `signal`; waits for the exit after SIGKILL or SIGTERM. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface NodeProcessOptions extends Pick<CliProcessOptions, "cwd" | "env" | "nodeArgs"> {
  timeoutMs?: number;
  /** Keep only this many characters of stderr (a long benchmark must not grow it without bound). */
  stderrLimit?: number;
}

/** Starts `creditmesh start --config FILE` as a child and resolves once it prints its gRPC address. */
export async function startNodeProcess(configFile: string, opts: NodeProcessOptions = {}): Promise<NodeProcess> {
  const child = spawnCli(["start", "--config", configFile], { cwd: opts.cwd, env: opts.env, nodeArgs: opts.nodeArgs });
  const limit = opts.stderrLimit ?? Infinity;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let err = "";
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new CreditMeshError("DEADLINE_EXCEEDED", `node did not start in ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    let ready = false;
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.length > limit) err = err.slice(-limit);
      const m = ready ? null : /ready: gRPC ([^\s,]+)/.exec(err);
      if (m) {
        ready = true;
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new CreditMeshError("UNAVAILABLE", `node exited with ${code} before it was ready:\n${err}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    address,
    stderr: () => err,
    exited,
    stop: async (graceMs?: number) => {
      if (!running()) return exited;
      child.kill("SIGTERM");
      const timer = graceMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    kill: async (signal = "SIGKILL") => {
      if (running()) child.kill(signal);
      if (signal === "SIGKILL" || signal === "SIGTERM") await exited;
    },
  };
}

/** One `creditmesh host` child: several nodes in one process. */
export interface NodeHostProcess {
  child: ChildProcess;
  pid: number;
  /** Each hosted node's institution id and gRPC host:port, in the order they became ready. */
  nodes: { institutionId: string; address: string }[];
  /** Each hosted node's Prometheus text, asked over the IPC channel. */
  metrics(): Promise<{ institutionId: string; text: string }[]>;
  stderr(): string;
  exited: Promise<number | null>;
  /** SIGTERM (every node stops, all at once) and wait for the exit code; SIGKILL after `graceMs` if given. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts `creditmesh host --config A --config B …` (several nodes sharing one
 * process, each with its own store, key and ports) and resolves once every
 * node is up. How a network of a hundred members runs on a small machine
 * (`npm run bench:scale`, test/e2e/scale-harness.test.ts).
 */
export async function startNodeHost(configFiles: string[], opts: NodeProcessOptions = {}): Promise<NodeHostProcess> {
  if (configFiles.length === 0) throw new CreditMeshError("VALIDATION_FAILED", "a node host needs at least one config", { field: "configFiles" });
  const child = spawnCli(["host", ...configFiles.flatMap((f) => ["--config", f])], { cwd: opts.cwd, env: opts.env, nodeArgs: opts.nodeArgs, ipc: true });
  const limit = opts.stderrLimit ?? 200_000;
  // A node's start costs ~1 s of CPU here, several on a loaded machine.
  const timeoutMs = opts.timeoutMs ?? 120_000 + 20_000 * configFiles.length;
  let err = "";
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;
  const nodes: { institutionId: string; address: string }[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new CreditMeshError("DEADLINE_EXCEEDED", `node host did not start ${configFiles.length} nodes in ${timeoutMs} ms:\n${err.slice(-4000)}`));
    }, timeoutMs);
    let pending = "";
    child.stderr!.on("data", (d: Buffer) => {
      const text = d.toString();
      err += text;
      if (err.length > limit) err = err.slice(-limit);
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        const m = /^CreditMesh node (\S+) ready: gRPC ([^\s,]+)/.exec(line);
        if (m) nodes.push({ institutionId: m[1]!, address: m[2]! });
        if (/^host ready: \d+ nodes/.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new CreditMeshError("UNAVAILABLE", `node host exited with ${code} before it was ready:\n${err.slice(-4000)}`));
    });
  });
  let nextId = 1;
  return {
    child,
    pid: child.pid!,
    nodes,
    stderr: () => err,
    exited,
    metrics: () =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        const onMessage = (m: { type?: string; id?: number; metrics?: { institutionId: string; text: string }[]; error?: string }) => {
          if (m?.type !== "metrics" || m.id !== id) return;
          child.off("message", onMessage);
          if (m.error !== undefined || m.metrics === undefined) reject(new CreditMeshError("UNAVAILABLE", `node host metrics: ${m.error}`));
          else resolve(m.metrics);
        };
        child.on("message", onMessage);
        if (!running()) {
          child.off("message", onMessage);
          reject(new CreditMeshError("UNAVAILABLE", "node host is not running"));
          return;
        }
        child.send({ type: "metrics", id });
      }),
    stop: async (graceMs?: number) => {
      if (!running()) return exited;
      child.kill("SIGTERM");
      const timer = graceMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
