import { CreditMeshError } from "../../src/errors.js";
import { createRng, type Rng } from "../../src/synthetic/prng.js";
import { fuzzTargets, type FuzzTarget } from "./targets.js";

export interface FuzzResult {
  inputs: number;
  perTarget: Record<string, number>;
  /** Inputs whose outcome was not "decoded" or "refused with an Error". */
  failures: { target: string; input: string; problem: string }[];
  peakRssMb: number;
}

/** Random bytes (mostly short, sometimes long), or a seed mutated: bytes flipped, cut, duplicated or spliced. */
function input(rng: Rng, target: FuzzTarget): Uint8Array {
  if (target.seeds.length > 0 && rng.chance(0.5)) {
    const seed = rng.pick(target.seeds);
    const out = Array.from(seed);
    for (let k = rng.int(0, 4); k > 0; k--) {
      const op = rng.int(0, 3);
      const at = rng.int(0, out.length);
      if (op === 0 && out.length > 0) out[Math.min(at, out.length - 1)] = rng.int(0, 255);
      else if (op === 1) out.splice(at, rng.int(1, 8));
      else if (op === 2) out.splice(at, 0, ...Array.from({ length: rng.int(1, 16) }, () => rng.int(0, 255)));
      else out.splice(at, 0, ...out.slice(0, rng.int(0, out.length)));
    }
    return Uint8Array.from(out);
  }
  const len = rng.chance(0.9) ? rng.int(0, 64) : rng.int(65, 4096);
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) bytes[i] = rng.int(0, 255);
  return bytes;
}

/**
 * Feeds `inputs` generated inputs round-robin to every target. Every input
 * must be decoded or refused with an Error; a rejection nobody handled while
 * the run goes on counts as a failure too. Memory is sampled as it goes.
 */
export async function runFuzz(opts: { inputs: number; seed?: number; onProgress?(done: number, peakRssMb: number): void }): Promise<FuzzResult> {
  const rng = createRng(opts.seed ?? 1);
  const { targets, cleanup } = fuzzTargets();
  const perTarget: Record<string, number> = Object.fromEntries(targets.map((t) => [t.name, 0]));
  const failures: FuzzResult["failures"] = [];
  let peak = process.memoryUsage().rss;
  const unhandled = (reason: unknown) => failures.push({ target: "(unhandled rejection)", input: "", problem: String(reason) });
  process.on("unhandledRejection", unhandled);
  try {
    for (let i = 0; i < opts.inputs; i++) {
      const target = targets[i % targets.length]!;
      const bytes = input(rng, target);
      try {
        await target.run(bytes);
      } catch (err) {
        const problem = !(err instanceof Error)
          ? `threw a non-Error: ${String(err)}`
          : target.precise && !(err instanceof CreditMeshError)
            ? `refused without a precise error: ${err.name}: ${err.message}`
            : undefined;
        if (problem) failures.push({ target: target.name, input: Buffer.from(bytes).toString("hex"), problem });
      }
      perTarget[target.name]!++;
      if (i % 1000 === 999) {
        peak = Math.max(peak, process.memoryUsage().rss);
        opts.onProgress?.(i + 1, Math.round(peak / 2 ** 20));
        // Lets pending rejections surface while the run goes on.
        await new Promise((r) => setImmediate(r));
      }
    }
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off("unhandledRejection", unhandled);
    cleanup();
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return { inputs: opts.inputs, perTarget, failures, peakRssMb: Math.round(peak / 2 ** 20) };
}
