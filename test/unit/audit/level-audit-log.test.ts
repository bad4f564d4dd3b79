import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { auditEntryHash, auditKey, GENESIS_HASH, LevelAuditLog } from "../../../src/audit/level-audit-log.js";
import type { AuditAction } from "../../../src/audit/trail.js";
import { ManualClock } from "../../../src/clock.js";
import { AuditEntry } from "../../../src/gen/creditmesh/v1/node.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { MetaKey } from "../../../src/store/keys.js";
import { EMPTY_BATCH } from "../../../src/store/write-batch.js";

let dir: string;
let db: NodeDatabase;
let clock: ManualClock;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-audit-"));
  db = await NodeDatabase.open(dir);
  clock = new ManualClock("2026-03-01T08:00:00.000Z");
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const ACTIONS: AuditAction[] = ["CONSENT_GRANTED", "QUERY_SENT", "QUERY_ANSWERED", "QUERY_REFUSED", "CONSENT_REVOKED"];

/** A trail of n entries appended one after another. */
async function filled(n: number): Promise<LevelAuditLog> {
  const log = await LevelAuditLog.open(db, { clock });
  for (let i = 0; i < n; i++) {
    clock.advance(1_000);
    await log.append(ACTIONS[i % ACTIONS.length]!, `key-${i % 3}`, { requestId: `req-${i}`, subjectToken: `${i}`.padStart(64, "a") });
  }
  return log;
}

async function entries(): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const [, bytes] of db.levels.audit.iterator()) out.push(AuditEntry.decode(bytes));
  return out;
}

describe("LevelAuditLog", () => {
  it("chains entries in append order and verifies them", async () => {
    const log = await filled(10);
    const all = await entries();
    expect(all.map((e) => e.position)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    expect(all[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.hash);
    for (const e of all) expect(auditEntryHash(e)).toBe(e.hash);
    expect(all[3]).toMatchObject({ action: "QUERY_REFUSED", actor: "key-0", details: { requestId: "req-3" }, at: new Date("2026-03-01T08:00:04.000Z") });
    expect(await log.verify()).toEqual({ ok: true, entries: 10, firstBadPosition: -1, reason: "", headHash: all[9]!.hash });
    const exported: AuditEntry[] = [];
    for await (const e of log.export()) exported.push(e);
    expect(exported).toEqual(all);
  });

  it("an empty trail verifies", async () => {
    const log = await LevelAuditLog.open(db, { clock });
    expect(await log.verify()).toMatchObject({ ok: true, entries: 0, headHash: GENESIS_HASH });
  });

  it("writes appends that arrive together in fewer batches, keeping their order", async () => {
    const log = await LevelAuditLog.open(db, { clock });
    const write = vi.spyOn(db, "write");
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append("QUERY_ANSWERED", "bank-b", { requestId: `req-${i}` })));
    expect(write.mock.calls.length).toBeLessThanOrEqual(3);
    const all = await entries();
    expect(all.map((e) => e.details.requestId)).toEqual(Array.from({ length: 200 }, (_, i) => `req-${i}`));
    expect((await log.verify()).ok).toBe(true);
  });

  it("an append resolves only once its entry is stored", async () => {
    const log = await LevelAuditLog.open(db, { clock });
    await log.append("BACKUP_TAKEN", "op", { keys: "12" });
    expect(await db.levels.audit.get(auditKey(0))).toBeDefined();
    expect(JSON.parse((await db.levels.meta.get(MetaKey.auditHead))!)).toEqual({ position: 0, hash: (await entries())[0]!.hash });
  });

  it("recovers its head after reopening and keeps chaining", async () => {
    const first = await filled(7);
    const head = first.head;
    await db.close();
    db = await NodeDatabase.open(dir);
    const reopened = await LevelAuditLog.open(db, { clock });
    expect(reopened.head).toEqual(head);
    await reopened.append("NODE_RESTORED", "operator", {});
    const all = await entries();
    expect(all).toHaveLength(8);
    expect(all[7]).toMatchObject({ position: "7", prevHash: all[6]!.hash });
    expect(await reopened.verify()).toMatchObject({ ok: true, entries: 8 });
  });

  it("refuses details that look like a raw ID number or phone", async () => {
    const log = await LevelAuditLog.open(db, { clock });
    expect(() => log.append("CONSENT_GRANTED", "k", { subject: "11010519920315421X" })).toThrow(/raw personal data/);
    expect(() => log.append("CONSENT_GRANTED", "k", { phone: "13800138000" })).toThrow(/raw personal data/);
  });
});

