/**
 * `npm run fuzz [-- --inputs N --seed S]`: feeds N generated inputs (default
 * 100,000) to every decoder that takes bytes from outside (test/fuzz/targets.ts)
 * and fails on any crash, non-Error throw, unhandled rejection, or a peak RSS of
 * 512 MB or more.
 */
import "../src/polyfill.js";
import { runFuzz } from "../test/fuzz/run-fuzz.js";

const MAX_RSS_MB = 512;
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

const started = Date.now();
const result = await runFuzz({
  inputs: arg("inputs", 100_000),
  seed: arg("seed", Date.now() % 1_000_000),
  onProgress: (done, peak) => {
    if (done % 20_000 === 0) process.stderr.write(`  ${done} inputs, peak RSS ${peak} MB\n`);
  },
});
for (const [name, n] of Object.entries(result.perTarget)) process.stdout.write(`${String(n).padStart(8)}  ${name}\n`);
process.stdout.write(
  `fuzz: ${result.inputs} inputs across ${Object.keys(result.perTarget).length} decoders in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
    `${result.failures.length} failures, node RSS peak ${result.peakRssMb} MB (limit ${MAX_RSS_MB} MB)\n`,
);
for (const f of result.failures.slice(0, 20)) process.stdout.write(`FAIL ${f.target}: ${f.problem} (input ${f.input.slice(0, 200)})\n`);
if (result.failures.length > 0 || result.peakRssMb >= MAX_RSS_MB) process.exitCode = 1;
