import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NodeDatabase, type WriteOp } from "../../../src/store/database.js";
import { SEP, subjectWindowAndAccounts } from "../../../src/store/keys.js";
import { SUBJECT_INDEX_CACHE_ENTRIES, SubjectIndexCache } from "../../../src/store/subject-index-cache.js";
import { tempDir } from "../../helpers/temp.js";

let tmp: ReturnType<typeof tempDir>;
let db: NodeDatabase;

beforeEach(async () => {
  tmp = tempDir("creditmesh-subject-cache-");
  db = await NodeDatabase.open(tmp.dir);
});

afterEach(async () => {
  await db.close();
  tmp.remove();
});

const TOKENS = ["t1", "t2", "t11"];
const DAYS = ["2026-11-30", "2026-12-01", "2026-12-02"];
/** Keys of every kind the subject index holds: window entries, accounts, logged inquiries, the account count. */
const keysOf = (t: string) => [
  t,
  `${t}${SEP}#w${SEP}2026-12-01${SEP}bank-b${SEP}LOAN_ORIGINATION`,
  `${t}${SEP}#w${SEP}2026-12-02${SEP}bank-b${SEP}LOAN_ORIGINATION`,
  `${t}${SEP}#w${SEP}2026-12-02${SEP}bank-c${SEP}LOAN_ORIGINATION`,
  `${t}${SEP}0a1b`,
  `${t}${SEP}ff00`,
  `${t}${SEP}~q${SEP}2026-12-02T10:00:00.000Z${SEP}q-1`,
];
const KEYS = TOKENS.flatMap(keysOf);

/** What a holder reads without the cache: one range scan. */
const scan = (t: string, day: string) => db.entries(db.levels.subj, subjectWindowAndAccounts(t, day));
const after = (t: string, day: string) => subjectWindowAndAccounts(t, day).gt;

const opArb = fc.record({
  type: fc.constantFrom("put" as const, "del" as const),
  key: fc.constantFrom(...KEYS),
  value: fc.string({ maxLength: 6 }),
});
const writeOps = (ops: { type: "put" | "del"; key: string; value: string }[]): WriteOp[] =>
  ops.map((o) => (o.type === "put" ? { type: "put", sublevel: db.levels.subj, key: o.key, value: o.value } : { type: "del", sublevel: db.levels.subj, key: o.key }));

