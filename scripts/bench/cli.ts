/**
 * How long `creditmesh --help` takes from a cold process, as a user runs it:
 * the package's bin on the compiled dist/, median of N runs, next to a bare
 * `node -e 0` measured in the same run (the floor no CLI can go below).
 *
 *   npm run bench -- cli [--runs N] [--out FILE]
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT, printTable, writeResults } from "./common.js";
import { median, round, summarize } from "./stats.js";

/** DESIGN/issue target: `creditmesh --help` answers within this median. */
const TARGET_MS = 400;

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, out: { type: "string" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`--runs: a positive integer, not ${values.runs}\n`);
  process.exit(2);
}

function timed(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

const bin = path.join(REPO_ROOT, "bin", "creditmesh.js");
const help: number[] = [];
const bare: number[] = [];
for (let i = 0; i < runs; i++) {
  help.push(timed([bin, "--help"]));
  bare.push(timed(["-e", "0"]));
}
const helpMedian = round(median(help), 1);
const bareMedian = round(median(bare), 1);
printTable([
  ["", "median ms", "min ms", "max ms"],
  ["creditmesh --help", helpMedian, round(Math.min(...help), 1), round(Math.max(...help), 1)],
  ["node -e 0", bareMedian, round(Math.min(...bare), 1), round(Math.max(...bare), 1)],
]);
const ok = helpMedian <= TARGET_MS;
process.stdout.write(`creditmesh --help: median ${helpMedian} ms of ${runs} runs (target ≤ ${TARGET_MS} ms: ${ok ? "met" : "NOT met"})\n`);
const file = await writeResults("cli", { runs, target_ms: TARGET_MS, help_ms: summarize(help, 1), node_bare_ms: summarize(bare, 1), met: ok }, values.out);
process.stdout.write(`results: ${path.relative(REPO_ROOT, file)}\n`);
process.exit(ok ? 0 : 1);
