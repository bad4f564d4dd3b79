import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Level } from "level";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ProductType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { DataCipher } from "../../../src/store/cipher.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelInquiryStore } from "../../../src/store/level-inquiry-store.js";
import { LevelRecordStore } from "../../../src/store/level-record-store.js";
import { LevelSubjectIndex } from "../../../src/store/level-subject-index.js";
import { openStores } from "../../../src/store/index.js";
import type { AccountPii, StoredAccount, StoredRepayment } from "../../../src/store/types.js";
import { subjectWindow } from "../../../src/store/keys.js";
import { opsOf } from "../../../src/store/write-batch.js";

let dir: string;
let db: NodeDatabase;
let store: LevelRecordStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-records-"));
  db = await NodeDatabase.open(dir);
  store = new LevelRecordStore(db);
  // As openStores() does: a new database starts with every account's highest installment filed.
  await store.buildLastInstallments();
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

async function reopen(): Promise<void> {
  await db.close();
  db = await NodeDatabase.open(dir);
  store = new LevelRecordStore(db);
  await store.buildLastInstallments();
}

function account(ref: string, subjectToken: string, over: Partial<StoredAccount> = {}): StoredAccount {
  return {
    accountRef: ref,
    subjectToken,
    pii: new Uint8Array([1, 2, 3, 250]),
    productType: ProductType.INSTALLMENT_LOAN,
    openedOn: "2025-03-01",
    closedOn: "",
    creditLimit: 50_000,
    termMonths: 3,
    currency: "CNY",
    chargedOff: false,
    furnishingConsentRef: "consent-1",
    updatedAt: "2026-01-01T00:00:00.000Z",
    ...over,
  };
}

function repayment(ref: string, installment: number, over: Partial<StoredRepayment> = {}): StoredRepayment {
  return {
    accountRef: ref,
    installment,
    dueOn: `2025-${String(3 + (installment % 9)).padStart(2, "0")}-01`,
    amountDue: 16_667,
    paidOn: "",
    amountPaid: 0,
    balanceAfter: 50_000 - installment * 16_667,
    ...over,
  };
}

/** Writes accounts the way the ingest service does: read previous, then write. */
async function write(accounts: StoredAccount[], repayments: StoredRepayment[] = []): Promise<void> {
  const previous = await store.getAccounts(accounts.map((a) => a.accountRef));
  await store.writeRecords(accounts, previous, repayments);
}

const refsOf = (accounts: readonly { accountRef: string }[]) => accounts.map((a) => a.accountRef).sort();

