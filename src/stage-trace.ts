import { writeFileSync } from "node:fs";
import path from "node:path";
import { createHistogram, performance, type RecordableHistogram } from "node:perf_hooks";

/**
 * Where a report's wall time goes, stage by stage, in each process: set
 * CREDITMESH_STAGE_TRACE=DIR and every process writes DIR/stages-<pid>.json
 * when it exits, with the p50/p90/p99 (µs) of each stage. Off, a span is one
 * shared object whose methods do nothing, so the hot path pays a property
 * read and a call.
 *
 * A span times consecutive stages: `mark(stage)` records the time since the
 * span began or since its previous mark under "<span>.<stage>"; `at(stage,
 * since)` records the time since a mark taken with `now()` (for branches
 * that run in parallel, such as each holder's answer of a fan-out).
 */
export interface StageSpan {
  mark(stage: string): void;
  at(stage: string, since: number): void;
}

const DIR = process.env.CREDITMESH_STAGE_TRACE;

const histograms = new Map<string, RecordableHistogram>();

function record(name: string, ms: number): void {
  let h = histograms.get(name);
  if (h === undefined) {
    h = createHistogram();
    histograms.set(name, h);
  }
  // Histograms take positive integers: µs, at least 1.
  h.record(Math.max(1, Math.round(ms * 1000)));
}

class Span implements StageSpan {
  #last: number;
  constructor(
    private readonly name: string,
    started: number,
  ) {
    this.#last = started;
  }
  mark(stage: string): void {
    const t = performance.now();
    record(`${this.name}.${stage}`, t - this.#last);
    this.#last = t;
  }
  at(stage: string, since: number): void {
    record(`${this.name}.${stage}`, performance.now() - since);
  }
}

const OFF: StageSpan = { mark: () => undefined, at: () => undefined };

export const stageTraceEnabled = DIR !== undefined && DIR !== "";

/** A span named `name` starting now (or at `started`, a performance.now() reading). */
export function stageSpan(name: string, started?: number): StageSpan {
  return stageTraceEnabled ? new Span(name, started ?? performance.now()) : OFF;
}

/** A performance.now() reading when tracing, else 0 (not read at all). */
export function stageNow(): number {
  return stageTraceEnabled ? performance.now() : 0;
}

/** Every stage's count and percentiles in µs, sorted by name. */
export function stageSummary(): Record<string, { n: number; p50: number; p90: number; p99: number; mean: number }> {
  const out: Record<string, { n: number; p50: number; p90: number; p99: number; mean: number }> = {};
  for (const name of [...histograms.keys()].sort()) {
    const h = histograms.get(name)!;
    out[name] = { n: h.count, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), mean: Math.round(h.mean) };
  }
  return out;
}

if (stageTraceEnabled) {
  process.on("exit", () => {
    try {
      writeFileSync(path.join(DIR!, `stages-${process.pid}.json`), JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), stages: stageSummary() }, null, 1));
    } catch {
      // Diagnostics only: a missing directory must not turn an exit into a crash.
    }
  });
}
