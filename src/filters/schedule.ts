import { z } from "zod";
import type { Clock } from "../clock.js";

/**
 * The config section for published filters (to be mounted as `filters` in
 * config/schema.ts). A new customer reaches other members' routing within
 * one delta interval; until then a report may skip its holder, so the
 * interval bounds how stale a report can be about brand-new accounts.
 */
export const FiltersSchema = z
  .object({
    /**
     * Publish this node's filter and route reports by the other members'
     * filters. Off by default: with HMAC subject tokens any member can test
     * any guessed identifier against a filter offline (README "Holder filters").
     */
    enabled: z.boolean().default(false),
    deltaIntervalMs: z.number().int().min(1_000).max(30_000).default(30_000),
    rebuildIntervalMs: z.number().int().min(60_000).max(7 * 86_400_000).default(86_400_000),
    /** A member silent for this many of its delta intervals is asked regardless of its filter. */
    silenceIntervals: z.number().int().min(2).max(20).default(3),
    /**
     * A member this node has asked for want of a usable filter (none announced or fetched, outdated, a gap in
     * its deltas, silent) at every report for longer than this is skipped instead, SKIPPED with the reason.
     * Asked that way a member sees every report's inquiry: one that withholds or breaks its filter would learn
     * who asks about whom across the network. 0 (the default) asks it for as long as it lasts: no report
     * misses a member's data for want of its filter.
     */
    failOpenLimitMs: z.number().int().min(0).default(0),
  })
  // The bounds keep a rebuild longer than any delta interval.
  .strict();

export type FiltersConfig = z.infer<typeof FiltersSchema>;

/** How long routing keeps trusting a member's filters without hearing from it. */
export function maxSilenceMs(config: Pick<FiltersConfig, "deltaIntervalMs" | "silenceIntervals">): number {
  return config.deltaIntervalMs * config.silenceIntervals;
}

export type FilterAction = "REBUILD" | "DELTA";

/**
 * When the holder rebuilds its full filter and when it closes a delta
 * interval. Pure bookkeeping over an injected clock; the node's timer asks
 * `due()` and `delayMs()` and reports back what it did.
 */
export class FilterSchedule {
  private lastRebuildAt?: number;
  private lastDeltaAt?: number;

  constructor(
    private readonly opts: Pick<FiltersConfig, "deltaIntervalMs" | "rebuildIntervalMs">,
    private readonly modules: { clock: Clock },
  ) {}

  /** What is due now: a rebuild first (none yet, or a day old), else a delta once an interval has passed. */
  due(): FilterAction | undefined {
    const now = this.modules.clock.now().getTime();
    if (this.lastRebuildAt === undefined || now - this.lastRebuildAt >= this.opts.rebuildIntervalMs) return "REBUILD";
    const since = this.lastDeltaAt ?? this.lastRebuildAt;
    if (now - since >= this.opts.deltaIntervalMs) return "DELTA";
    return undefined;
  }

  /** Milliseconds until something is due (0: now). */
  delayMs(): number {
    const now = this.modules.clock.now().getTime();
    if (this.lastRebuildAt === undefined) return 0;
    const rebuild = this.lastRebuildAt + this.opts.rebuildIntervalMs;
    const delta = (this.lastDeltaAt ?? this.lastRebuildAt) + this.opts.deltaIntervalMs;
    return Math.max(0, Math.min(rebuild, delta) - now);
  }

  /** A rebuild finished; `startedAt` is when it began reading the index (its deltas count from then). */
  rebuilt(startedAt: Date): void {
    this.lastRebuildAt = startedAt.getTime();
    this.lastDeltaAt = undefined;
  }

  deltaIssued(): void {
    this.lastDeltaAt = this.modules.clock.now().getTime();
  }
}