describe("LevelRecordStore", () => {
  it("round-trips accounts and repayments", async () => {
    const a = account("ref-a", "tok-1", { chargedOff: true, closedOn: "2025-09-01" });
    const reps = [repayment("ref-a", 1, { paidOn: "2025-04-01", amountPaid: 16_667 }), repayment("ref-a", 2)];
    await write([a], reps);
    expect(await store.getAccounts(["ref-a", "ref-missing"])).toEqual([a, undefined]);
    expect(await store.repaymentsForAccount("ref-a")).toEqual(reps);
    expect(await store.repaymentsForAccount("ref-missing")).toEqual([]);
    // The subject index carries the account's terms, never its sealed identity.
    const { pii: _sealed, ...terms } = a;
    expect(await store.accountsForSubject("tok-1")).toEqual([terms]);
    expect(await store.accountsForSubject("tok-none")).toEqual([]);
    const entries = await db.levels.subj.iterator().all();
    expect(entries.map(([, v]) => v).join("")).not.toContain(Buffer.from(a.pii).toString("base64"));
    expect(await store.counts()).toEqual({ accounts: 1, subjects: 1 });
    expect(await store.getAccounts([])).toEqual([]);
  });

  it("reads index entries written before they carried terms through the accounts, in ref order", async () => {
    const [a, b, c] = ["ref-a", "ref-b", "ref-c"].map((ref, i) => account(ref, "tok-1", { creditLimit: 100 + i }));
    await write([a, b, c], []);
    // The earlier layout: the entry's value is empty.
    await db.write([{ type: "put", sublevel: db.levels.subj, key: "tok-1!ref-b", value: "" }]);
    const read = await store.accountsForSubject("tok-1");
    expect(read.map((t) => [t.accountRef, t.creditLimit])).toEqual([
      ["ref-a", 100],
      ["ref-b", 101],
      ["ref-c", 102],
    ]);
    expect(read.every((t) => !("pii" in t))).toBe(true);
  });

  it("keeps a subject's accounts and inquiries apart in the subject index, and reads both with one scan", async () => {
    const a = account("ref-a", "tok-1");
    await write([a, account("ref-b", "tok-1"), account("ref-c", "tok-2")], []);
    const inquiries = new LevelInquiryStore(db);
    const q = { inquiryId: "q-1", requesterInstitutionId: "bank-b", requesterName: "", purpose: Purpose.LOAN_ORIGINATION, inquiredAt: new Date("2026-01-02T00:00:00.000Z") };
    await inquiries.add("tok-1", q);
    expect(refsOf(await store.accountsForSubject("tok-1"))).toEqual(["ref-a", "ref-b"]);
    const read = await new LevelSubjectIndex(db, store).read("tok-1", "2025-12-31");
    expect(read.accounts.map((t) => t.accountRef)).toEqual(["ref-a", "ref-b"]);
    expect(read.inquiries).toEqual([q]);
    expect(await new LevelSubjectIndex(db, store).read("tok-3", "2025-12-31")).toEqual({ accounts: [], inquiries: [] });
    // Destroying the subject's accounts leaves its inquiries to the inquiry store's own deletes.
    await store.destroy([], { subjectToken: "tok-1" });
    expect(await new LevelSubjectIndex(db, store).read("tok-1", "2025-12-31")).toEqual({ accounts: [], inquiries: [q] });
    // Only the window index after the given day is read.
    expect((await new LevelSubjectIndex(db, store).read("tok-1", "2026-01-02")).inquiries).toEqual([]);
    await expect(write([account("~q", "tok-1")], [])).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: "accounts[0].account_ref" });
    await expect(write([account("#w", "tok-1")], [])).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: "accounts[0].account_ref" });
  });

  it("orders repayments by installment number, not by text", async () => {
    await write([account("ref-a", "tok-1")], [10, 2, 1, 12, 3].map((n) => repayment("ref-a", n)));
    expect((await store.repaymentsForAccount("ref-a")).map((r) => r.installment)).toEqual([1, 2, 3, 10, 12]);
  });

  it("does not mix the repayments of accounts whose refs share a prefix", async () => {
    await write([account("ab", "t"), account("abc", "t")], [repayment("ab", 1), repayment("abc", 1), repayment("abc", 2)]);
    expect(await store.repaymentsForAccount("ab")).toHaveLength(1);
    expect(await store.repaymentsForAccount("abc")).toHaveLength(2);
  });

  it("updates a repayment in place when it is re-submitted", async () => {
    await write([account("ref-a", "tok-1")], [repayment("ref-a", 1)]);
    await store.writeRecords([], [], [repayment("ref-a", 1, { paidOn: "2025-04-03", amountPaid: 16_667 })]);
    const reps = await store.repaymentsForAccount("ref-a");
    expect(reps).toHaveLength(1);
    expect(reps[0].paidOn).toBe("2025-04-03");
  });

  it("keeps counts right when an existing account is updated", async () => {
    await write([account("ref-a", "tok-1"), account("ref-b", "tok-1"), account("ref-c", "tok-2")]);
    expect(await store.counts()).toEqual({ accounts: 3, subjects: 2 });
    await write([account("ref-a", "tok-1", { closedOn: "2025-12-01" }), account("ref-c", "tok-2", { creditLimit: 1 })]);
    expect(await store.counts()).toEqual({ accounts: 3, subjects: 2 });
    expect((await store.getAccounts(["ref-a"]))[0]?.closedOn).toBe("2025-12-01");
  });

  it("counts two new accounts of one new subject in one batch as one subject", async () => {
    await write([account("ref-a", "tok-new"), account("ref-b", "tok-new")]);
    expect(await store.counts()).toEqual({ accounts: 2, subjects: 1 });
  });

  it("applies repeated refs in one batch in order and counts them once", async () => {
    await write([account("ref-a", "tok-1"), account("ref-a", "tok-2", { creditLimit: 9 })]);
    expect(await store.counts()).toEqual({ accounts: 1, subjects: 1 });
    expect(refsOf(await store.accountsForSubject("tok-1"))).toEqual([]);
    expect((await store.accountsForSubject("tok-2"))[0]?.creditLimit).toBe(9);
  });

  it("moves the subject index when an account changes subject", async () => {
    await write([account("ref-a", "tok-1"), account("ref-b", "tok-1")]);
    await write([account("ref-a", "tok-2")]);
    expect(refsOf(await store.accountsForSubject("tok-1"))).toEqual(["ref-b"]);
    expect(refsOf(await store.accountsForSubject("tok-2"))).toEqual(["ref-a"]);
    expect(await store.counts()).toEqual({ accounts: 2, subjects: 2 });

    // tok-1 loses its last account, tok-2 already existed: one subject less.
    await write([account("ref-b", "tok-2")]);
    expect(refsOf(await store.accountsForSubject("tok-1"))).toEqual([]);
    expect(refsOf(await store.accountsForSubject("tok-2"))).toEqual(["ref-a", "ref-b"]);
    expect(await store.counts()).toEqual({ accounts: 2, subjects: 1 });

    // Swapping two accounts' subjects in one batch changes no count.
    await write([account("ref-c", "tok-3")]);
    await write([account("ref-a", "tok-3"), account("ref-c", "tok-2")]);
    expect(refsOf(await store.accountsForSubject("tok-2"))).toEqual(["ref-b", "ref-c"]);
    expect(refsOf(await store.accountsForSubject("tok-3"))).toEqual(["ref-a"]);
    expect(await store.counts()).toEqual({ accounts: 3, subjects: 2 });
  });

  it("does not trust a stale `previous` from the caller", async () => {
    await write([account("ref-a", "tok-1")]);
    // The caller claims ref-a is new and was read before it was written.
    await store.writeRecords([account("ref-a", "tok-2")], [undefined], []);
    expect(await store.counts()).toEqual({ accounts: 1, subjects: 1 });
    expect(refsOf(await store.accountsForSubject("tok-1"))).toEqual([]);
  });

  it("keeps counts right under concurrent batches", async () => {
    const batches = Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 10 }, (_, i) => account(`ref-${(b * 7 + i) % 50}`, `tok-${(b + i) % 13}`)),
    );
    await Promise.all(batches.map((accounts) => store.writeRecords(accounts, accounts.map(() => undefined), [])));
    await expectConsistent();
  });

  it("agrees with a model of the accounts after any sequence of batches", async () => {
    const refs = ["r0", "r1", "r2", "r3", "r4", "r5"];
    const tokens = ["t0", "t1", "t2", "t3"];
    const batch = fc.array(fc.tuple(fc.constantFrom(...refs), fc.constantFrom(...tokens)), { maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(fc.array(batch, { minLength: 1, maxLength: 6 }), async (batches) => {
        await reopenEmpty();
        const model = new Map<string, string>();
        for (const b of batches) {
          await write(b.map(([ref, tok]) => account(ref, tok)));
          for (const [ref, tok] of b) model.set(ref, tok);
        }
        const subjects = new Set(model.values());
        expect(await store.counts()).toEqual({ accounts: model.size, subjects: subjects.size });
        for (const tok of tokens) {
          const expected = [...model].filter(([, t]) => t === tok).map(([r]) => r).sort();
          expect(refsOf(await store.accountsForSubject(tok))).toEqual(expected);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("rejects bad input before writing anything", async () => {
    await expect(store.writeRecords([account("ok", "tok-1")], [undefined], [repayment("ok", 0)])).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      field: "installment",
    });
    await expect(store.writeRecords([account("a!b", "tok-1")], [undefined], [])).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      field: "accounts[0].account_ref",
    });
    await expect(store.writeRecords([account("ok", "")], [undefined], [])).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      field: "accounts[0].subject_token",
    });
    expect(await store.getAccounts(["ok"])).toEqual([undefined]);
    expect(await store.counts()).toEqual({ accounts: 0, subjects: 0 });
  });

  it("makes an acknowledged batch fully visible after reopening", async () => {
    const accounts = Array.from({ length: 300 }, (_, i) => account(`ref-${i}`, `tok-${i % 120}`));
    const reps = accounts.flatMap((a) => [1, 2, 3].map((n) => repayment(a.accountRef, n)));
    await write(accounts, reps);
    await reopen();
    expect(await store.counts()).toEqual({ accounts: 300, subjects: 120 });
    const got = await store.getAccounts(accounts.map((a) => a.accountRef));
    expect(got).toEqual(accounts);
    for (const i of [0, 150, 299]) {
      expect(await store.repaymentsForAccount(`ref-${i}`)).toHaveLength(3);
    }
    await expectConsistent();
  });

  it("reports an unreadable stored account as STORE_CORRUPT", async () => {
    await db.write([{ type: "put", sublevel: db.levels.acct, key: "ref-x", value: "{not json" }]);
    await expect(store.getAccounts(["ref-x"])).rejects.toMatchObject({ code: "STORE_CORRUPT" });
  });

  it("destroys accounts with their repayments and index entries", async () => {
    await write([account("ref-a", "tok-1"), account("ref-b", "tok-1"), account("ref-c", "tok-2")], [
      repayment("ref-a", 1),
      repayment("ref-a", 2),
      repayment("ref-c", 1),
    ]);
    expect(await store.deleteAccounts(["ref-a", "ref-c", "ref-unknown"])).toBe(2);
    expect(await store.getAccounts(["ref-a", "ref-c"])).toEqual([undefined, undefined]);
    expect(await store.repaymentsForAccount("ref-a")).toEqual([]);
    expect(await store.repaymentsForAccount("ref-c")).toEqual([]);
    expect(refsOf(await store.accountsForSubject("tok-1"))).toEqual(["ref-b"]);
    expect(await store.accountsForSubject("tok-2")).toEqual([]);
    expect(await store.counts()).toEqual({ accounts: 1, subjects: 1 });
    const leftovers = await db.levels.subj.keys().all();
    expect(leftovers.filter((k) => k.includes("ref-a") || k.includes("ref-c") || k.startsWith("tok-2"))).toEqual([]);
  });

  it("never writes raw identity data to the database files in clear", async () => {
    const cipher = new DataCipher([{ id: "k1", key: new Uint8Array(randomBytes(32)) }]);
    const people: AccountPii[] = Array.from({ length: 50 }, (_, i) => ({
      accountId: `LOAN-ACCT-${100000 + i}`,
      idType: "CN_RESIDENT_ID",
      idNumber: `1101051990010${String(1000 + i)}X`.slice(0, 18),
      name: `测试姓名${i}号`,
      phone: `+86139${String(10000000 + i)}`,
    }));
    const accounts = people.map((p, i) => {
      const ref = `ref${String(i).padStart(4, "0")}`;
      return account(ref, `subjtoken${i}`, { pii: cipher.sealPii(p, ref) });
    });
    await write(accounts, accounts.map((a) => repayment(a.accountRef, 1)));
    await db.close();
    const secrets = people.flatMap((p) => [p.accountId, p.idNumber, p.name, p.phone]);

    // Closing leaves the batch in LevelDB's write-ahead log, uncompressed.
    const files = await readdir(dir);
    const contents = await Promise.all(files.map((f) => readFile(join(dir, f))));
    const onDisk = (s: string) => contents.some((c) => c.includes(Buffer.from(s, "utf8")));
    // The search itself works: what is meant to be stored is found.
    expect(onDisk("subjtoken7")).toBe(true);
    expect(onDisk("ref0007")).toBe(true);
    for (const secret of secrets) expect(onDisk(secret), secret).toBe(false);

    // After reopening, tables may be compressed; read every raw key and value instead.
    const raw = new Level<string, Uint8Array>(dir, { valueEncoding: "view" });
    await raw.open();
    const entries = await raw.iterator().all();
    await raw.close();
    const stored = entries.map(([k, v]) => Buffer.concat([Buffer.from(k, "utf8"), Buffer.from(v)]));
    expect(stored.some((b) => b.includes(Buffer.from("subjtoken7")))).toBe(true);
    for (const secret of secrets) {
      expect(stored.some((b) => b.includes(Buffer.from(secret, "utf8"))), secret).toBe(false);
    }

    db = await NodeDatabase.open(dir);
    store = new LevelRecordStore(db);
    expect(cipher.openPii((await store.getAccounts(["ref0007"]))[0]!.pii, "ref0007")).toEqual(people[7]);
  });
});

