import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { Inquiry } from "../../../src/gen/creditmesh/v1/report.js";
import { LevelAuditLog } from "../../../src/audit/level-audit-log.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelInquiryStore } from "../../../src/store/level-inquiry-store.js";
import { LevelSubjectIndex } from "../../../src/store/level-subject-index.js";
import { MetaKey, subjectWindow } from "../../../src/store/keys.js";

let dir: string;
let db: NodeDatabase;
let store: LevelInquiryStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-inquiry-"));
  db = await NodeDatabase.open(dir);
  store = new LevelInquiryStore(db);
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const inquiry = (id: string, at: string, over: Partial<Inquiry> = {}): Inquiry => ({
  inquiryId: id,
  requesterInstitutionId: "bank-b",
  requesterName: "",
  purpose: Purpose.CREDIT_LIMIT_REVIEW,
  inquiredAt: new Date(at),
  ...over,
});

describe("LevelInquiryStore", () => {
  it("round-trips inquiries with their times, oldest first, per subject", async () => {
    const late = inquiry("q-2", "2026-03-05T12:00:00.123Z", { requesterName: "Bank B" });
    const early = inquiry("q-1", "2025-12-31T23:59:59.999Z", { purpose: Purpose.SUBJECT_REQUEST });
    await store.add("tok-1", late);
    await store.add("tok-1", early);
    await store.add("tok-11", inquiry("q-3", "2026-01-01T00:00:00.000Z"));
    await db.close();
    db = await NodeDatabase.open(dir);
    store = new LevelInquiryStore(db);
    const got = await store.listForSubject("tok-1");
    expect(got).toEqual([early, late]);
    expect(got[0].inquiredAt).toBeInstanceOf(Date);
    expect((await store.listForSubject("tok-11")).map((q) => q.inquiryId)).toEqual(["q-3"]);
    expect(await store.listForSubject("tok-2")).toEqual([]);
  });

  it("moves a log of the earlier layout into the subject index, once", async () => {
    const q1 = inquiry("q-1", "2026-01-02T00:00:00.000Z");
    const q2 = inquiry("q-2", "2026-01-03T00:00:00.000Z");
    // The earlier layout: the inq sublevel, <token>!<ISO time>!<id> → protobuf.
    await db.write(
      [q2, q1].map((q) => ({ type: "put" as const, sublevel: db.levels.inq, key: `tok-1!${q.inquiredAt!.toISOString()}!${q.inquiryId}`, value: Inquiry.encode(q).finish() })),
    );
    await store.add("tok-1", inquiry("q-3", "2026-01-04T00:00:00.000Z"));
    expect(await store.moveEarlierLog()).toBe(2);
    expect((await store.listForSubject("tok-1")).map((q) => q.inquiryId)).toEqual(["q-1", "q-2", "q-3"]);
    expect(await db.levels.inq.keys().all()).toEqual([]);
    expect(await store.moveEarlierLog()).toBe(0);
    expect((await store.destroyOps("tok-1")).inquiries).toBe(3);
  });

  it("logs a re-delivered inquiry once", async () => {
    const q = inquiry("q-1", "2026-01-02T00:00:00.000Z");
    await store.add("tok-1", q);
    await store.add("tok-1", { ...q });
    expect(await store.listForSubject("tok-1")).toHaveLength(1);
  });

  it("requires a time and safe ids", async () => {
    await expect(store.add("tok-1", inquiry("q-1", "x"))).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: "inquired_at" });
    await expect(store.add("tok-1", { ...inquiry("q-1", "2026-01-01T00:00:00Z"), inquiredAt: undefined })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(store.add("tok!1", inquiry("q-1", "2026-01-01T00:00:00Z"))).rejects.toMatchObject({ field: "subject_token" });
    await expect(store.add("tok-1", inquiry("", "2026-01-01T00:00:00Z"))).rejects.toMatchObject({ field: "inquiry_id" });
    expect(await store.listForSubject("tok-1")).toEqual([]);
  });

  it("hands its write to a given commit, such as one batch with an audit entry", async () => {
    const audit = await LevelAuditLog.open(db);
    const q = inquiry("q-1", "2026-01-02T00:00:00.000Z");
    await store.add("tok-1", q, { commit: (ops) => audit.appendWith("QUERY_ANSWERED", "bank-b", { requestId: "q-1" }, ops) });
    expect(await store.listForSubject("tok-1")).toEqual([q]);
    expect(audit.head.entries).toBe(1);
    expect((await audit.verify()).ok).toBe(true);

    // A commit that fails leaves nothing logged.
    await expect(store.add("tok-1", inquiry("q-2", "2026-01-03T00:00:00.000Z"), { commit: () => Promise.reject(new Error("disk full")) })).rejects.toThrow(
      "disk full",
    );
    expect((await store.listForSubject("tok-1")).map((i) => i.inquiryId)).toEqual(["q-1"]);
  });

  describe("window index", () => {
    const windowRead = (token: string, after: string) => new LevelSubjectIndex(db, { accountsFromIndex: async () => [] }).read(token, after);

    it("keeps the latest inquiry of each requester, purpose and day, and reads only the days after the one given", async () => {
      await store.add("tok-1", inquiry("q-1", "2026-03-01T08:00:00.000Z"));
      await store.add("tok-1", inquiry("q-2", "2026-03-01T09:00:00.000Z"));
      await store.add("tok-1", inquiry("q-3", "2026-03-01T10:00:00.000Z", { purpose: Purpose.LOAN_ORIGINATION }));
      await store.add("tok-1", inquiry("q-4", "2026-03-01T11:00:00.000Z", { requesterInstitutionId: "ecom-c" }));
      await store.add("tok-1", inquiry("q-5", "2026-03-02T11:00:00.000Z"));
      expect(await store.listForSubject("tok-1")).toHaveLength(5);
      expect((await windowRead("tok-1", "2026-02-28")).inquiries.map((q) => q.inquiryId).sort()).toEqual(["q-2", "q-3", "q-4", "q-5"]);
      expect((await windowRead("tok-1", "2026-03-01")).inquiries.map((q) => q.inquiryId)).toEqual(["q-5"]);
      expect((await windowRead("tok-2", "2026-02-28")).inquiries).toEqual([]);
    });

    it("is purged by day with the log, destroyed with it, and rebuilt once for a log written without it", async () => {
      await store.add("tok-1", inquiry("q-1", "2026-03-01T08:00:00.000Z"));
      await store.add("tok-1", inquiry("q-2", "2026-03-03T08:00:00.000Z"));
      // The index entry of a day goes once the whole day is before the cutoff.
      expect(await store.purgeBefore("2026-03-02T00:00:00.000Z")).toBe(1);
      expect((await windowRead("tok-1", "2026-01-01")).inquiries.map((q) => q.inquiryId)).toEqual(["q-2"]);

      await store.add("tok-1", inquiry("q-3", "2026-03-04T08:00:00.000Z", { requesterInstitutionId: "ecom-c" }));
      const windowKeys = await db.levels.subj.keys(subjectWindow("tok-1")).all();
      expect(windowKeys).toHaveLength(2);
      await db.write([...windowKeys.map((key) => ({ type: "del" as const, sublevel: db.levels.subj, key })), { type: "del", sublevel: db.levels.meta, key: MetaKey.inquiryWindowIndex }]);
      expect((await windowRead("tok-1", "2026-01-01")).inquiries).toEqual([]);
      expect(await store.buildWindowIndex()).toBe(2);
      expect((await windowRead("tok-1", "2026-01-01")).inquiries.map((q) => q.inquiryId)).toEqual(["q-2", "q-3"]);
      expect(await store.buildWindowIndex()).toBe(0);

      const destroy = await store.destroyOps("tok-1");
      expect(destroy.inquiries).toBe(2);
      await db.write(destroy.ops);
      expect(await db.levels.subj.keys().all()).toEqual([]);
    });
  });
});
