import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = path.join(REPO_ROOT, "src/cli/main.ts");

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  address: string;
  /** Everything the process wrote to stderr so far (logs and messages). */
  stderr(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

export function writeConfig(file: string, config: Record<string, unknown>): string {
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Runs the CLI with `node --import tsx` so that the pid is the node's own. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Output and exit code of a CLI command that terminates. */
export async function cli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runCli(args, opts);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  return { code, stdout, stderr };
}

/** Starts `creditmesh start --config FILE` and resolves once it prints its gRPC address. */
export async function startNodeProcess(configFile: string, timeoutMs = 60_000): Promise<NodeProcess> {
  const child = runCli(["start", "--config", configFile], { env: { CREDITMESH_LOG_LEVEL: process.env.CREDITMESH_LOG_LEVEL ?? "info" } });
  let err = "";
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start in ${timeoutMs} ms:\n${err}`)), timeoutMs);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /ready: gRPC ([^\s,]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before it was ready:\n${err}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    address,
    stderr: () => err,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
    kill: async (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      if (signal === "SIGKILL" || signal === "SIGTERM") await exited;
    },
  };
}
