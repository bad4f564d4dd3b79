import { isoDate } from "../clock.js";
import type { Logger } from "../logger.js";
import type { QueryQuotaStore, WriteBatch } from "../store/types.js";
import { EMPTY_BATCH } from "../store/write-batch.js";

/** Default queries one member may make about one subject per day at a holder (config `p2p.subjectQueriesPerDay`). */
export const DEFAULT_SUBJECT_QUERIES_PER_DAY = 50;

/** One query counted against a member's quota: commit `batch` with the query's own record, so the count is as durable as the query. */
export interface QuotaGrant {
  readonly batch: WriteBatch;
}

const UNCOUNTED: QuotaGrant = { batch: EMPTY_BATCH };

/**
 * How many queries each member made about each subject on the current UTC
 * day (the holder's clock), so a holder refuses a flood before logging it.
 * Counted in memory, so taking is synchronous and exact under concurrency;
 * each count is also written (with a store) in the synced batch that logs
 * its query, and today's counts are read back at start, so a restart does
 * not hand anyone a fresh day. Memory and disk hold one day: earlier days
 * are swept at start and when the day turns.
 */
export class QueryQuota {
  readonly #counts = new Map<string, number>();
  #day = "";
  #sweep: Promise<void> = Promise.resolve();

  /** `limit` 0 disables the quota. Without a store the counts live only in memory. */
  constructor(
    readonly limit: number,
    private readonly store?: QueryQuotaStore,
    private readonly logger?: Logger,
  ) {}

  /** A quota with today's counts read back from `store`, and earlier days swept. */
  static async open(limit: number, store: QueryQuotaStore, now: Date, logger?: Logger): Promise<QueryQuota> {
    const quota = new QueryQuota(limit, store, logger);
    const day = isoDate(now);
    quota.#day = day;
    await store.sweepBefore(day);
    if (limit > 0) for (const c of await store.countsOf(day)) quota.#counts.set(pairKey(c.member, c.subject), c.count);
    return quota;
  }

  /** Counts one query by `member` about `subject` at `nowMs`; undefined once the day's quota is used up. */
  take(member: string, subject: string, nowMs: number): QuotaGrant | undefined {
    if (this.limit <= 0) return UNCOUNTED;
    const day = isoDate(new Date(nowMs));
    // A clock stepping back keeps counting against the later day rather than reopening an earlier one.
    if (day > this.#day) this.#turn(day);
    const key = pairKey(member, subject);
    const used = this.#counts.get(key) ?? 0;
    if (used >= this.limit) return undefined;
    this.#counts.set(key, used + 1);
    return this.store ? { batch: this.store.countWrite(this.#day, member, subject, used + 1) } : UNCOUNTED;
  }

  /** What `member` has used of its quota for `subject` today. */
  used(member: string, subject: string): number {
    return this.#counts.get(pairKey(member, subject)) ?? 0;
  }

  /** Pairs counted today (what memory holds). */
  get size(): number {
    return this.#counts.size;
  }

  /** Resolves once the sweep started by the last turn of the day is done. */
  swept(): Promise<void> {
    return this.#sweep;
  }

  #turn(day: string): void {
    this.#day = day;
    this.#counts.clear();
    if (!this.store) return;
    this.#sweep = this.store.sweepBefore(day).then(
      () => undefined,
      (err: unknown) => this.logger?.warn({ err: String(err) }, "could not sweep earlier days' query counts"),
    );
  }
}

function pairKey(member: string, subject: string): string {
  return `${member}\u0000${subject}`;
}