describe("audit verify names the first bad entry", () => {
  it("flipping any one byte of one entry's stored value is detected at that entry", async () => {
    const log = await filled(10);
    const key = auditKey(4);
    const original = (await db.levels.audit.get(key))!;
    expect(original.length).toBeGreaterThan(100);
    for (let i = 0; i < original.length; i++) {
      for (const mask of [0x01, 0xff]) {
        const edited = Uint8Array.from(original);
        edited[i] = edited[i]! ^ mask;
        await db.levels.audit.put(key, edited);
        const result = await log.verify();
        expect({ byte: i, mask, ok: result.ok, at: result.firstBadPosition }).toEqual({ byte: i, mask, ok: false, at: 4 });
        expect(result.entries).toBe(10);
      }
    }
    await db.levels.audit.put(key, original);
    expect((await log.verify()).ok).toBe(true);
  });

  it("an edited field is reported as an edit", async () => {
    const log = await filled(10);
    const e = AuditEntry.decode((await db.levels.audit.get(auditKey(6)))!);
    await db.levels.audit.put(auditKey(6), AuditEntry.encode({ ...e, actor: "someone-else" }).finish());
    expect(await log.verify()).toMatchObject({ ok: false, firstBadPosition: 6, reason: expect.stringMatching(/does not match its hash/) });
  });

  it("an entry edited with its hash recomputed breaks the link to the next one", async () => {
    const log = await filled(10);
    const e = AuditEntry.decode((await db.levels.audit.get(auditKey(3)))!);
    const forged = { ...e, details: { ...e.details, requestId: "forged" } };
    forged.hash = auditEntryHash(forged);
    await db.levels.audit.put(auditKey(3), AuditEntry.encode(forged).finish());
    expect(await log.verify()).toMatchObject({ ok: false, firstBadPosition: 4, reason: expect.stringMatching(/not chained/) });
  });

  it.each([0, 5, 9])("deleting entry %i is detected at that position", async (position) => {
    const log = await filled(10);
    await db.levels.audit.del(auditKey(position));
    const result = await log.verify();
    expect(result).toMatchObject({ ok: false, entries: 9, firstBadPosition: position, reason: expect.stringMatching(/missing/) });
  });

  it("deleting an entry and renumbering the rest is detected where the chain breaks", async () => {
    const log = await filled(10);
    const all = await entries();
    await db.levels.audit.clear();
    const kept = all.filter((e) => e.position !== "5");
    for (let i = 0; i < kept.length; i++) {
      const e = { ...kept[i]!, position: String(i) };
      e.hash = auditEntryHash(e);
      await db.levels.audit.put(auditKey(i), AuditEntry.encode(e).finish());
    }
    expect(await log.verify()).toMatchObject({ ok: false, firstBadPosition: 5 });
  });

  it.each([
    [2, 6],
    [3, 4],
    [0, 9],
  ])("swapping entries %i and %i is detected at the first of them", async (a, b) => {
    const log = await filled(10);
    const va = (await db.levels.audit.get(auditKey(a)))!;
    const vb = (await db.levels.audit.get(auditKey(b)))!;
    await db.levels.audit.put(auditKey(a), vb);
    await db.levels.audit.put(auditKey(b), va);
    const result = await log.verify();
    expect(result).toMatchObject({ ok: false, entries: 10, firstBadPosition: a, reason: expect.stringMatching(/reordered/) });
  });

  it("swapping two entries with their positions and hashes rewritten is detected at the first of them", async () => {
    const log = await filled(10);
    const all = await entries();
    const rewrite = async (at: number, from: AuditEntry) => {
      const e = { ...from, position: String(at) };
      e.hash = auditEntryHash(e);
      await db.levels.audit.put(auditKey(at), AuditEntry.encode(e).finish());
    };
    await rewrite(2, all[6]!);
    await rewrite(6, all[2]!);
    expect(await log.verify()).toMatchObject({ ok: false, firstBadPosition: 2, reason: expect.stringMatching(/not chained/) });
  });

  it("a removed head record is detected", async () => {
    const log = await filled(4);
    await db.levels.meta.del(MetaKey.auditHead);
    expect(await log.verify()).toMatchObject({ ok: false, firstBadPosition: 4, reason: expect.stringMatching(/head/) });
  });
});

describe("LevelAuditLog carrying transparency-log leaves", () => {
  it("writes concurrent entries and their leaves in one carried batch, each told the index of its own leaves", async () => {
    const carried: { ops: number; leaves: string[] }[] = [];
    let size = 40;
    const log = await LevelAuditLog.open(db, {
      clock,
      logCarrier: async (ops, leaves) => {
        carried.push({ ops: ops.length, leaves: leaves.map((l) => Buffer.from(l).toString()) });
        await db.write(ops);
        const first = size;
        size += leaves.length;
        return first;
      },
    });
    const leaf = (s: string) => [Buffer.from(s)];
    const [a, , c] = await Promise.all([
      log.appendLogged("QUERY_ANSWERED", "bank-a", { requestId: "r1" }, EMPTY_BATCH, leaf("q1")),
      log.append("CONSENT_GRANTED", "key-1", { consentId: "c1" }),
      log.appendLogged("QUERY_ANSWERED", "bank-b", { requestId: "r2" }, EMPTY_BATCH, [...leaf("q2"), ...leaf("q2b")]),
    ]);
    expect(carried).toEqual([{ ops: expect.any(Number), leaves: ["q1", "q2", "q2b"] }]);
    expect([a, c]).toEqual([40, 41]);
    expect((await entries()).map((e) => e.action)).toEqual(["QUERY_ANSWERED", "CONSENT_GRANTED", "QUERY_ANSWERED"]);
    // A group without leaves is a plain write.
    await log.append("CONSENT_REVOKED", "key-1", { consentId: "c1" });
    expect(carried).toHaveLength(1);
  });

  it("fails the whole group and writes nothing when the carried write fails", async () => {
    const log = await LevelAuditLog.open(db, { clock, logCarrier: async () => Promise.reject(new Error("disk full")) });
    const results = await Promise.allSettled([
      log.appendLogged("QUERY_ANSWERED", "bank-a", { requestId: "r1" }, EMPTY_BATCH, [Buffer.from("q1")]),
      log.append("CONSENT_GRANTED", "key-1", { consentId: "c1" }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await entries()).toEqual([]);
    expect(log.head).toEqual({ entries: 0, hash: GENESIS_HASH });
  });

  it("refuses leaves when it has no carrier", async () => {
    const log = await LevelAuditLog.open(db, { clock });
    await expect(log.appendLogged("QUERY_ANSWERED", "bank-a", {}, EMPTY_BATCH, [Buffer.from("q")])).rejects.toMatchObject({ code: "INTERNAL" });
  });
});
