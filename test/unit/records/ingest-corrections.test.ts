import { afterEach, describe, expect, it } from "vitest";
import { ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import type { Stores } from "../../../src/store/index.js";
import { HmacSubjectTokenizer, type SubjectTokens } from "../../../src/subject/tokenizer.js";
import { openIngest } from "../../helpers/ingest.js";
import { account, deletion, repayment, residentId } from "../../helpers/records.js";

const A = residentId("19900307", 1);
const B = residentId("19900307", 2);
const CN = (idNumber: string) => ({ idTypeName: "CN_RESIDENT_ID", normalizedId: idNumber });

describe("IngestService: re-submitting an account corrects it", () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  async function setup(tokenizer?: SubjectTokens) {
    const fixture = await openIngest({ prefix: "cm-ingest-corrections-", now: "2026-06-01T00:00:00Z", tokenizer });
    cleanup = fixture.close;
    const ref = fixture.refOf("ACC-1");
    const stored = async () => (await fixture.stores.records.getAccounts([ref]))[0];
    return { ...fixture, ref, stored };
  }


  const tokenOf = async (idNumber: string) => (await new HmacSubjectTokenizer(Buffer.alloc(32, 7)).tokens([CN(idNumber)]))[0];

  async function subjectsOf(stores: Stores, idNumber: string): Promise<number> {
    return (await stores.subjects.read(await tokenOf(idNumber), "")).accounts.length;
  }

  it("keeps an account with its borrower: another ID number is refused and changes nothing; another spelling or name of the same one is a correction", async () => {
    const { ingest, stores, stored } = await setup();
    expect(await ingest.submitBatch([account({ idNumber: A }), repayment({ installment: 1 })])).toEqual({ accepted: 2, rejected: [] });
    const before = await stored();

    const moved = await ingest.submitBatch([account({ idNumber: B, creditLimit: "400000" }), repayment({ installment: 2, dueOn: "2026-03-05", paidOn: "2026-03-04" })]);
    expect(moved.accepted).toBe(1);
    expect(moved.rejected).toEqual([{ index: 0, field: "account.subject.id_number", reason: expect.stringContaining("on file for another borrower") }]);
    expect(moved.rejected[0]!.reason).toContain("deletion record, FURNISHED_IN_ERROR");
    // The account, its index entry and its history stay with A; the repayment after the refused record went to A's account.
    expect((await stored())?.subjectToken).toBe(before?.subjectToken);
    expect((await stored())?.creditLimit).toBe(300000);
    expect(await subjectsOf(stores, A)).toBe(1);
    expect(await subjectsOf(stores, B)).toBe(0);

    // Lowercase, full-width or first-generation spellings are the same borrower; a corrected name is a correction.
    const fifteen = `${A.slice(0, 6)}${A.slice(8, 17)}`;
    for (const idNumber of [fifteen, A.replace(/\d/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0))]) {
      expect(await ingest.submitBatch([account({ idNumber, name: "张薇" })])).toEqual({ accepted: 1, rejected: [] });
    }
    expect(await subjectsOf(stores, A)).toBe(1);
  });

  it("moves an account to another borrower only through a deletion", async () => {
    const { ingest, stores } = await setup();
    await ingest.submitBatch([account({ idNumber: A }), repayment({ installment: 1 })]);
    expect(await ingest.submitBatch([deletion("ACC-1")])).toEqual({ accepted: 1, rejected: [] });
    expect(await ingest.submitBatch([account({ idNumber: B })])).toEqual({ accepted: 1, rejected: [] });
    expect(await subjectsOf(stores, A)).toBe(0);
    expect(await subjectsOf(stores, B)).toBe(1);
  });

  it("refuses a second record of one account_id in a batch for another borrower, and keeps a repayment between two records of the same one", async () => {
    const { ingest, stores, ref } = await setup();
    const result = await ingest.submitBatch([
      account({ idNumber: A }),
      repayment({ installment: 1 }),
      account({ idNumber: A, closedOn: "2026-04-05" }),
      account({ idNumber: B }),
    ]);
    expect(result.accepted).toBe(3);
    expect(result.rejected).toEqual([{ index: 3, field: "account.subject.id_number", reason: expect.stringContaining("earlier in this batch for another borrower") }]);
    expect(await subjectsOf(stores, A)).toBe(1);
    expect(await subjectsOf(stores, B)).toBe(0);
    expect((await stores.records.getAccounts([ref]))[0]?.closedOn).toBe("2026-04-05");
    expect(await stores.records.repaymentsForAccount(ref)).toHaveLength(1);
  });

  it("refuses a correction that the repayments on file contradict, naming the field and the installment, and accepts one that widens the terms", async () => {
    const { ingest, stores, ref, stored } = await setup();
    await ingest.submitBatch([
      account({ idNumber: A }),
      repayment({ installment: 1 }),
      repayment({ installment: 2, dueOn: "2026-03-05", paidOn: "2026-03-04" }),
      repayment({ installment: 3, dueOn: "2026-04-05", paidOn: "", amountPaid: "0" }),
    ]);
    const shorter = await ingest.submitBatch([account({ idNumber: A, termMonths: 2 })]);
    expect(shorter).toEqual({ accepted: 0, rejected: [{ index: 0, field: "account.term_months", reason: expect.stringMatching(/^installment 3 is on file, beyond a term of 2 months; to restructure/) }] });
    const later = await ingest.submitBatch([account({ idNumber: A, openedOn: "2026-02-10" })]);
    expect(later).toEqual({ accepted: 0, rejected: [{ index: 0, field: "account.opened_on", reason: expect.stringMatching(/^installment 1 on file fell due on 2026-02-05, before 2026-02-10/) }] });
    const paidBefore = await ingest.submitBatch([account({ idNumber: A, openedOn: "2026-02-05" })]);
    expect(paidBefore.rejected).toEqual([{ index: 0, field: "account.opened_on", reason: expect.stringMatching(/^installment 1 on file was paid on 2026-02-04, before 2026-02-05/) }]);
    expect(await stored()).toMatchObject({ termMonths: 3, openedOn: "2026-01-05" });

    // Longer, earlier, closed, written off, another limit: nothing on file can contradict it.
    expect(await ingest.submitBatch([account({ idNumber: A, termMonths: 6, openedOn: "2026-01-02", closedOn: "2026-05-01", chargedOff: true, creditLimit: "250000" })])).toEqual({ accepted: 1, rejected: [] });
    expect(await stored()).toMatchObject({ termMonths: 6, openedOn: "2026-01-02", chargedOff: true });
    expect(await stores.records.repaymentsForAccount(ref)).toHaveLength(3);
  });

  it("checks a revolving account turned into an instalment loan against every statement on file", async () => {
    const { ingest, stored } = await setup();
    await ingest.submitBatch([
      account({ idNumber: A, productType: ProductType.CREDIT_CARD, termMonths: 0 }),
      ...[1, 2, 3, 4].map((n) => repayment({ installment: n, dueOn: `2026-0${n + 1}-05`, paidOn: "", amountPaid: "0" })),
    ]);
    const result = await ingest.submitBatch([account({ idNumber: A, productType: ProductType.INSTALLMENT_LOAN, termMonths: 3 })]);
    expect(result.rejected).toEqual([{ index: 0, field: "account.term_months", reason: expect.stringContaining("installment 4 is on file, beyond a term of 3 months") }]);
    expect((await stored())?.productType).toBe(ProductType.CREDIT_CARD);
    expect((await ingest.submitBatch([account({ idNumber: A, productType: ProductType.INSTALLMENT_LOAN, termMonths: 4 })])).accepted).toBe(1);
  });

  it("counts repayments ahead of the correction in its batch as on file, and checks those after it against the correction", async () => {
    const { ingest, stores, ref, stored } = await setup();
    await ingest.submitBatch([account({ idNumber: A, termMonths: 6 })]);
    const result = await ingest.submitBatch([
      repayment({ installment: 5, dueOn: "2026-06-05", paidOn: "", amountPaid: "0" }),
      account({ idNumber: A, termMonths: 4 }),
      repayment({ installment: 6, dueOn: "2026-07-05", paidOn: "", amountPaid: "0" }),
    ]);
    // The correction is refused for installment 5; installment 6 then holds for the stored term of 6.
    expect(result.rejected).toEqual([{ index: 1, field: "account.term_months", reason: expect.stringContaining("installment 5 is on file") }]);
    expect((await stored())?.termMonths).toBe(6);
    expect((await stores.records.repaymentsForAccount(ref)).map((r) => r.installment)).toEqual([5, 6]);

    const after = await ingest.submitBatch([account({ idNumber: A, termMonths: 7 }), repayment({ installment: 8, dueOn: "2026-09-05", paidOn: "", amountPaid: "0" })]);
    expect(after.rejected).toEqual([{ index: 1, field: "repayment.installment", reason: expect.stringContaining("term of 7 months") }]);
  });

  it("checks each record of an account in a batch: a narrowing one is refused, a later one that holds is written", async () => {
    const { ingest, stored } = await setup();
    await ingest.submitBatch([account({ idNumber: A, termMonths: 6 }), repayment({ installment: 5, dueOn: "2026-06-05", paidOn: "", amountPaid: "0" })]);
    const result = await ingest.submitBatch([account({ idNumber: A, termMonths: 4 }), account({ idNumber: A, termMonths: 5, closedOn: "2026-05-20" })]);
    expect(result.rejected).toEqual([{ index: 0, field: "account.term_months", reason: expect.stringContaining("installment 5 is on file") }]);
    expect(await stored()).toMatchObject({ termMonths: 5, closedOn: "2026-05-20" });
  });

  it("asks for one token per borrower, however many of their accounts a batch carries", async () => {
    const asked: number[] = [];
    const hmac = new HmacSubjectTokenizer(Buffer.alloc(32, 7));
    const { ingest } = await setup({ tokens: (subjects) => (asked.push(subjects.length), hmac.tokens(subjects)) });
    const batch = [account({ accountId: "X-1", idNumber: A }), account({ accountId: "X-2", idNumber: A.toLowerCase() }), account({ accountId: "X-3", idNumber: B }), account({ accountId: "X-1", idNumber: A })];
    expect(await ingest.submitBatch(batch)).toEqual({ accepted: 4, rejected: [] });
    expect(asked).toEqual([2]);
  });

  it("knows a borrower by the sealed ID number when its token changed (a token migration), not by the token", async () => {
    const keys = { current: Buffer.alloc(32, 7) };
    const { ingest, stored } = await setup({ tokens: (subjects) => new HmacSubjectTokenizer(keys.current).tokens(subjects) });
    await ingest.submitBatch([account({ idNumber: A })]);
    const first = (await stored())?.subjectToken;
    keys.current = Buffer.alloc(32, 8);
    expect(await ingest.submitBatch([account({ idNumber: A, closedOn: "2026-05-01" })])).toEqual({ accepted: 1, rejected: [] });
    expect((await stored())?.subjectToken).not.toBe(first);
    const moved = await ingest.submitBatch([account({ idNumber: B })]);
    expect(moved.rejected.map((r) => r.field)).toEqual(["account.subject.id_number"]);
  });
});
