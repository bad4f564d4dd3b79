import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { spawnCli, startNodeProcess as startNode, type NodeProcess } from "../../src/testnet/processes.js";

export type { NodeProcess };

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export function writeConfig(file: string, config: Record<string, unknown>): string {
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The whole environment instead of this process's plus `env`. */
  replaceEnv?: NodeJS.ProcessEnv;
}

/** Runs the compiled CLI, stdout and stderr piped. */
export function runCli(args: string[], opts: CliOptions = {}): ChildProcess {
  return spawnCli(args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env, replaceEnv: opts.replaceEnv });
}

/** Output and exit code of a CLI command that terminates. */
export async function cli(args: string[], opts: CliOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runCli(args, opts);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  return { code, stdout, stderr };
}

/** A node child process logging at info (or CREDITMESH_LOG_LEVEL), for tests that read its log. */
export function startNodeProcess(configFile: string, timeoutMs = 60_000): Promise<NodeProcess> {
  return startNode(configFile, { timeoutMs, cwd: REPO_ROOT, env: { CREDITMESH_LOG_LEVEL: process.env.CREDITMESH_LOG_LEVEL ?? "info" } });
}