async function reopenEmpty(): Promise<void> {
  await db.close();
  await rm(dir, { recursive: true, force: true });
  dir = await mkdtemp(join(tmpdir(), "creditmesh-records-"));
  db = await NodeDatabase.open(dir);
  store = new LevelRecordStore(db);
  await store.buildLastInstallments();
}

/** The index, the per-subject counts and the counters all describe the stored accounts. */
async function expectConsistent(): Promise<void> {
  const accounts = await db.levels.acct.iterator().all();
  const byToken = new Map<string, string[]>();
  for (const [ref, json] of accounts) {
    const tok = (JSON.parse(json) as { subjectToken: string }).subjectToken;
    byToken.set(tok, [...(byToken.get(tok) ?? []), ref]);
  }
  expect(await store.counts()).toEqual({ accounts: accounts.length, subjects: byToken.size });
  const index = await db.levels.subj.iterator().all();
  const entries = index.filter(([k]) => k.includes("!")).map(([k]) => k).sort();
  const expected = [...byToken].flatMap(([tok, refs]) => refs.map((r) => `${tok}!${r}`)).sort();
  expect(entries).toEqual(expected);
  const perToken = Object.fromEntries(index.filter(([k]) => !k.includes("!")));
  expect(perToken).toEqual(Object.fromEntries([...byToken].map(([tok, refs]) => [tok, String(refs.length)])));
}

