/**
 * Store write throughput against its floor: LevelRecordStore.writeRecords vs
 * raw `level` batches of the same keys and values, both synced, measured in
 * the same run. Prints records/s and the ratio, and writes them to
 * bench/results/store-throughput.json.
 *
 *   node --import tsx scripts/bench/store-throughput.ts [--records N] [--batch N] [--rounds N]
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Level } from "level";
import { ProductType } from "../../src/gen/creditmesh/v1/common.js";
import { NodeDatabase, type WriteOp } from "../../src/store/database.js";
import { LevelRecordStore } from "../../src/store/level-record-store.js";
import type { StoredAccount, StoredRepayment } from "../../src/store/types.js";

const { values: args } = parseArgs({
  options: {
    records: { type: "string", default: "200000" },
    batch: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
  },
});
const RECORDS = Number(args.records);
const BATCH = Number(args.batch);
const ROUNDS = Number(args.rounds);
const INSTALLMENTS = 12;

const hex = (s: string) => createHash("sha256").update(s).digest("hex");

interface Batch {
  accounts: StoredAccount[];
  repayments: StoredRepayment[];
}

/** Synthetic records: 64-hex refs and tokens like real HMACs, 12 installments per account. */
function makeBatches(withAccounts: boolean): Batch[] {
  const batches: Batch[] = [];
  let current: Batch = { accounts: [], repayments: [] };
  let size = 0;
  const push = () => {
    batches.push(current);
    current = { accounts: [], repayments: [] };
    size = 0;
  };
  for (let i = 0; i < RECORDS; ) {
    const a = Math.floor(i / INSTALLMENTS);
    const ref = hex(`acct-${a}`);
    const inst = (i % INSTALLMENTS) + 1;
    if (withAccounts && inst === 1) {
      current.accounts.push({
        accountRef: ref,
        // Two accounts per subject on average, so some subjects are new and some are not.
        subjectToken: hex(`subj-${Math.floor(a / 2)}`),
        pii: new Uint8Array(120).fill(a & 0xff),
        productType: ProductType.INSTALLMENT_LOAN,
        openedOn: "2025-01-15",
        closedOn: "",
        creditLimit: 600_000,
        termMonths: INSTALLMENTS,
        currency: "CNY",
        chargedOff: false,
        furnishingConsentRef: `consent-${a}`,
        updatedAt: "2026-01-01T00:00:00.000Z",
      });
      size++;
      i++;
      if (size === BATCH) push();
      if (i >= RECORDS) break;
    }
    current.repayments.push({
      accountRef: ref,
      installment: inst,
      dueOn: `2025-${String(((inst - 1) % 12) + 1).padStart(2, "0")}-15`,
      amountDue: 50_000,
      paidOn: inst % 5 === 0 ? "" : `2025-${String(((inst - 1) % 12) + 1).padStart(2, "0")}-14`,
      amountPaid: inst % 5 === 0 ? 0 : 50_000,
      balanceAfter: 600_000 - inst * 50_000,
    });
    size++;
    i++;
    if (size === BATCH) push();
  }
  if (size > 0) push();
  return batches;
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "creditmesh-bench-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Records per second through the store. */
async function viaStore(batches: Batch[]): Promise<number> {
  return withTempDir(async (dir) => {
    const db = await NodeDatabase.open(dir);
    const store = new LevelRecordStore(db);
    const start = performance.now();
    for (const b of batches) {
      await store.writeRecords(b.accounts, new Array(b.accounts.length).fill(undefined), b.repayments);
    }
    const ms = performance.now() - start;
    await db.close();
    return (RECORDS / ms) * 1000;
  });
}

/**
 * The exact LevelDB batches the store issues (full keys with sublevel prefix,
 * encoded values, same order and grouping), captured in an untimed run.
 */
async function capture(batches: Batch[]): Promise<{ key: string; value: string }[][]> {
  return withTempDir(async (dir) => {
    const db = await NodeDatabase.open(dir);
    const captured: { key: string; value: string }[][] = [];
    const write = db.write.bind(db);
    db.write = async (ops: readonly WriteOp[]) => {
      captured.push(
        ops.map((op) => ({ key: op.sublevel.prefix + op.key, value: op.type === "put" ? String(op.value) : "" })),
      );
      return write(ops);
    };
    const store = new LevelRecordStore(db);
    for (const b of batches) {
      await store.writeRecords(b.accounts, new Array(b.accounts.length).fill(undefined), b.repayments);
    }
    await db.close();
    return captured;
  });
}

/** Records per second for raw synced batches of ready-made keys and values. */
async function floor(opBatches: { key: string; value: string }[][]): Promise<number> {
  return withTempDir(async (dir) => {
    const db = new Level<string, string>(dir);
    await db.open();
    const prepared = opBatches.map((ops) => ops.map((o) => ({ type: "put" as const, key: o.key, value: o.value })));
    const start = performance.now();
    for (const ops of prepared) await db.batch(ops, { sync: true });
    const ms = performance.now() - start;
    await db.close();
    return (RECORDS / ms) * 1000;
  });
}

async function scenario(name: string, withAccounts: boolean) {
  const batches = makeBatches(withAccounts);
  const store: number[] = [];
  const raw: number[] = [];
  const ops = await capture(batches);
  const keys = ops.reduce((n, b) => n + b.length, 0);
  const bytes = ops.reduce((n, b) => n + b.reduce((m, o) => m + Buffer.byteLength(o.key) + Buffer.byteLength(o.value), 0), 0);
  // Alternating, so that drift in the machine's state hits both sides alike.
  for (let r = 0; r < ROUNDS; r++) {
    raw.push(await floor(ops));
    store.push(await viaStore(batches));
  }
  const best = (xs: number[]) => Math.max(...xs);
  const result = {
    scenario: name,
    records: RECORDS,
    batch: BATCH,
    rounds: ROUNDS,
    keysWritten: keys,
    bytesWritten: bytes,
    storeRecordsPerSec: Math.round(best(store)),
    rawRecordsPerSec: Math.round(best(raw)),
    ratio: Number((best(store) / best(raw)).toFixed(3)),
    allRounds: { store: store.map(Math.round), raw: raw.map(Math.round) },
  };
  console.log(
    `${name.padEnd(22)} store ${String(result.storeRecordsPerSec).padStart(8)} rec/s   raw ${String(result.rawRecordsPerSec).padStart(8)} rec/s   ratio ${result.ratio.toFixed(2)} (floor 0.50)   ${keys} keys, ${(bytes / 1e6).toFixed(1)} MB`,
  );
  return result;
}

const results = [await scenario("repayments only", false), await scenario("accounts + repayments", true)];
await mkdir("bench/results", { recursive: true });
await writeFile(
  "bench/results/store-throughput.json",
  JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2) + "\n",
);
