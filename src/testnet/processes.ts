import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../config/load.js";
import { readRuntime, type RuntimeInfo } from "../config/runtime-file.js";
import { CreditMeshError } from "../errors.js";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");
/** Whether process states can be read from /proc (Linux with procfs mounted). */
const PROC_STAT = process.platform === "linux" && existsSync("/proc/self/stat");

/**
 * Starts `creditmesh start` for one config as its own detached process (it
 * outlives the command that started it), logging to `logFile`.
 */
export function spawnNode(configFile: string, logFile: string, env: NodeJS.ProcessEnv = {}): number {
  const fd = openSync(logFile, "a");
  try {
    const child = spawn(process.execPath, ["--import", TSX, MAIN, "start", "--config", configFile], {
      cwd: path.dirname(configFile),
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { ...process.env, ...env },
    });
    child.unref();
    if (!child.pid) throw new CreditMeshError("UNAVAILABLE", `could not start a node for ${configFile}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
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
    if (!isAlive(pid)) throw new CreditMeshError("UNAVAILABLE", `node for ${configFile} exited during start; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new CreditMeshError("DEADLINE_EXCEEDED", `node for ${configFile} not ready within ${timeoutMs} ms; see ${logFile}`);
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
