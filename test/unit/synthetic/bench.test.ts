import { describe, expect, it } from "vitest";
import type { Record as WireRecord, RepaymentRecord } from "../../../src/gen/creditmesh/v1/records.js";
import { validateRecord } from "../../../src/records/validate.js";
import {
  benchAccountId,
  generateAccounts,
  generateRepaymentBatches,
  generateRepayments,
} from "../../../src/synthetic/index.js";

const ids = Array.from({ length: 5_000 }, (_, i) => benchAccountId(i));

describe("generateAccounts", () => {
  it("yields valid accounts with the bench ids, reproducibly", () => {
    const accounts = [...generateAccounts(3, 2_000)];
    expect(accounts.map((a) => a.accountId)).toEqual(ids.slice(0, 2_000));
    for (const value of accounts) validateRecord({ kind: { $case: "account", value } });
    expect([...generateAccounts(3, 50)]).toEqual(accounts.slice(0, 50));
    expect([...generateAccounts(4, 50)]).not.toEqual(accounts.slice(0, 50));
  });
});

describe("generateRepayments", () => {
  it("yields a million records cheaply, each a new installment of a given account, amounts non-negative integers", () => {
    const known = new Set(ids);
    let i = 0;
    for (const r of generateRepayments(1, 1_000_000, ids)) {
      if (r.accountId !== ids[i % ids.length] || r.installment !== Math.floor(i / ids.length) + 1) {
        throw new Error(`record ${i}: ${JSON.stringify(r)}`);
      }
      if (!/^\d+$/.test(r.amountDue) || !/^\d+$/.test(r.amountPaid) || !/^\d+$/.test(r.balanceAfter) || !known.has(r.accountId)) {
        throw new Error(`record ${i}: ${JSON.stringify(r)}`);
      }
      i++;
    }
    expect(i).toBe(1_000_000);
  });

  it("every record passes the node's validation", () => {
    for (const value of generateRepayments(2, 20_000, ids.slice(0, 100))) {
      validateRecord({ kind: { $case: "repayment", value } } satisfies WireRecord);
    }
  });

  it("is reproducible from its seed and differs across seeds", () => {
    const take = (seed: number) => [...generateRepayments(seed, 1_000, ids)];
    expect(take(9)).toEqual(take(9));
    expect(take(10)).not.toEqual(take(9));
  });

  it("batches the same records", () => {
    const batches = [...generateRepaymentBatches(5, 2_500, ids, 1_000)];
    expect(batches.map((b) => b.length)).toEqual([1_000, 1_000, 500]);
    expect(batches.flat()).toEqual([...generateRepayments(5, 2_500, ids)] satisfies RepaymentRecord[]);
  });

  it("refuses at once too few accounts, no accounts or a bad batch size", () => {
    expect(() => generateRepayments(1, 1_000_000, ids.slice(0, 10))).toThrow(/at least 2778 accounts/);
    expect(() => generateRepayments(1, 10, [])).toThrow(RangeError);
    expect(() => generateRepaymentBatches(1, 10, ids, 0)).toThrow(RangeError);
  });
});
