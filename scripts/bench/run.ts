/**
 * Runs benchmarks one after another, each in its own process (so that one's
 * memory and warm caches do not skew the next), and stops at the first that
 * fails.
 *
 *   npm run bench                       every default benchmark that exists here
 *   npm run bench -- ingest             only the named ones
 *   npm run bench -- ingest --records 1000000
 *                                       options after the names go to each of them
 *
 * Any scripts/bench/<name>.ts can be named; without names, the default set
 * below runs, skipping those whose script is not there.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./common.js";

/** Benchmarks behind the figures of DESIGN §9, in the order they run by default. */
const DEFAULT_BENCHMARKS = ["ingest", "report", "log", "tokens"];
const HELPERS = new Set(["run", "common", "stats"]);
const BENCH_DIR = path.join(REPO_ROOT, "scripts", "bench");

const scriptOf = (name: string) => path.join(BENCH_DIR, `${name}.ts`);

function available(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .filter((n) => !HELPERS.has(n))
    .sort();
}

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(
    `usage: npm run bench [-- [name ...] [options for each]]\n` +
      `default: ${DEFAULT_BENCHMARKS.join(", ")} (those present)\n` +
      `available: ${available().join(", ")}\n`,
  );
  process.exit(0);
}
const firstOption = argv.findIndex((a) => a.startsWith("-"));
const names = firstOption === -1 ? argv : argv.slice(0, firstOption);
const options = firstOption === -1 ? [] : argv.slice(firstOption);

const unknown = names.filter((n) => HELPERS.has(n) || !existsSync(scriptOf(n)));
if (unknown.length) {
  process.stderr.write(`unknown benchmark ${unknown.join(", ")}; available: ${available().join(", ")}\n`);
  process.exit(2);
}
const selected = names.length ? names : DEFAULT_BENCHMARKS.filter((n) => existsSync(scriptOf(n)));
if (selected.length === 0) {
  process.stderr.write("no benchmark to run\n");
  process.exit(2);
}

function run(name: string): Promise<number> {
  process.stdout.write(`\n== ${name}\n`);
  const child = spawn(process.execPath, ["--import", "tsx", scriptOf(name), ...options], { cwd: REPO_ROOT, stdio: "inherit" });
  // Ctrl+C reaches the child through the terminal's process group; wait for it to clean up.
  const ignore = () => undefined;
  process.on("SIGINT", ignore);
  return new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      process.off("SIGINT", ignore);
      resolve(code ?? (signal ? 128 : 1));
    }),
  );
}

for (const name of selected) {
  const code = await run(name);
  if (code !== 0) {
    process.stderr.write(`benchmark ${name} failed (exit ${code})\n`);
    process.exit(code);
  }
}
