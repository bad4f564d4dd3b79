import type { NodeDatabase, SublevelOp, WriteObserver } from "./database.js";
import { SEP, SUBJECT_INQUIRY_WINDOW } from "./keys.js";

/** Subjects whose index entries are kept; the least recently read go first. */
export const SUBJECT_INDEX_CACHE_SUBJECTS = 8_192;

/**
 * A subject with more entries than this (years of daily queries by many
 * members) is read from the database each time: the cache's memory is bounded
 * by entries, not only by subjects.
 */
export const SUBJECT_INDEX_CACHE_ENTRIES = 256;

type Entry = readonly [string, string];

interface Cached {
  values: Map<string, string>;
  /** `values` in key order, built on the first read after a change. */
  sorted?: Entry[];
}

/** A fill under way: `stale` once a write to the subject ended while it read. */
interface Fill {
  stale: boolean;
  done: Promise<Cached>;
}

/**
 * What a holder answers from — a subject's inquiry window entries and its
 * accounts in the subject index — kept in memory for recently queried
 * subjects, so that a query reads it without a LevelDB range scan. A scan
 * goes through the thread pool: on a node woken for one query it was a
 * second wake-up and a context switch, costing more than the read itself.
 *
 * Kept current by the database's writes (NodeDatabase.observe): a committed
 * write's puts and deletes are applied to a cached subject as they were to
 * the database. Two writes to one subject in flight at once may commit in one
 * order and report in the other, so the subject is then dropped and read
 * again. A scan that a write to its subject overlapped is used once and not
 * kept. A failed write drops the subject too.
 *
 * Holds, per subject, exactly the keys of (`<token>!#w`, `<token>!~`): the
 * window entries and the accounts (keys.ts), not the inquiry log.
 */
export class SubjectIndexCache implements WriteObserver {
  readonly #subjects = new Map<string, Cached>();
  readonly #fills = new Map<string, Fill>();
  /** Writes begun and not yet ended, per subject. */
  readonly #writing = new Map<string, number>();
  /** Subjects with two writes in flight at once since their writes last all ended. */
  readonly #overlapped = new Set<string>();
  /** The subjects each write in flight touches, found at begin. */
  readonly #touched = new WeakMap<readonly SublevelOp[], Map<string, SublevelOp[]>>();

  /** Stops following the database's writes (the cache is then no longer current). */
  readonly detach: () => void;

  constructor(
    private readonly db: Pick<NodeDatabase, "entries" | "levels" | "observe">,
    private readonly limit = SUBJECT_INDEX_CACHE_SUBJECTS,
  ) {
    this.detach = db.observe(db.levels.subj, this);
  }

  /** The subject's entries with keys after `after` (which must lie in its range), in key order. */
  async read(token: string, after: string): Promise<Entry[]> {
    let cached = this.#subjects.get(token);
    if (cached) {
      // Most recently read last: the first in the map is the next to go.
      this.#subjects.delete(token);
      this.#subjects.set(token, cached);
    } else {
      cached = await this.#fill(token);
    }
    cached.sorted ??= [...cached.values].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const sorted = cached.sorted;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid][0] <= after) lo = mid + 1;
      else hi = mid;
    }
    return sorted.slice(lo);
  }

  /** Subjects held (for tests and metrics). */
  get size(): number {
    return this.#subjects.size;
  }

  #fill(token: string): Promise<Cached> {
    const running = this.#fills.get(token);
    if (running) return running.done;
    const fill: Fill = {
      stale: false,
      done: this.db.entries(this.db.levels.subj, range(token)).then(
        (entries) => {
          this.#fills.delete(token);
          const cached: Cached = { values: new Map(entries) };
          if (!fill.stale) this.#keep(token, cached);
          return cached;
        },
        (err: unknown) => {
          this.#fills.delete(token);
          throw err;
        },
      ),
    };
    this.#fills.set(token, fill);
    return fill.done;
  }

  #keep(token: string, cached: Cached): void {
    if (cached.values.size > SUBJECT_INDEX_CACHE_ENTRIES) return;
    this.#subjects.set(token, cached);
    if (this.#subjects.size > this.limit) this.#subjects.delete(this.#subjects.keys().next().value!);
  }

  begin(ops: readonly SublevelOp[]): void {
    const bySubject = bySubjectOf(ops);
    this.#touched.set(ops, bySubject);
    for (const token of bySubject.keys()) {
      const n = (this.#writing.get(token) ?? 0) + 1;
      this.#writing.set(token, n);
      if (n > 1) this.#overlapped.add(token);
    }
  }

  end(ops: readonly SublevelOp[], committed: boolean): void {
    for (const [token, mine] of this.#touched.get(ops) ?? bySubjectOf(ops)) {
      const fill = this.#fills.get(token);
      if (fill) fill.stale = true;
      const cached = this.#subjects.get(token);
      if (cached) {
        if (committed && !this.#overlapped.has(token) && apply(cached, mine) && cached.values.size <= SUBJECT_INDEX_CACHE_ENTRIES) cached.sorted = undefined;
        else this.#subjects.delete(token);
      }
      const n = this.#writing.get(token)! - 1;
      if (n > 0) {
        this.#writing.set(token, n);
      } else {
        this.#writing.delete(token);
        this.#overlapped.delete(token);
      }
    }
  }
}

const FIRST_KEPT = SUBJECT_INQUIRY_WINDOW;
const PAST_KEPT = "~";

/** The keys a subject's cache entry holds: its window entries and accounts. */
function range(token: string): { gt: string; lt: string } {
  return { gt: token + SEP + FIRST_KEPT, lt: token + SEP + PAST_KEPT };
}

/** The subject whose kept keys hold `key`, or undefined (its account count, its inquiry log). */
function subjectOf(key: string): string | undefined {
  const sep = key.indexOf(SEP);
  if (sep <= 0) return undefined;
  const rest = key.slice(sep + 1);
  return rest > FIRST_KEPT && rest < PAST_KEPT ? key.slice(0, sep) : undefined;
}

/** The operations on kept keys, by subject, in the write's order (a group commit carries many subjects). */
function bySubjectOf(ops: readonly SublevelOp[]): Map<string, SublevelOp[]> {
  const out = new Map<string, SublevelOp[]>();
  for (const op of ops) {
    const token = subjectOf(op.key);
    if (token === undefined) continue;
    const mine = out.get(token);
    if (mine) mine.push(op);
    else out.set(token, [op]);
  }
  return out;
}

/** Applies a committed write's operations on one subject's kept keys; false if one cannot be (a value that is not text). */
function apply(cached: Cached, ops: readonly SublevelOp[]): boolean {
  for (const op of ops) {
    if (op.type === "del") cached.values.delete(op.key);
    else if (typeof op.value === "string") cached.values.set(op.key, op.value);
    else return false;
  }
  return true;
}
