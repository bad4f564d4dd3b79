import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { QueryQuota } from "../../../src/report/query-quota.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelQueryQuotaStore } from "../../../src/store/level-query-quota-store.js";
import { isEmptyBatch, opsOf } from "../../../src/store/write-batch.js";

const T0 = Date.parse("2026-03-01T00:00:00Z");
const DAY_MS = 86_400_000;

describe("QueryQuota", () => {
  it("allows `limit` queries per member and subject a day, then refuses", () => {
    const quota = new QueryQuota(3);
    expect([1, 2, 3, 4].map((i) => quota.take("bank-a", "tok-1", T0 + i) !== undefined)).toEqual([true, true, true, false]);
    // Another subject, another member: their own quotas.
    expect(quota.take("bank-a", "tok-2", T0 + 5)).toBeDefined();
    expect(quota.take("ecom-c", "tok-1", T0 + 5)).toBeDefined();
    expect(quota.used("bank-a", "tok-1")).toBe(3);
  });

  it("starts afresh on the next UTC day, and forgets the day before", () => {
    const quota = new QueryQuota(1);
    expect(quota.take("bank-a", "tok-1", T0)).toBeDefined();
    expect(quota.take("bank-a", "tok-1", T0 + DAY_MS - 1)).toBeUndefined();
    expect(quota.take("bank-a", "tok-1", T0 + DAY_MS)).toBeDefined();
    expect(quota.size).toBe(1);
    // A clock stepping back does not reopen the earlier day.
    expect(quota.take("bank-a", "tok-1", T0 + DAY_MS - 10)).toBeUndefined();
  });

  it("0 disables it", () => {
    const quota = new QueryQuota(0);
    for (let i = 0; i < 1000; i++) expect(quota.take("bank-a", "tok-1", T0)).toBeDefined();
  });

  it("allows a member `memberPerDay` queries a day across subjects, then refuses it naming that quota, counting nothing", () => {
    const quota = new QueryQuota({ subjectPerDay: 2, memberPerDay: 3 });
    // Ever new subjects: the per-subject quota never bites, the member's does.
    expect(["tok-1", "tok-2", "tok-3"].map((t) => "refused" in quota.admit("bank-a", t, T0))).toEqual([false, false, false]);
    expect(quota.admit("bank-a", "tok-4", T0)).toEqual({ refused: "member", limit: 3 });
    expect(quota.take("bank-a", "tok-1", T0)).toBeUndefined();
    expect([quota.usedByMember("bank-a"), quota.used("bank-a", "tok-4")]).toEqual([3, 0]);
    // Another member has its own; the subject quota is still checked first.
    expect("refused" in quota.admit("ecom-c", "tok-1", T0)).toBe(false);
    expect("refused" in quota.admit("ecom-c", "tok-1", T0)).toBe(false);
    expect(quota.admit("ecom-c", "tok-1", T0)).toEqual({ refused: "subject", limit: 2 });
    expect(quota.usedByMember("ecom-c")).toBe(2);
    // The next day starts afresh.
    expect("refused" in quota.admit("bank-a", "tok-9", T0 + DAY_MS)).toBe(false);
    expect(quota.usedByMember("bank-a")).toBe(1);
  });

  it("counts across subjects with the per-subject quota off", () => {
    const quota = new QueryQuota({ subjectPerDay: 0, memberPerDay: 2 });
    expect("refused" in quota.admit("bank-a", "tok-1", T0)).toBe(false);
    expect("refused" in quota.admit("bank-a", "tok-1", T0)).toBe(false);
    expect(quota.admit("bank-a", "tok-1", T0)).toEqual({ refused: "member", limit: 2 });
  });

  describe("with a LevelDB store", () => {
    let dir: string;
    let db: NodeDatabase;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), "creditmesh-qquota-"));
      db = await NodeDatabase.open(dir);
    });
    afterEach(async () => {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    });

    const commit = async (grant: { batch: Parameters<typeof opsOf>[0] } | undefined): Promise<void> => {
      if (!grant) throw new Error("refused");
      await db.write(opsOf(grant.batch));
    };

    it("hands one put per query for the caller's batch, and reads the day's counts back after a reopen", async () => {
      const store = new LevelQueryQuotaStore(db);
      const quota = await QueryQuota.open(2, store, new Date(T0));
      const grant = quota.take("bank-a", "tok!with!seps", T0 + 1);
      expect(opsOf(grant!.batch)).toHaveLength(1);
      await commit(grant);
      await commit(quota.take("ecom-c", "tok-1", T0 + 2));
      await db.close();
      db = await NodeDatabase.open(dir);
      const reopened = await QueryQuota.open(2, new LevelQueryQuotaStore(db), new Date(T0 + 3));
      expect(reopened.used("bank-a", "tok!with!seps")).toBe(1);
      expect(reopened.used("ecom-c", "tok-1")).toBe(1);
      await commit(reopened.take("bank-a", "tok!with!seps", T0 + 4));
      expect(reopened.take("bank-a", "tok!with!seps", T0 + 5)).toBeUndefined();
    });

    it("reads each member's day across subjects back after a reopen", async () => {
      const limits = { subjectPerDay: 0, memberPerDay: 3 };
      const quota = await QueryQuota.open(limits, new LevelQueryQuotaStore(db), new Date(T0));
      for (const t of ["tok-1", "tok-2", "tok-2"]) await commit(quota.take("bank-a", t, T0 + 1));
      await db.close();
      db = await NodeDatabase.open(dir);
      const reopened = await QueryQuota.open(limits, new LevelQueryQuotaStore(db), new Date(T0 + 2));
      expect(reopened.usedByMember("bank-a")).toBe(3);
      expect(reopened.admit("bank-a", "tok-3", T0 + 3)).toEqual({ refused: "member", limit: 3 });
      expect("refused" in reopened.admit("ecom-c", "tok-3", T0 + 3)).toBe(false);
    });

    it("sweeps earlier days at open and when the day turns", async () => {
      const store = new LevelQueryQuotaStore(db);
      const quota = await QueryQuota.open(5, store, new Date(T0));
      await commit(quota.take("bank-a", "tok-1", T0));
      await commit(quota.take("bank-a", "tok-2", T0));
      expect(await store.countsOf("2026-03-01")).toHaveLength(2);
      const next = await QueryQuota.open(5, store, new Date(T0 + DAY_MS));
      expect(await store.countsOf("2026-03-01")).toEqual([]);
      expect(next.used("bank-a", "tok-1")).toBe(0);
      await commit(next.take("bank-a", "tok-1", T0 + DAY_MS));
      // The day turns while running: the count written that day is swept, today's starts at 1.
      await commit(next.take("bank-a", "tok-1", T0 + 2 * DAY_MS));
      await next.swept();
      expect(await store.countsOf("2026-03-02")).toEqual([]);
      expect(await store.countsOf("2026-03-03")).toEqual([{ member: "bank-a", subject: "tok-1", count: 1 }]);
    });

    it("a disabled quota writes nothing", async () => {
      const quota = await QueryQuota.open(0, new LevelQueryQuotaStore(db), new Date(T0));
      expect(isEmptyBatch(quota.take("bank-a", "tok-1", T0)!.batch)).toBe(true);
    });
  });
});
