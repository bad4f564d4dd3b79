import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { silentLogger } from "../../../src/logger.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { MetaKey } from "../../../src/store/keys.js";
import { opsOf } from "../../../src/store/write-batch.js";
import { SubjectPurge } from "../../../src/store/subject-purge.js";
import { findInDatabase, scanLevelDb } from "../../helpers/leveldb-scan.js";
import { consent, dispute, openFixture, RecordingAudit, repayment, sealedAccount, type StoreFixture } from "./data-protection-fixture.js";

/** Realistic tokens (64 hex), so that a search for one cannot match anything else. */
const TOK_A = createHash("sha256").update("subject a").digest("hex");
const TOK_B = createHash("sha256").update("subject b").digest("hex");
const REF = (n: number) => createHash("sha256").update(`account ${n}`).digest("hex");

let f: StoreFixture;
let audit: RecordingAudit;

beforeEach(async () => {
  f = await openFixture();
  audit = new RecordingAudit();
});

afterEach(async () => {
  await f.close();
});

function purger(): SubjectPurge {
  return new SubjectPurge({ ...f.stores, audit, logger: silentLogger() });
}

/** Subject A: two accounts (3 repayments), 2 consents, 2 inquiries, 2 disputes; subject B: one of each. */
async function seed(): Promise<void> {
  const { records, consents, inquiries, disputes } = f.stores;
  const accounts = [sealedAccount(f, REF(1), TOK_A, {}, 1), sealedAccount(f, REF(2), TOK_A, {}, 2), sealedAccount(f, REF(3), TOK_B, {}, 3)];
  await records.writeRecords(accounts, [undefined, undefined, undefined], [
    repayment(REF(1), 1),
    repayment(REF(1), 2),
    repayment(REF(2), 1),
    repayment(REF(3), 1),
  ]);
  await consents.put(consent("consent-a1", TOK_A));
  await consents.put(consent("consent-a2", TOK_A));
  await consents.put(consent("consent-b1", TOK_B));
  await consents.putRevocation("bank-a", "consent-a2", new Date("2026-01-05T00:00:00Z"));
  for (const [token, id] of [[TOK_A, "inq-a1"], [TOK_A, "inq-a2"], [TOK_B, "inq-b1"]] as const) {
    await inquiries.add(token, {
      inquiryId: id,
      requesterInstitutionId: "bank-b",
      requesterName: "",
      purpose: Purpose.LOAN_ORIGINATION,
      inquiredAt: new Date("2026-01-03T00:00:00Z"),
    });
  }
  await disputes.put(dispute("dispute-a1", REF(1), TOK_A));
  // Filed here about another holder's tradeline: found by the subject token, not by a local account.
  await disputes.put(dispute("dispute-a-remote", "remote-ref", TOK_A, { institutionId: "bank-c" }));
  await disputes.put(dispute("dispute-b1", REF(3), TOK_B));
}