describe("record versions", () => {
  /** Writes through commitVersioned, committing the batch as the node's log would (with writes of its own), and returns the versions. */
  async function versioned(accounts: StoredAccount[], repayments: StoredRepayment[] = []) {
    let seen: { accounts: [string, number][]; repayments: [string, number][] } | undefined;
    await store.writeRecords(accounts, accounts.map(() => undefined), repayments, {
      commitVersioned: async (batch, written) => {
        seen = {
          accounts: written.accounts.map((a) => [a.account.accountRef, a.version]),
          repayments: written.repayments.map((r) => [`${r.repayment.accountRef}#${r.repayment.installment}`, r.version]),
        };
        await db.write(opsOf(batch));
      },
    });
    return seen!;
  }

  it("count each record's versions in its own value: 1 at first, +1 per write, the last of a batch counted once", async () => {
    expect(await versioned([account("ref-a", "tok-1")], [repayment("ref-a", 1), repayment("ref-a", 2)])).toEqual({
      accounts: [["ref-a", 1]],
      repayments: [["ref-a#1", 1], ["ref-a#2", 1]],
    });
    expect(await versioned([account("ref-a", "tok-1", { creditLimit: 9 }), account("ref-a", "tok-1", { creditLimit: 10 })], [repayment("ref-a", 2, { amountPaid: 5 })])).toEqual({
      accounts: [["ref-a", 2]],
      repayments: [["ref-a#2", 2]],
    });
    // A write without versions keeps an account's count; the next counted write goes on from it.
    await store.writeRecords([account("ref-a", "tok-1", { creditLimit: 11 })], [undefined], []);
    await reopen();
    expect((await versioned([account("ref-a", "tok-1", { creditLimit: 12 })], [repayment("ref-a", 1, { amountPaid: 7 })])).accounts).toEqual([["ref-a", 3]]);
    // The version is not part of what is read back, and a first version is stored as without versions.
    const [a] = await store.getAccounts(["ref-a"]);
    expect(a).not.toHaveProperty("v");
    expect((await store.repaymentsForAccount("ref-a"))[0]).toEqual(repayment("ref-a", 1, { amountPaid: 7 }));
    const raw = await db.levels.rep.get(`ref-a${"!"}00002`);
    expect(raw).toContain('"v":2');
    expect(await db.levels.rep.get(`ref-a${"!"}00001`)).toContain('"v":2');
  });

  it("write nothing when the commit fails", async () => {
    await expect(
      store.writeRecords([account("ref-z", "tok-9")], [undefined], [repayment("ref-z", 1)], {
        commitVersioned: async () => {
          throw new Error("disk full");
        },
      }),
    ).rejects.toThrow("disk full");
    expect(await store.getAccounts(["ref-z"])).toEqual([undefined]);
    expect(await store.counts()).toEqual({ accounts: 0, subjects: 0 });
  });
});

