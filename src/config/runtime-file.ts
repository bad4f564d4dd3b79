import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { NodeConfig } from "./schema.js";

/** What a running node tells local tools about itself (its ports may be chosen at start). */
export interface RuntimeInfo {
  pid: number;
  grpcAddr: string;
  peerId: string;
  multiaddrs: string[];
}

export function runtimePath(config: NodeConfig): string {
  return path.resolve(config.storage.dataDir, "runtime.json");
}

/** Written to a temporary file and renamed, so that a reader never sees half of it. */
export function writeRuntime(config: NodeConfig, info: RuntimeInfo): void {
  const file = runtimePath(config);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + "\n");
  renameSync(tmp, file);
}

export function removeRuntime(config: NodeConfig): void {
  rmSync(runtimePath(config), { force: true });
}

/** The running node's info, if its runtime file is there and its process alive. */
export function readRuntime(config: NodeConfig): RuntimeInfo | undefined {
  const file = runtimePath(config);
  if (!existsSync(file)) return undefined;
  let info: RuntimeInfo;
  try {
    info = JSON.parse(readFileSync(file, "utf8")) as RuntimeInfo;
  } catch {
    // Removed since the check, or left truncated by a node that crashed while writing it.
    return undefined;
  }
  try {
    process.kill(info.pid, 0);
  } catch {
    return undefined;
  }
  return info;
}