describe("SubjectPurge", () => {
  it("destroys every record of the subject in one batch and leaves other subjects alone", async () => {
    await seed();
    const { queryQuota } = f.stores;
    await f.stores.db.write([...opsOf(queryQuota.countWrite("2026-03-01", "bank-a", TOK_A, 3)), ...opsOf(queryQuota.countWrite("2026-03-01", "bank-a", TOK_B, 1))]);
    const result = await purger().purge(TOK_A, "ERASURE-2026-0042", "operator-key");
    expect(result).toEqual({ subjectToken: TOK_A, accounts: 2, repayments: 3, inquiries: 2, consents: 2, disputes: 2 });
    // The day's query counts name the token: A's go, B's stay.
    expect(await queryQuota.countsOf("2026-03-01")).toEqual([{ member: "bank-a", subject: TOK_B, count: 1 }]);

    const { records, consents, inquiries, disputes, db } = f.stores;
    expect(await records.accountsForSubject(TOK_A)).toEqual([]);
    expect(await records.getAccounts([REF(1), REF(2)])).toEqual([undefined, undefined]);
    expect(await records.repaymentsForAccount(REF(1))).toEqual([]);
    expect(await db.levels.subj.keys({ gte: TOK_A, lte: TOK_A + "~" }).all()).toEqual([]);
    expect(await records.counts()).toEqual({ accounts: 1, subjects: 1 });
    expect(await inquiries.listForSubject(TOK_A)).toEqual([]);
    expect(await consents.listForSubject(TOK_A)).toEqual([]);
    expect(await consents.get("consent-a1")).toBeUndefined();
    expect(await disputes.get("dispute-a1")).toBeUndefined();
    expect(await disputes.get("dispute-a-remote")).toBeUndefined();
    expect(await disputes.listForAccount(REF(1))).toEqual([]);

    // Subject B is untouched; a revocation (a consent id and a time) stays, so a copied consent stays refused.
    expect((await records.accountsForSubject(TOK_B)).map((a) => a.accountRef)).toEqual([REF(3)]);
    expect(await records.repaymentsForAccount(REF(3))).toHaveLength(1);
    expect(await inquiries.listForSubject(TOK_B)).toHaveLength(1);
    expect(await consents.listForSubject(TOK_B)).toHaveLength(1);
    expect((await disputes.listOpen()).map((d) => d.disputeId)).toEqual(["dispute-b1"]);
    expect(await consents.getRevocation("bank-a", "consent-a2")).toEqual(new Date("2026-01-05T00:00:00Z"));

    expect(audit.entries).toEqual([
      {
        action: "SUBJECT_PURGED",
        actor: "operator-key",
        details: { subject_token: TOK_A, request_ref: "ERASURE-2026-0042", accounts: "2", repayments: "3", inquiries: "2", consents: "2", disputes: "2" },
      },
    ]);
  });

  it("leaves no trace of the subject's token or refs in any database file once closed", async () => {
    await seed();
    // Some of the data in table files, some only in the write-ahead log.
    await f.reopen();
    await f.stores.inquiries.add(TOK_A, {
      inquiryId: "inq-a3",
      requesterInstitutionId: "bank-b",
      requesterName: "",
      purpose: Purpose.LOAN_ORIGINATION,
      inquiredAt: new Date("2026-01-04T00:00:00Z"),
    });
    const before = scanLevelDb(join(f.dir, "db"));
    expect(findInDatabase(before, TOK_A).length).toBeGreaterThan(0);
    expect(before.stats.tables).toBeGreaterThan(0);

    await purger().purge(TOK_A, "ERASURE-1", "op");
    await f.stores.close();
    const after = scanLevelDb(join(f.dir, "db"));
    for (const needle of [TOK_A, REF(1), REF(2), "consent-a1", "dispute-a1"]) {
      expect(findInDatabase(after, needle, { alsoRawEverywhere: true }), needle).toEqual([]);
    }
    // Positive control: subject B is still there, found by the same scan.
    expect(findInDatabase(after, TOK_B).length).toBeGreaterThan(0);
    expect(findInDatabase(after, REF(3)).length).toBeGreaterThan(0);
    await f.reopen();
    expect(await f.stores.db.levels.meta.get(MetaKey.forgetPending)).toBeUndefined();
  });

  it("completes the destruction at the next open if the process stopped after the batch", async () => {
    await seed();
    await f.reopen();
    // The purge's batch is durable, but the process dies before forget() has run.
    f.stores.db.forget = () => Promise.reject(new Error("killed"));
    await expect(purger().purge(TOK_A, "ERASURE-3", "op")).rejects.toThrow("killed");
    expect(await f.stores.records.accountsForSubject(TOK_A)).toEqual([]);
    await f.stores.close();
    expect(findInDatabase(scanLevelDb(join(f.dir, "db")), TOK_A).length).toBeGreaterThan(0);

    const db = await NodeDatabase.open(join(f.dir, "db"));
    expect(await db.levels.meta.get(MetaKey.forgetPending)).toBeUndefined();
    expect(await db.levels.acct.get(REF(3))).toBeDefined();
    await db.close();
    const after = scanLevelDb(join(f.dir, "db"));
    expect(findInDatabase(after, TOK_A, { alsoRawEverywhere: true })).toEqual([]);
    expect(findInDatabase(after, TOK_B).length).toBeGreaterThan(0);
    await f.reopen();
  });

  it("purging a subject the node does not know destroys nothing and still records the request", async () => {
    await seed();
    expect(await purger().purge("f".repeat(64), "ERASURE-2", "op")).toEqual({
      subjectToken: "f".repeat(64),
      accounts: 0,
      repayments: 0,
      inquiries: 0,
      consents: 0,
      disputes: 0,
    });
    expect(await f.stores.records.counts()).toEqual({ accounts: 3, subjects: 2 });
    expect(audit.entries.map((e) => e.action)).toEqual(["SUBJECT_PURGED"]);
  });

  it("refuses a request reference that is missing or looks like personal data", async () => {
    for (const ref of ["", "110105199003071234", "陈思远", "a b"]) {
      await expect(purger().purge(TOK_A, ref, "op")).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: "request_ref" });
    }
    expect(audit.entries).toEqual([]);
  });
});
