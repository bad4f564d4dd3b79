import { isoDate } from "../clock.js";
import type { Logger } from "../logger.js";
import type { QueryQuotaStore, WriteBatch } from "../store/types.js";
import { EMPTY_BATCH } from "../store/write-batch.js";

/** Default queries one member may make about one subject per day at a holder (config `p2p.subjectQueriesPerDay`). */
export const DEFAULT_SUBJECT_QUERIES_PER_DAY = 50;

/** The daily limits, per member: about one subject, and about all subjects together (0 disables either). */
export interface QuotaLimits {
  subjectPerDay: number;
  memberPerDay: number;
}

/** One query counted against a member's quota: commit `batch` with the query's own record, so the count is as durable as the query. */
export interface QuotaGrant {
  readonly batch: WriteBatch;
}

/** Which of the day's limits a query is past: `subject` (p2p.subjectQueriesPerDay) or `member` (p2p.memberQueriesPerDay). */
export interface QuotaRefusal {
  readonly refused: "subject" | "member";
  readonly limit: number;
}

const UNCOUNTED: QuotaGrant = { batch: EMPTY_BATCH };

/**
 * How many queries each member made about each subject on the current UTC
 * day (the holder's clock), and about all subjects together, so a holder
 * refuses a flood before logging it: many queries about one borrower, or
 * queries about ever new subject tokens (which a member can make up: each
 * would cost the holder an inquiry, its audit entry and a log leaf, kept for
 * years, and a count in memory for the day).
 * Counted in memory, so taking is synchronous and exact under concurrency;
 * each count is also written (with a store) in the synced batch that logs
 * its query, and today's counts are read back at start, so a restart does
 * not hand anyone a fresh day. Memory and disk hold one day: earlier days
 * are swept at start and when the day turns.
 */
export class QueryQuota {
  readonly #counts = new Map<string, number>();
  /** Each member's queries today, all subjects together: the sum of its counts above. */
  readonly #totals = new Map<string, number>();
  #day = "";
  #sweep: Promise<void> = Promise.resolve();
  /** Queries one member may make about one subject a day (0: no limit). */
  readonly limit: number;
  /** Queries one member may make a day, about all subjects together (0: no limit). */
  readonly memberLimit: number;

  /** A number is the per-subject limit alone. Without a store the counts live only in memory. */
  constructor(
    limits: number | QuotaLimits,
    private readonly store?: QueryQuotaStore,
    private readonly logger?: Logger,
  ) {
    this.limit = typeof limits === "number" ? limits : limits.subjectPerDay;
    this.memberLimit = typeof limits === "number" ? 0 : limits.memberPerDay;
  }

  /** A quota with today's counts read back from `store`, and earlier days swept. */
  static async open(limits: number | QuotaLimits, store: QueryQuotaStore, now: Date, logger?: Logger): Promise<QueryQuota> {
    const quota = new QueryQuota(limits, store, logger);
    const day = isoDate(now);
    quota.#day = day;
    await store.sweepBefore(day);
    if (quota.#counting) {
      for (const c of await store.countsOf(day)) {
        quota.#counts.set(pairKey(c.member, c.subject), c.count);
        quota.#totals.set(c.member, (quota.#totals.get(c.member) ?? 0) + c.count);
      }
    }
    return quota;
  }

  /** Counts one query by `member` about `subject` at `nowMs`; undefined once either of the day's limits is reached. */
  take(member: string, subject: string, nowMs: number): QuotaGrant | undefined {
    const admitted = this.admit(member, subject, nowMs);
    return "refused" in admitted ? undefined : admitted;
  }

  /** Counts one query by `member` about `subject` at `nowMs`, or says which of the day's limits it is past (counting nothing). */
  admit(member: string, subject: string, nowMs: number): QuotaGrant | QuotaRefusal {
    if (!this.#counting) return UNCOUNTED;
    const day = isoDate(new Date(nowMs));
    // A clock stepping back keeps counting against the later day rather than reopening an earlier one.
    if (day > this.#day) this.#turn(day);
    const key = pairKey(member, subject);
    const used = this.#counts.get(key) ?? 0;
    if (this.limit > 0 && used >= this.limit) return { refused: "subject", limit: this.limit };
    const total = this.#totals.get(member) ?? 0;
    if (this.memberLimit > 0 && total >= this.memberLimit) return { refused: "member", limit: this.memberLimit };
    this.#counts.set(key, used + 1);
    this.#totals.set(member, total + 1);
    return this.store ? { batch: this.store.countWrite(this.#day, member, subject, used + 1) } : UNCOUNTED;
  }

  /** What `member` has used of its quota for `subject` today. */
  used(member: string, subject: string): number {
    return this.#counts.get(pairKey(member, subject)) ?? 0;
  }

  /** What `member` has used of its daily quota across subjects today. */
  usedByMember(member: string): number {
    return this.#totals.get(member) ?? 0;
  }

  get #counting(): boolean {
    return this.limit > 0 || this.memberLimit > 0;
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
    this.#totals.clear();
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
