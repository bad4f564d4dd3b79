import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../config/load.js";
import { readRuntime, type RuntimeInfo } from "../config/runtime-file.js";
import { CreditMeshError } from "../errors.js";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

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

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
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