describe("SubjectIndexCache", () => {
  it("answers as a range scan does, after any sequence of writes, reads and concurrent writes", async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant("write" as const), ops: fc.array(opArb, { minLength: 1, maxLength: 4 }) }),
      // Several writes at once, with reads started among them: their completions may arrive in any order.
      fc.record({ kind: fc.constant("race" as const), writes: fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 }), token: fc.constantFrom(...TOKENS) }),
      fc.record({ kind: fc.constant("read" as const), token: fc.constantFrom(...TOKENS), day: fc.constantFrom(...DAYS) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        await db.write(KEYS.map((key) => ({ type: "del", sublevel: db.levels.subj, key })));
        const cache = new SubjectIndexCache(db);
        try {
          for (const s of steps) {
            if (s.kind === "write") await db.write(writeOps(s.ops));
            else if (s.kind === "race") {
              const reads = [cache.read(s.token, after(s.token, DAYS[0]))];
              const writes = s.writes.map((w) => db.write(writeOps(w)));
              reads.push(cache.read(s.token, after(s.token, DAYS[0])));
              await Promise.all([...writes, ...reads]);
            }
            for (const t of TOKENS) for (const day of DAYS) expect(await cache.read(t, after(t, day))).toEqual(await scan(t, day));
          }
        } finally {
          cache.detach();
        }
      }),
      { numRuns: 60 },
    );
  });

  it("reads a subject from memory once it has been read, and drops the least recently read beyond its limit", async () => {
    await db.write(writeOps(TOKENS.map((t) => ({ type: "put", key: `${t}${SEP}0a1b`, value: t }))));
    const cache = new SubjectIndexCache(db, 2);
    const entries = vi.spyOn(db, "entries");
    try {
      await cache.read("t1", after("t1", DAYS[0]));
      await cache.read("t1", after("t1", DAYS[0]));
      expect(entries).toHaveBeenCalledTimes(1);
      await cache.read("t2", after("t2", DAYS[0]));
      await cache.read("t1", after("t1", DAYS[0]));
      await cache.read("t11", after("t11", DAYS[0]));
      expect(cache.size).toBe(2);
      expect(entries).toHaveBeenCalledTimes(3);
      // t2 was the least recently read: it went, t1 stayed.
      await cache.read("t1", after("t1", DAYS[0]));
      expect(entries).toHaveBeenCalledTimes(3);
      expect(await cache.read("t2", after("t2", DAYS[0]))).toEqual([[`t2${SEP}0a1b`, "t2"]]);
      expect(entries).toHaveBeenCalledTimes(4);
    } finally {
      entries.mockRestore();
      cache.detach();
    }
  });

  it("does not keep a scan that a write to its subject overlapped", async () => {
    const key = `t1${SEP}0a1b`;
    await db.write(writeOps([{ type: "put", key, value: "old" }]));
    const cache = new SubjectIndexCache(db);
    const realEntries = db.entries.bind(db);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let scanned!: () => void;
    const read = new Promise<void>((resolve) => (scanned = resolve));
    // The scan reads before the write and returns after it has ended.
    const entries = vi.spyOn(db, "entries").mockImplementationOnce(async (sublevel, range) => {
      const before = await realEntries(sublevel, range);
      scanned();
      await held;
      return before;
    });
    try {
      const first = cache.read("t1", after("t1", DAYS[0]));
      await read;
      await db.write(writeOps([{ type: "put", key, value: "new" }]));
      release();
      // The read that started first answers as a scan racing the write could: with the value before it.
      expect(await first).toEqual([[key, "old"]]);
      expect(cache.size).toBe(0);
      expect(await cache.read("t1", after("t1", DAYS[0]))).toEqual([[key, "new"]]);
    } finally {
      entries.mockRestore();
      cache.detach();
    }
  });

  it("does not keep a subject with more entries than its bound, and drops one that grows past it", async () => {
    const accounts = (n: number, from = 0) =>
      writeOps(Array.from({ length: n }, (_, i) => ({ type: "put" as const, key: `t1${SEP}${(from + i).toString(16).padStart(6, "0")}`, value: "a" })));
    await db.write(accounts(SUBJECT_INDEX_CACHE_ENTRIES));
    const cache = new SubjectIndexCache(db);
    try {
      expect(await cache.read("t1", after("t1", DAYS[0]))).toHaveLength(SUBJECT_INDEX_CACHE_ENTRIES);
      expect(cache.size).toBe(1);
      await db.write(accounts(1, SUBJECT_INDEX_CACHE_ENTRIES));
      expect(cache.size).toBe(0);
      expect(await cache.read("t1", after("t1", DAYS[0]))).toEqual(await scan("t1", DAYS[0]));
      expect(cache.size).toBe(0);
    } finally {
      cache.detach();
    }
  });

  it("keeps a cached subject current with a committed write, and drops it when a write fails", async () => {
    const key = `t1${SEP}0a1b`;
    await db.write(writeOps([{ type: "put", key, value: "v1" }]));
    const cache = new SubjectIndexCache(db);
    try {
      expect(await cache.read("t1", after("t1", DAYS[0]))).toEqual([[key, "v1"]]);
      const entries = vi.spyOn(db, "entries");
      await db.write(writeOps([{ type: "put", key, value: "v2" }, { type: "put", key: `t1${SEP}0a1c`, value: "new" }]));
      // From memory, the write applied to it.
      expect(await cache.read("t1", after("t1", DAYS[0]))).toEqual([[key, "v2"], [`t1${SEP}0a1c`, "new"]]);
      expect(entries).not.toHaveBeenCalled();
      entries.mockRestore();
      expect(cache.size).toBe(1);
      await db.close();
      // The database refuses the write: the subject is no longer trusted in memory.
      await expect(db.write(writeOps([{ type: "put", key, value: "v3" }]))).rejects.toThrow();
      expect(cache.size).toBe(0);
    } finally {
      cache.detach();
      db = await NodeDatabase.open(tmp.dir);
    }
  });
});
