import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/logger.js";
import { ConsentStatus, DisputeOutcome, DisputeStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { RetentionJob } from "../../../src/records/retention-job.js";
import { consent, dispute, openFixture, RecordingAudit, repayment, sealedAccount, type StoreFixture } from "../store/data-protection-fixture.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";

let f: StoreFixture;
let audit: RecordingAudit;
let clock: ManualClock;

beforeEach(async () => {
  f = await openFixture();
  audit = new RecordingAudit();
  clock = new ManualClock("2026-01-01T00:00:00Z");
});

afterEach(async () => {
  await f.close();
});

function job(opts: { intervalMs?: number; firstDelayMs?: number; batchSize?: number; inquiryYears?: number } = {}): RetentionJob {
  return new RetentionJob(
    { accountYears: 7, inquiryYears: opts.inquiryYears, intervalMs: opts.intervalMs ?? 86_400_000, firstDelayMs: opts.firstDelayMs, batchSize: opts.batchSize },
    { records: f.stores.records, disputes: f.stores.disputes, inquiries: f.stores.inquiries, consents: f.stores.consents, clock, audit, logger: silentLogger() },
  );
}

/**
 * - old-closed: a cash loan closed 2018-03-01, last paid 2018-02-28 (7 years before 2025-03-01);
 * - old-open: an open loan with an installment unpaid since 2018 (never purged);
 * - recent: closed 2025.
 * old-closed and old-open belong to the same subject, so the index and counters must survive.
 */
async function seed(): Promise<void> {
  const { records, disputes } = f.stores;
  const accounts = [
    sealedAccount(f, "ref-old-closed", "tok-a", { openedOn: "2018-01-28", closedOn: "2018-03-01" }, 1),
    sealedAccount(f, "ref-old-open", "tok-a", { openedOn: "2018-01-10" }, 2),
    sealedAccount(f, "ref-recent", "tok-b", { openedOn: "2025-01-10", closedOn: "2025-03-01" }, 3),
  ];
  await records.writeRecords(accounts, [undefined, undefined, undefined], [
    repayment("ref-old-closed", 1, { dueOn: "2018-02-28", paidOn: "2018-02-28" }),
    repayment("ref-old-open", 1, { dueOn: "2018-02-10", paidOn: "", amountPaid: 0, balanceAfter: 50_000 }),
    repayment("ref-recent", 1, { dueOn: "2025-02-10", paidOn: "2025-02-10" }),
  ]);
  await disputes.put(dispute("d-old", "ref-old-closed", "tok-a"));
  await disputes.put(dispute("d-recent", "ref-recent", "tok-b"));
}

describe("RetentionJob", () => {
  it("appends a RETENTION_EXPIRED tombstone for each account it destroys, once it is gone, and none for the ones it keeps", async () => {
    await seed();
    const told: { refs: string[]; reason: string; stillStored: boolean[] }[] = [];
    const tombstones = {
      deleted: async (refs: readonly string[], reason: string) => {
        told.push({ refs: [...refs], reason, stillStored: await f.stores.records.hasAccounts(refs) });
        return { durable: Promise.resolve() };
      },
    };
    clock.set("2025-03-02T12:00:00Z");
    const sweep = new RetentionJob(
      { accountYears: 7, intervalMs: 86_400_000 },
      { records: f.stores.records, disputes: f.stores.disputes, clock, audit, logger: silentLogger(), tombstones },
    );
    expect(await sweep.runOnce()).toMatchObject({ accounts: 1 });
    expect(told).toEqual([{ refs: ["ref-old-closed"], reason: "RETENTION_EXPIRED", stillStored: [false] }]);
  });

  it("destroys finished accounts 7 years after their last activity, with repayments, index entries and disputes", async () => {
    await seed();
    const { records, disputes } = f.stores;

    clock.set("2025-03-01T12:00:00Z");
    expect(await job().runOnce()).toEqual({ cutoff: "2018-03-01", accounts: 0, repayments: 0, disputes: 0, inquiries: 0, consents: 0, disputeCopies: 0 });
    expect(audit.entries).toEqual([]);

    clock.set("2025-03-02T12:00:00Z");
    expect(await job().runOnce()).toEqual({ cutoff: "2018-03-02", accounts: 1, repayments: 1, disputes: 1, inquiries: 0, consents: 0, disputeCopies: 0 });

    expect(await records.getAccounts(["ref-old-closed", "ref-old-open", "ref-recent"])).toEqual([undefined, expect.anything(), expect.anything()]);
    expect(await records.repaymentsForAccount("ref-old-closed")).toEqual([]);
    expect((await records.accountsForSubject("tok-a")).map((a) => a.accountRef)).toEqual(["ref-old-open"]);
    expect(await records.counts()).toEqual({ accounts: 2, subjects: 2 });
    expect(await disputes.get("d-old")).toBeUndefined();
    expect(await disputes.listForAccount("ref-old-closed")).toEqual([]);
    expect((await disputes.listOpen()).map((d) => d.disputeId)).toEqual(["d-recent"]);
    expect(audit.entries).toEqual([
      { action: "RETENTION_PURGED", actor: "retention", details: { cutoff: "2018-03-02", accounts: "1", repayments: "1", disputes: "1" } },
    ]);

    // Years later the unpaid open account is still kept; the recent one goes in its turn.
    clock.set("2040-01-01T00:00:00Z");
    expect(await job().runOnce()).toMatchObject({ accounts: 1 });
    expect(await records.getAccounts(["ref-old-open", "ref-recent"])).toEqual([expect.anything(), undefined]);
    expect(await records.counts()).toEqual({ accounts: 1, subjects: 1 });
  });

  it("destroys inquiries logged more than inquiryYears ago, in batches, and nothing else", async () => {
    await seed();
    const { inquiries, subjects, records } = f.stores;
    const logged = (id: string, at: string, requester = "bank-x") =>
      ({ inquiryId: id, requesterInstitutionId: requester, requesterName: "", purpose: Purpose.LOAN_ORIGINATION, inquiredAt: new Date(at) });
    for (const [token, id, at] of [
      ["tok-a", "q-2019", "2019-06-01T08:00:00.000Z"],
      ["tok-a", "q-2020", "2020-12-31T23:59:59.999Z"],
      ["tok-a", "q-2021", "2021-01-01T00:00:00.000Z"],
      ["tok-b", "q-2018", "2018-02-01T00:00:00.000Z"],
      ["tok-b", "q-2025", "2025-12-01T00:00:00.000Z"],
    ] as const) {
      await inquiries.add(token, logged(id, at));
    }
    clock.set("2026-01-01T12:00:00Z");
    const sweep = await job({ inquiryYears: 5, batchSize: 2 }).runOnce();
    expect(sweep).toMatchObject({ inquiryCutoff: "2021-01-01", inquiries: 3 });
    expect((await inquiries.listForSubject("tok-a")).map((i) => i.inquiryId)).toEqual(["q-2021"]);
    expect((await inquiries.listForSubject("tok-b")).map((i) => i.inquiryId)).toEqual(["q-2025"]);
    // Accounts and their index entries are not inquiries: the recent and the open account are still read with the log.
    expect((await subjects.read("tok-a", "2000-01-01")).accounts.map((a) => a.accountRef)).toEqual(["ref-old-open"]);
    expect((await subjects.read("tok-b", "2000-01-01")).accounts.map((a) => a.accountRef)).toEqual(["ref-recent"]);
    expect(await records.counts()).toEqual({ accounts: 2, subjects: 2 });
    expect(audit.entries.at(-1)).toMatchObject({ action: "RETENTION_PURGED", details: { inquiryCutoff: "2021-01-01", inquiries: "3" } });

    // Without inquiryYears the log is kept.
    clock.set("2040-01-01T00:00:00Z");
    expect(await job().runOnce()).toMatchObject({ inquiries: 0 });
    expect((await inquiries.listForSubject("tok-b")).map((i) => i.inquiryId)).toEqual(["q-2025"]);
  });

  it("destroys consents that ended (expired or revoked) more than inquiryYears ago, with their index entries; revocations and the rest stay", async () => {
    const { consents } = f.stores;
    const ended = (id: string, token: string, over: Partial<Consent>): Consent => ({ ...consent(id, token), ...over });
    for (const c of [
      ended("c-expired-2019", "tok-a", { validFrom: new Date("2019-01-01T00:00:00Z"), validUntil: new Date("2019-02-01T00:00:00Z") }),
      ended("c-revoked-2020", "tok-a", { validFrom: new Date("2020-01-01T00:00:00Z"), validUntil: new Date("2030-01-01T00:00:00Z"), revokedAt: new Date("2020-03-01T00:00:00Z"), status: ConsentStatus.REVOKED }),
      ended("c-expired-2021", "tok-a", { validFrom: new Date("2020-12-01T00:00:00Z"), validUntil: new Date("2021-06-01T00:00:00Z") }),
      ended("c-revoked-2023", "tok-b", { validFrom: new Date("2019-01-01T00:00:00Z"), validUntil: new Date("2020-06-01T00:00:00Z"), revokedAt: new Date("2020-05-01T00:00:00Z"), status: ConsentStatus.REVOKED }),
      ended("c-active", "tok-b", { validFrom: new Date("2025-12-01T00:00:00Z"), validUntil: new Date("2026-03-01T00:00:00Z") }),
      ended("c-no-end", "tok-b", { validUntil: undefined }),
    ]) {
      await consents.put(c);
    }
    await consents.putRevocation("bank-a", "c-revoked-2020", new Date("2020-03-01T00:00:00Z"));
    clock.set("2026-01-01T12:00:00Z");
    const sweep = await job({ inquiryYears: 5, batchSize: 1 }).runOnce();
    // c-revoked-2023 ended at its revocation (2020-05-01), before its end of validity.
    expect(sweep).toMatchObject({ inquiryCutoff: "2021-01-01", consents: 3 });
    expect((await consents.listForSubject("tok-a")).map((c) => c.consentId)).toEqual(["c-expired-2021"]);
    expect((await consents.listForSubject("tok-b")).map((c) => c.consentId).sort()).toEqual(["c-active", "c-no-end"]);
    for (const id of ["c-expired-2019", "c-revoked-2020", "c-revoked-2023"]) expect(await consents.get(id), id).toBeUndefined();
    // The revocation stays: a copy of the artefact is still refused.
    expect(await consents.getRevocation("bank-a", "c-revoked-2020")).toEqual(new Date("2020-03-01T00:00:00Z"));
    expect(audit.entries.at(-1)).toMatchObject({ action: "RETENTION_PURGED", details: { inquiryCutoff: "2021-01-01", consents: "3" } });

    // Without inquiryYears consents are kept.
    clock.set("2040-01-01T00:00:00Z");
    expect(await job().runOnce()).toMatchObject({ consents: 0 });
    expect(await consents.get("c-expired-2021")).toBeDefined();
  });

  it("with the institution's id, destroys copies of other holders' disputes resolved before the cutoff, and nothing it holds", async () => {
    await seed();
    const { disputes } = f.stores;
    const copy = (id: string, over: Parameters<typeof dispute>[3]) => dispute(id, `ref-${id}`, "tok-c", { institutionId: "cfc-b", ...over });
    await disputes.put(copy("c-old", { status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.VERIFIED_ACCURATE, resolvedAt: new Date("2018-12-31T00:00:00Z") }));
    await disputes.put(copy("c-new", { status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.DELETED, resolvedAt: new Date("2019-01-02T00:00:00Z") }));
    await disputes.put(copy("c-open", { filedAt: new Date("2017-01-01T00:00:00Z") }));
    // A dispute this institution holds, resolved long ago, goes with its account only.
    await disputes.put(dispute("d-held", "ref-old-open", "tok-a", { status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.VERIFIED_ACCURATE, resolvedAt: new Date("2018-01-01T00:00:00Z") }));

    clock.set("2026-01-01T12:00:00Z");
    const withId = new RetentionJob(
      { accountYears: 7, institutionId: "bank-a", intervalMs: 86_400_000 },
      { records: f.stores.records, disputes, clock, audit, logger: silentLogger() },
    );
    expect(await withId.runOnce()).toMatchObject({ cutoff: "2019-01-01", disputeCopies: 1 });
    expect(await disputes.get("c-old")).toBeUndefined();
    expect(await disputes.listForAccount("ref-c-old")).toEqual([]);
    for (const id of ["c-new", "c-open", "d-held", "d-recent"]) expect(await disputes.get(id), id).toBeDefined();
    expect(audit.entries.at(-1)).toMatchObject({ action: "RETENTION_PURGED", details: { disputeCopies: "1" } });
    // Without it, copies are kept.
    clock.set("2040-01-01T00:00:00Z");
    expect(await job().runOnce()).toMatchObject({ disputeCopies: 0 });
    expect(await disputes.get("c-new")).toBeDefined();
  });

  it("pages through every account", async () => {
    const { records } = f.stores;
    const accounts = Array.from({ length: 25 }, (_, i) =>
      sealedAccount(f, `ref-${String(i).padStart(2, "0")}`, `tok-${i % 4}`, { openedOn: "2010-01-01", closedOn: "2010-06-01" }, i),
    );
    await records.writeRecords(accounts, accounts.map(() => undefined), []);
    clock.set("2026-01-01T00:00:00Z");
    expect(await job({ batchSize: 4 }).runOnce()).toMatchObject({ accounts: 25 });
    expect(await records.counts()).toEqual({ accounts: 0, subjects: 0 });
  });

  it("keeps an account that became active again between the scan and the delete", async () => {
    await seed();
    const { records } = f.stores;
    clock.set("2026-01-01T00:00:00Z");
    // A repayment arriving after the job read the page: the re-check under the write lock sees it.
    const original = records.destroy.bind(records);
    records.destroy = async (refs, opts) => {
      await records.writeRecords([], [], [repayment("ref-old-closed", 2, { dueOn: "2025-12-01", paidOn: "2025-12-01" })]);
      return original(refs, opts);
    };
    expect(await job().runOnce()).toMatchObject({ accounts: 0 });
    expect((await records.getAccounts(["ref-old-closed"]))[0]).toBeDefined();
  });

  it("runs on its timer once started, and not after stop()", async () => {
    await seed();
    clock.set("2026-01-01T00:00:00Z");
    const j = job({ firstDelayMs: 10, intervalMs: 50 });
    j.start();
    await waitFor(() => audit.entries.length === 1);
    await j.stop();
    const { records } = f.stores;
    const accounts = [sealedAccount(f, "ref-late", "tok-z", { openedOn: "2010-01-01", closedOn: "2010-02-01" }, 9)];
    await records.writeRecords(accounts, [undefined], []);
    await new Promise((r) => setTimeout(r, 200));
    expect((await records.getAccounts(["ref-late"]))[0]).toBeDefined();
    expect(audit.entries).toHaveLength(1);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
