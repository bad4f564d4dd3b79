import { afterEach, describe, expect, it } from "vitest";
import { CreditMeshError } from "../../../src/errors.js";
import { HmacSubjectTokenizer, type SubjectTokens } from "../../../src/subject/tokenizer.js";
import { openIngest, type IngestFixture } from "../../helpers/ingest.js";
import { account, repayment, residentId } from "../../helpers/records.js";

describe("IngestService: batches submitted back to back", () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  async function setup(tokenizer?: SubjectTokens): Promise<IngestFixture> {
    const fixture = await openIngest({ prefix: "cm-ingest-order-", now: "2026-03-01T00:00:00Z", tokenizer });
    cleanup = fixture.close;
    return fixture;
  }


  it("asks the tokenizer once per batch, for every account's subject, and writes nothing when tokens are unavailable", async () => {
    const hmac = new HmacSubjectTokenizer(Buffer.alloc(32, 7));
    const calls: { count: number; purpose: string }[] = [];
    let down = false;
    const { ingest, stores, refOf } = await setup({
      tokens: async (subjects, purpose) => {
        calls.push({ count: subjects.length, purpose });
        if (down) throw new CreditMeshError("UNAVAILABLE", "subject tokens unavailable");
        return hmac.tokens(subjects);
      },
    });
    const ids = [1, 2, 3].map((n) => residentId("19900307", 10 + n));
    expect(await ingest.submitBatch(ids.map((idNumber, n) => account({ accountId: `T-${n}`, idNumber })))).toEqual({ accepted: 3, rejected: [] });
    expect(calls).toEqual([{ count: 3, purpose: "ONBOARD" }]);
    const [t0] = await stores.records.getAccounts([refOf("T-0")]);
    expect(t0?.subjectToken).toBe((await hmac.tokens([{ idTypeName: "CN_RESIDENT_ID", normalizedId: ids[0] }]))[0]);
    down = true;
    await expect(ingest.submitBatch([account({ accountId: "T-9", idNumber: residentId("19900307", 19) })])).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(await stores.records.getAccounts([refOf("T-9")])).toEqual([undefined]);
  });

  it("applies them in call order: a repayment may refer to an account of the batch before, not yet written when it was submitted", async () => {
    const { ingest, stores, refOf } = await setup();
    const first = ingest.submitBatch([account({ accountId: "A-1", idNumber: residentId("19900307", 1) })]);
    const second = ingest.submitBatch([repayment({ accountId: "A-1", installment: 1 }), repayment({ accountId: "A-2", installment: 1 })]);
    const third = ingest.submitBatch([account({ accountId: "A-2", idNumber: residentId("19900307", 2) })]);
    expect(await first).toEqual({ accepted: 1, rejected: [] });
    const r2 = await second;
    expect(r2.accepted).toBe(1);
    // A-2 only arrives in the batch after: the repayment for it is rejected, as if the batches had been sent one by one.
    expect(r2.rejected).toEqual([{ index: 1, field: "repayment.account_id", reason: expect.any(String) }]);
    expect(await third).toEqual({ accepted: 1, rejected: [] });
    expect(await stores.records.repaymentsForAccount(refOf("A-1"))).toHaveLength(1);
    expect(await stores.records.repaymentsForAccount(refOf("A-2"))).toHaveLength(0);
  });

  it("does not write a batch whose signal is aborted before its turn, and goes on with the next", async () => {
    const { ingest, stores, refOf } = await setup();
    const stop = new AbortController();
    const first = ingest.submitBatch([account({ accountId: "B-1", idNumber: residentId("19900307", 3) })]);
    const dropped = ingest.submitBatch([account({ accountId: "B-2", idNumber: residentId("19900307", 4) })], stop.signal);
    const reason = new CreditMeshError("DEADLINE_EXCEEDED", "stream ended");
    stop.abort(reason);
    const after = ingest.submitBatch([account({ accountId: "B-3", idNumber: residentId("19900307", 5) })]);
    expect((await first).accepted).toBe(1);
    await expect(dropped).rejects.toBe(reason);
    expect((await after).accepted).toBe(1);
    const [b1, b2, b3] = await stores.records.getAccounts(["B-1", "B-2", "B-3"].map(refOf));
    expect(b1).toBeDefined();
    expect(b2).toBeUndefined();
    expect(b3).toBeDefined();
    expect((await stores.records.counts()).accounts).toBe(2);
  });

  it("rejects invalid records of a batch at once, with the same rejections as before", async () => {
    const { ingest } = await setup();
    const result = await ingest.submitBatch([
      account({ accountId: "C-1", idNumber: residentId("19900307", 6) }),
      repayment({ accountId: "C-1", installment: 0 }),
      repayment({ accountId: "C-1", installment: 1 }),
    ]);
    expect(result.accepted).toBe(2);
    expect(result.rejected.map((r) => [r.index, r.field])).toEqual([[1, "repayment.installment"]]);
  });
});
