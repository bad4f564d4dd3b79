import { afterEach, describe, expect, it } from "vitest";
import { DELETED_BY_FURNISHER_NOTE } from "../../../src/disputes/account-deletion.js";
import { DisputeOutcome, DisputeStatus } from "../../../src/gen/creditmesh/v1/common.js";
import { DeletionReason } from "../../../src/gen/creditmesh/v1/records.js";
import { deletion, repayment } from "../../helpers/records.js";
import { disputeFixture, loan, X, type DisputeFixture } from "./fixture.js";

/**
 * A furnisher deletes an account it reported (Metro 2 "delete account"),
 * through the same SubmitRecords batches as its other records.
 */

let f: DisputeFixture;
afterEach(async () => {
  await f?.close();
});

describe("account deletion by its furnisher", () => {
  it("destroys the account with its repayments, updates the counts, and the subject's report no longer has it", async () => {
    f = await disputeFixture();
    await f.furnish(loan("L-1"), loan("L-2"), repayment({ accountId: "L-1", installment: 1 }), repayment({ accountId: "L-1", installment: 2, dueOn: "2026-03-05" }));
    expect(await f.stores.records.counts()).toEqual({ accounts: 2, subjects: 1 });

    expect(await f.ingest.submitBatch([deletion("L-1", DeletionReason.IDENTITY_FRAUD)], undefined, "key-7")).toEqual({ accepted: 1, rejected: [] });

    expect(await f.stores.records.getAccounts([f.refOf("L-1"), f.refOf("L-2")])).toEqual([undefined, expect.anything()]);
    expect(await f.stores.records.repaymentsForAccount(f.refOf("L-1"))).toEqual([]);
    expect(await f.stores.records.counts()).toEqual({ accounts: 1, subjects: 1 });
    expect((await f.tradelines(X)).map((t) => t.accountRef)).toEqual([f.refOf("L-2")]);
    expect(f.audit).toEqual([
      { action: "ACCOUNT_DELETED", actor: "key-7", details: { accountRef: f.refOf("L-1"), subjectToken: f.token(X), reason: "IDENTITY_FRAUD" } },
    ]);

    await f.ingest.submitBatch([deletion("L-2")]);
    expect(await f.stores.records.counts()).toEqual({ accounts: 0, subjects: 0 });
    expect(await f.tradelines(X)).toEqual([]);
  });

  it("refuses an unknown account, an unknown reason, and anything of the account after its deletion in the same batch, changing nothing for them", async () => {
    f = await disputeFixture();
    await f.furnish(loan("L-1"));
    const result = await f.ingest.submitBatch([
      deletion("NO-SUCH"),
      deletion("L-1", DeletionReason.DELETION_REASON_UNSPECIFIED),
      deletion("L-1"),
      repayment({ accountId: "L-1", installment: 1 }),
      loan("L-1"),
    ]);
    expect(result.accepted).toBe(1);
    expect(result.rejected).toEqual([
      { index: 0, field: "deletion.account_id", reason: "no account with this account_id has been furnished by this institution" },
      { index: 1, field: "deletion.reason", reason: expect.stringContaining("FURNISHED_IN_ERROR, IDENTITY_FRAUD") },
      { index: 3, field: "repayment.account_id", reason: expect.stringContaining("deleted earlier in this batch") },
      { index: 4, field: "account.account_id", reason: expect.stringContaining("deleted earlier in this batch") },
    ]);
    expect(await f.stores.records.getAccounts([f.refOf("L-1")])).toEqual([undefined]);
    expect(f.audit.map((e) => e.action)).toEqual(["ACCOUNT_DELETED"]);
  });

  it("applies records in batch order: an account furnished and then deleted in one batch is gone", async () => {
    f = await disputeFixture();
    expect(await f.ingest.submitBatch([loan("L-9"), repayment({ accountId: "L-9", installment: 1 }), deletion("L-9")])).toEqual({ accepted: 3, rejected: [] });
    expect(await f.stores.records.counts()).toEqual({ accounts: 0, subjects: 0 });
    expect(await f.stores.records.repaymentsForAccount(f.refOf("L-9"))).toEqual([]);
  });

  it("closes the account's open disputes as DELETED in the same batch, and audits the closure", async () => {
    f = await disputeFixture();
    await f.furnish(loan("L-1"));
    await f.grant(X);
    const open = await f.service.file(f.token(X), f.institutionId, f.refOf("L-1"), "not my loan", "apikey:k1");
    f.audit.length = 0;

    await f.ingest.submitBatch([deletion("L-1", DeletionReason.IDENTITY_FRAUD)], undefined, "key-7");

    const closed = await f.stores.disputes.get(open.disputeId);
    expect(closed).toMatchObject({ status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.DELETED, note: DELETED_BY_FURNISHER_NOTE });
    expect(closed!.resolvedAt).toEqual(f.clock.now());
    expect(await f.stores.disputes.listOpen()).toEqual([]);
    expect(f.audit).toEqual([
      expect.objectContaining({ action: "ACCOUNT_DELETED", actor: "key-7" }),
      { action: "DISPUTE_RESOLVED", actor: "key-7", details: expect.objectContaining({ disputeId: open.disputeId, outcome: "DELETED" }) },
    ]);
  });
});
