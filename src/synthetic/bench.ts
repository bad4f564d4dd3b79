import { IdType, ProductType } from "../gen/creditmesh/v1/common.js";
import type { AccountRecord, RepaymentRecord } from "../gen/creditmesh/v1/records.js";
import { addDays, addMonths } from "../records/dates.js";
import { generateName, generatePhone } from "./borrowers.js";
import { createRng } from "./prng.js";
import { generateResidentId } from "./resident-id.js";

/**
 * Bulk records for benchmarks: lazily generated so that a million records cost
 * one object each and no list, with every field valid for ingest.
 */

export const BENCH_OPENED_ON = "2015-01-10";
/** Keeps due dates plausible (30 years of monthly statements). */
export const MAX_BENCH_INSTALLMENTS = 360;

export function benchAccountId(i: number): string {
  return `BA${String(i).padStart(10, "0")}`;
}

/** `count` accounts with ids `benchAccountId(0..count-1)`, all opened on BENCH_OPENED_ON. */
export function generateAccounts(seed: number | string, count: number): Generator<AccountRecord> {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  return accounts(seed, count);
}

function* accounts(seed: number | string, count: number): Generator<AccountRecord> {
  const rng = createRng(seed).fork("bench-accounts");
  for (let i = 0; i < count; i++) {
    const revolving = i % 3 === 0;
    yield {
      accountId: benchAccountId(i),
      subject: { idType: IdType.CN_RESIDENT_ID, idNumber: generateResidentId(rng), name: generateName(rng), phone: generatePhone(rng) },
      productType: revolving ? ProductType.REVOLVING_LINE : i % 3 === 1 ? ProductType.INSTALLMENT_LOAN : ProductType.CASH_LOAN,
      openedOn: BENCH_OPENED_ON,
      creditLimit: String(rng.int(20, 400) * 5_000),
      termMonths: revolving ? 0 : MAX_BENCH_INSTALLMENTS,
      currency: "CNY",
      closedOn: "",
      furnishingConsentRef: `BENCH-${i}`,
      chargedOff: false,
    };
  }
}

/**
 * `count` repayments spread round-robin over `accountIds`: record i is
 * installment ⌊i / accountIds.length⌋ + 1 of account i mod length, so every
 * (account_id, installment) is new and a benchmark measures inserts, not
 * idempotent updates. The accounts must have been ingested first.
 */
export function generateRepayments(
  seed: number | string,
  count: number,
  accountIds: readonly string[],
): Generator<RepaymentRecord> {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (count > 0 && accountIds.length === 0) throw new RangeError("accountIds is empty");
  const perAccount = Math.ceil(count / Math.max(1, accountIds.length));
  if (perAccount > MAX_BENCH_INSTALLMENTS) {
    throw new RangeError(
      `${count} repayments over ${accountIds.length} accounts is ${perAccount} installments each; ` +
        `use at least ${Math.ceil(count / MAX_BENCH_INSTALLMENTS)} accounts`,
    );
  }
  return repayments(seed, count, accountIds, perAccount);
}

function* repayments(
  seed: number | string,
  count: number,
  accountIds: readonly string[],
  perAccount: number,
): Generator<RepaymentRecord> {
  const rng = createRng(seed).fork("bench-repayments");
  // Dates are the costly part; there are only perAccount distinct ones.
  const dueOn: string[] = [];
  const paidOn: string[] = [];
  for (let n = 1; n <= perAccount; n++) {
    dueOn[n] = addMonths(BENCH_OPENED_ON, n);
    paidOn[n] = addDays(dueOn[n], -1);
  }
  const n = accountIds.length;
  for (let i = 0; i < count; i++) {
    const installment = Math.floor(i / n) + 1;
    const amountDue = rng.int(100, 500_000);
    const paid = rng.next() < 0.95;
    yield {
      accountId: accountIds[i % n],
      installment,
      dueOn: dueOn[installment],
      amountDue: String(amountDue),
      paidOn: paid ? paidOn[installment] : "",
      amountPaid: paid ? String(amountDue) : "0",
      balanceAfter: String(rng.int(0, 10_000_000)),
    };
  }
}

/** The same records as `generateRepayments`, in arrays of `batchSize` (the last may be shorter). */
export function generateRepaymentBatches(
  seed: number | string,
  count: number,
  accountIds: readonly string[],
  batchSize: number,
): Generator<RepaymentRecord[]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  return batches(generateRepayments(seed, count, accountIds), batchSize);
}

function* batches<T>(items: Iterable<T>, batchSize: number): Generator<T[]> {
  let batch: T[] = [];
  for (const r of items) {
    batch.push(r);
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