describe("repayments read by key", () => {
  /** What a range scan of the account's keys returns: the reads by key must return exactly this. */
  async function scanned(ref: string): Promise<StoredRepayment[]> {
    return (await store.repaymentsForAccounts([ref])).get(ref)!;
  }

  /** Range reads made by `fn`. */
  async function rangeReads(fn: () => Promise<unknown>): Promise<number> {
    const spy = vi.spyOn(db, "entries");
    try {
      await fn();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  }

  /** The earlier layout: repayments without a highest installment, and no mark that every account has one. */
  async function forgetLastInstallments(): Promise<void> {
    const keys = await db.levels.replast.keys().all();
    await db.write([
      ...keys.map((key) => ({ type: "del" as const, sublevel: db.levels.replast, key })),
      { type: "del", sublevel: db.levels.meta, key: "repayments:last-index" },
    ]);
  }

  it("return what a range scan returns, in installment order, after any sequence of batches, re-submissions and deletions", async () => {
    const refs = ["r0", "r1", "r10", "r2"];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("write" as const),
        versioned: fc.boolean(),
        repayments: fc.array(fc.tuple(fc.constantFrom(...refs), fc.oneof(fc.integer({ min: 1, max: 14 }), fc.integer({ min: 118, max: 125 })), fc.nat(1000)), { maxLength: 8 }),
      }),
      fc.record({ kind: fc.constant("destroy" as const), ref: fc.constantFrom(...refs) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
        await reopenEmpty();
        await write(refs.map((ref) => account(ref, "tok-1")));
        const model = new Map<string, Map<number, StoredRepayment>>(refs.map((ref) => [ref, new Map()]));
        for (const o of ops) {
          if (o.kind === "destroy") {
            await store.destroy([o.ref]);
            model.set(o.ref, new Map());
            await write([account(o.ref, "tok-1")]);
            continue;
          }
          const reps = o.repayments.map(([ref, n, paid]) => repayment(ref, n, { amountPaid: paid }));
          await store.writeRecords([], [], reps, o.versioned ? { commitVersioned: (batch) => db.write(opsOf(batch)) } : undefined);
          for (const r of reps) model.get(r.accountRef)!.set(r.installment, r);
        }
        for (const ref of refs) {
          const expected = [...model.get(ref)!.values()].sort((a, b) => a.installment - b.installment);
          let read: StoredRepayment[] = [];
          const reads = await rangeReads(async () => (read = await store.repaymentsForAccount(ref)));
          expect(read).toEqual(expected);
          expect(read).toEqual(await scanned(ref));
          // Up to ten years of monthly installments are read by key; beyond, by range.
          expect(reads).toBe(expected.some((r) => r.installment > 120) ? 1 : 0);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("read an account without repayments without a range scan", async () => {
    await write([account("ref-a", "tok-1")]);
    expect(await rangeReads(async () => expect(await store.repaymentsForAccount("ref-a")).toEqual([]))).toBe(0);
    expect(await rangeReads(async () => expect(await store.repaymentsForAccount("ref-unknown")).toEqual([]))).toBe(0);
  });

  it("keep a database written before them readable, and file it once at open", async () => {
    const reps = [repayment("ref-a", 1), repayment("ref-a", 3, { amountPaid: 9 }), repayment("ref-b", 2), repayment("ref-c", 1)];
    await write([account("ref-a", "tok-1"), account("ref-b", "tok-1"), account("ref-c", "tok-2"), account("ref-d", "tok-2")], reps);
    await forgetLastInstallments();
    // A key no installment writes (not zero-padded) is still read, by range.
    await db.write([{ type: "put", sublevel: db.levels.rep, key: "ref-c!7", value: (await db.levels.rep.get("ref-c!00001"))! }]);
    await db.close();
    db = await NodeDatabase.open(dir);
    store = new LevelRecordStore(db);
    const before = new Map<string, StoredRepayment[]>();
    for (const ref of ["ref-a", "ref-b", "ref-c", "ref-d"]) before.set(ref, await scanned(ref));
    expect(before.get("ref-c")!.map((r) => r.installment)).toEqual([1, 7]);

    // Not filed yet: every account is read by range, and a write meanwhile does not make the earlier ones unreadable.
    expect(await rangeReads(async () => expect(await store.repaymentsForAccount("ref-a")).toEqual(before.get("ref-a")))).toBe(1);
    await store.writeRecords([], [], [repayment("ref-a", 2)]);
    before.set("ref-a", await scanned("ref-a"));
    expect(before.get("ref-a")!.map((r) => r.installment)).toEqual([1, 2, 3]);
    expect(await store.repaymentsForAccount("ref-a")).toEqual(before.get("ref-a"));

    expect(await store.buildLastInstallments()).toBe(3);
    expect(await db.levels.replast.get("ref-a")).toBe("3");
    expect(await db.levels.replast.get("ref-c")).toBe("scan");
    expect(await db.levels.replast.get("ref-d")).toBeUndefined();
    for (const ref of ["ref-a", "ref-b", "ref-d"]) {
      expect(await rangeReads(async () => expect(await store.repaymentsForAccount(ref)).toEqual(before.get(ref)))).toBe(0);
    }
    expect(await rangeReads(async () => expect(await store.repaymentsForAccount("ref-c")).toEqual(before.get("ref-c")))).toBe(1);
    // An account read by range stays so when written again.
    await store.writeRecords([], [], [repayment("ref-c", 2)]);
    expect(await db.levels.replast.get("ref-c")).toBe("scan");
    expect((await store.repaymentsForAccount("ref-c")).map((r) => r.installment)).toEqual([1, 2, 7]);

    // Once filed, never again, and a reopened store reads by key from the start.
    await db.close();
    db = await NodeDatabase.open(dir);
    store = new LevelRecordStore(db);
    expect(await rangeReads(async () => expect(await store.repaymentsForAccount("ref-a")).toEqual(before.get("ref-a")))).toBe(0);
    expect(await store.buildLastInstallments()).toBe(0);
  });

  it("are filed when openStores() opens a database written before them", async () => {
    await write([account("ref-a", "tok-1"), account("ref-b", "tok-1")], [repayment("ref-a", 2), repayment("ref-a", 5), repayment("ref-b", 1)]);
    const expected = await scanned("ref-a");
    await forgetLastInstallments();
    await db.close();
    const stores = await openStores(dir, { dataKeys: [{ id: "k1", key: new Uint8Array(randomBytes(32)) }] });
    try {
      expect(await stores.db.levels.replast.get("ref-a")).toBe("5");
      expect(await stores.db.levels.meta.get("repayments:last-index")).toBe("1");
      const spy = vi.spyOn(stores.db, "entries");
      expect(await stores.records.repaymentsForAccount("ref-a")).toEqual(expected);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      await stores.close();
    }
    db = await NodeDatabase.open(dir);
    store = new LevelRecordStore(db);
  });

  it("are rebuilt, with the inquiry window index, when openStores() upgrades a database of schema 1 an earlier node wrote around them", async () => {
    await write([account("ref-a", "tok-1")], [repayment("ref-a", 1), repayment("ref-a", 2)]);
    const inquiries = new LevelInquiryStore(db);
    await inquiries.add("tok-1", { inquiryId: "q-1", requesterInstitutionId: "bank-a", requesterName: "", purpose: Purpose.LOAN_ORIGINATION, inquiredAt: new Date("2026-03-01T08:00:00.000Z") });
    expect(await db.levels.replast.get("ref-a")).toBe("2");
    // What a node of schema 1 leaves, its indexes marked done by a later node it ran after: a repayment
    // without its replast entry, and an inquiry without its window index entry.
    const windowKeys = await db.levels.subj.keys(subjectWindow("tok-1")).all();
    expect(windowKeys).toHaveLength(1);
    // And what its purges leave: the replast entry of an account it deleted, the window entry of an inquiry it purged.
    await db.write([
      { type: "put", sublevel: db.levels.rep, key: "ref-a!00003", value: (await db.levels.rep.get("ref-a!00002"))! },
      ...windowKeys.map((key) => ({ type: "del" as const, sublevel: db.levels.subj, key })),
      { type: "put", sublevel: db.levels.replast, key: "ref-gone", value: "4" },
      { type: "put", sublevel: db.levels.subj, key: windowKeys[0]!.replace("tok-1", "tok-gone"), value: (await db.levels.subj.get(windowKeys[0]!))! },
      { type: "put", sublevel: db.levels.meta, key: "schema", value: "1" },
    ]);
    expect((await store.repaymentsForAccount("ref-a")).map((r) => r.installment)).toEqual([1, 2]);
    await db.close();

    const stores = await openStores(dir, { dataKeys: [{ id: "k1", key: new Uint8Array(randomBytes(32)) }] });
    try {
      expect(await stores.db.levels.meta.get("schema")).toBe("2");
      expect(stores.db.earlierSchema).toBeUndefined();
      expect(await stores.db.levels.replast.get("ref-a")).toBe("3");
      expect((await stores.records.repaymentsForAccount("ref-a")).map((r) => r.installment)).toEqual([1, 2, 3]);
      expect((await stores.subjects.read("tok-1", "2026-01-01")).inquiries.map((q) => q.inquiryId)).toEqual(["q-1"]);
      expect(await stores.db.levels.replast.keys().all()).toEqual(["ref-a"]);
      expect((await stores.subjects.read("tok-gone", "2026-01-01")).inquiries).toEqual([]);
    } finally {
      await stores.close();
    }
    db = await NodeDatabase.open(dir);
    store = new LevelRecordStore(db);
    expect(db.earlierSchema).toBeUndefined();
  });

  it("go with their account when it is destroyed", async () => {
    await write([account("ref-a", "tok-1")], [repayment("ref-a", 1), repayment("ref-a", 2)]);
    expect(await db.levels.replast.get("ref-a")).toBe("2");
    await store.deleteAccounts(["ref-a"]);
    expect(await db.levels.replast.keys().all()).toEqual([]);
  });
});
