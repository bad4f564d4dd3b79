/** Window of the per-member, per-subject query quota. */
export const QUERY_QUOTA_WINDOW_MS = 24 * 3600 * 1000;

/** Default queries one member may make about one subject per window at a holder (config `p2p.subjectQueriesPerDay`). */
export const DEFAULT_SUBJECT_QUERIES_PER_DAY = 50;

/** Tracked (member, subject) pairs past which expired windows are swept. */
const SWEEP_AT = 100_000;

/**
 * How many queries each member made about each subject in the current
 * window (fixed, starting at the pair's first query), so a holder refuses a
 * flood before logging it. Kept in memory: a restart forgets the counts,
 * which at worst lets one more window's worth through.
 */
export class QueryQuota {
  readonly #windows = new Map<string, { start: number; count: number }>();
  /** Size at which the next sweep runs: doubled past what a sweep leaves, so a member asking about ever more subjects costs one sweep per doubling, not one per query. */
  #sweepAt = SWEEP_AT;

  /** `limit` 0 disables the quota. */
  constructor(private readonly limit: number) {}

  /** Counts one query by `member` about `subject` at `nowMs`; false once the window's quota is used up. */
  take(member: string, subject: string, nowMs: number): boolean {
    if (this.limit <= 0) return true;
    const key = `${member}\u0000${subject}`;
    let w = this.#windows.get(key);
    if (w === undefined || nowMs - w.start >= QUERY_QUOTA_WINDOW_MS || nowMs < w.start) {
      if (this.#windows.size >= this.#sweepAt) this.#sweep(nowMs);
      w = { start: nowMs, count: 0 };
      this.#windows.set(key, w);
    }
    if (w.count >= this.limit) return false;
    w.count++;
    return true;
  }

  #sweep(nowMs: number): void {
    for (const [key, w] of this.#windows) if (nowMs - w.start >= QUERY_QUOTA_WINDOW_MS) this.#windows.delete(key);
    this.#sweepAt = Math.max(SWEEP_AT, 2 * this.#windows.size);
  }
}
