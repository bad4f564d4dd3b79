import { IdType, ProductType, type SubjectId } from "../gen/creditmesh/v1/common.js";
import type { Record as WireRecord } from "../gen/creditmesh/v1/records.js";
import { generateAccounts, generateRepayments } from "./bench.js";
import { generateBorrowers } from "./borrowers.js";
import { createRng } from "./prng.js";

/** A borrower of a scale network and the members that hold an account of theirs. */
export interface PortfolioBorrower {
  subject: SubjectId;
  holders: string[];
}

export interface Portfolios {
  borrowers: PortfolioBorrower[];
  /** The accounts each member furnishes, by institution id (every member present, possibly with none). */
  records: Map<string, WireRecord[]>;
}

export interface PortfolioOptions {
  /** Institution ids of the members that may hold accounts. */
  members: readonly string[];
  borrowers: number;
  seed: number | string;
  /** Each borrower holds one account at between min and max distinct members, uniform (default 1–5). */
  holdersPerBorrower?: readonly [number, number];
}

/**
 * Borrowers spread over a network as in the field: each has accounts at a
 * handful of members (1–5 by default, uniform), whatever the network's size,
 * so a report has a handful of holders with data and routing decides the
 * rest. One cash-loan account per (borrower, holder), valid for ingest.
 */
export function generatePortfolios(opts: PortfolioOptions): Portfolios {
  const [min, max] = opts.holdersPerBorrower ?? [1, 5];
  if (!(Number.isInteger(min) && Number.isInteger(max) && 1 <= min && min <= max)) {
    throw new RangeError(`holdersPerBorrower must be integers with 1 ≤ min ≤ max, got [${min}, ${max}]`);
  }
  const rng = createRng(opts.seed).fork("portfolios");
  const records = new Map(opts.members.map((id) => [id, [] as WireRecord[]]));
  const borrowers = generateBorrowers(opts.seed, opts.borrowers).map((b, i): PortfolioBorrower => {
    const k = Math.min(rng.int(min, max), opts.members.length);
    // A partial Fisher–Yates shuffle: k distinct members, uniformly.
    const pool = [...opts.members];
    for (let j = 0; j < k; j++) {
      const r = j + Math.floor(rng.next() * (pool.length - j));
      [pool[j], pool[r]] = [pool[r]!, pool[j]!];
    }
    const holders = pool.slice(0, k);
    const subject: SubjectId = { idType: IdType.CN_RESIDENT_ID, idNumber: b.idNumber, name: b.name, phone: b.phone };
    for (const h of holders) {
      records.get(h)!.push({
        kind: {
          $case: "account",
          value: {
            accountId: `P-${i}-${h}`,
            subject,
            productType: ProductType.CASH_LOAN,
            openedOn: "2026-01-05",
            creditLimit: "500000",
            termMonths: 6,
            currency: "CNY",
            closedOn: "",
            furnishingConsentRef: `portfolio-${i}`,
            chargedOff: false,
          },
        },
      });
    }
    return { subject, holders };
  });
  return { borrowers, records };
}

/**
 * The rest of a member's book, around its portfolio accounts: `count`
 * records, a tenth of them accounts of fresh subjects of its own and 9
 * repayments per account (round-robin, so every account's installments are
 * spread over the stream as a lender's are over time), in arrays of at most
 * `batch`. Generated lazily: a million records are never all in memory.
 */
export function* portfolioFiller(seed: number | string, count: number, batch = 5_000): Generator<WireRecord[]> {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
  const accounts = Math.ceil(count / 10);
  const ids: string[] = [];
  let out: WireRecord[] = [];
  for (const a of generateAccounts(seed, accounts)) {
    ids.push(a.accountId);
    out.push({ kind: { $case: "account", value: a } });
    if (out.length === batch) yield out.splice(0);
  }
  for (const r of generateRepayments(seed, count - accounts, ids)) {
    out.push({ kind: { $case: "repayment", value: r } });
    if (out.length === batch) yield out.splice(0);
  }
  if (out.length) yield out;
}
