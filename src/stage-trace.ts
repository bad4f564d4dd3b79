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

export interface StageFigures {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

/** Histograms of stage durations (µs) by "<span>.<stage>". */
export class StageHistograms {
  readonly #histograms = new Map<string, RecordableHistogram>();

  record(name: string, ms: number): void {
    let h = this.#histograms.get(name);
    if (h === undefined) {
      h = createHistogram();
      this.#histograms.set(name, h);
    }
    // Histograms take positive integers: µs, at least 1.
    h.record(Math.max(1, Math.round(ms * 1000)));
  }

  span(name: string, started = performance.now()): StageSpan {
    let last = started;
    return {
      mark: (stage) => {
        const t = performance.now();
        this.record(`${name}.${stage}`, t - last);
        last = t;
      },
      at: (stage, since) => this.record(`${name}.${stage}`, performance.now() - since),
    };
  }

  /** Every stage's count and percentiles in µs, sorted by name. */
  summary(): Record<string, StageFigures> {
    const out: Record<string, StageFigures> = {};
    for (const name of [...this.#histograms.keys()].sort()) {
      const h = this.#histograms.get(name)!;
      out[name] = { n: h.count, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), mean: Math.round(h.mean) };
    }
    return out;
  }
}

const OFF: StageSpan = { mark: () => undefined, at: () => undefined };

const recorder = DIR !== undefined && DIR !== "" ? new StageHistograms() : undefined;

export const stageTraceEnabled = recorder !== undefined;

/** A span named `name` starting now (or at `started`, a performance.now() reading). */
export function stageSpan(name: string, started?: number): StageSpan {
  return recorder ? recorder.span(name, started) : OFF;
}

/** A performance.now() reading when tracing, else 0 (not read at all). */
export function stageNow(): number {
  return recorder ? performance.now() : 0;
}

if (recorder) {
  process.on("exit", () => {
    try {
      writeFileSync(path.join(DIR!, `stages-${process.pid}.json`), JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), stages: recorder.summary() }, null, 1));
    } catch {
      // Diagnostics only: a missing directory must not turn an exit into a crash.
    }
  });
}
