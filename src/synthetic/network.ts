import { IdType, type SubjectId } from "../gen/creditmesh/v1/common.js";
import type { AccountRecord, Record, RepaymentRecord } from "../gen/creditmesh/v1/records.js";
import { addDays, addMonths, isoDateProblem } from "../records/dates.js";
import { generateBorrowers, type Borrower } from "./borrowers.js";
import { buildHistory, type AccountPlan, type ProductShape } from "./histories.js";
import { createRng, type Rng } from "./prng.js";

export type BorrowerProfile = "clean" | "multi_lending" | "delinquent";

export interface SyntheticBorrower extends Borrower {
  profile: BorrowerProfile;
}

/** What one institution furnishes: every repayment's account is among its accounts. */
export interface InstitutionData {
  accounts: AccountRecord[];
  repayments: RepaymentRecord[];
}

export interface NetworkData {
  asOf: string;
  borrowers: SyntheticBorrower[];
  institutions: { [institutionId: string]: InstitutionData };
}

export interface NetworkDataOptions {
  institutions: readonly string[];
  borrowers: number;
  /** YYYY-MM-DD: histories run up to this date and nothing is dated after it. */
  asOf: string;
}

const ACCOUNT_PREFIX: { [S in ProductShape]: string } = { short_installment: "IL", revolving: "RL", cash_loan: "CL" };

/**
 * Cross-platform credit histories for a network of institutions. Most
 * borrowers are clean; some are multi-lending (an account opened at every
 * institution in the last 90 days); some are delinquent (installments missed
 * for 30 to 200 days, the oldest written off). The first borrower is always
 * multi-lending and the second always delinquent, so that even a tiny test
 * network shows both signals.
 */
export function generateNetworkData(seed: number | string, opts: NetworkDataOptions): NetworkData {
  const problem = isoDateProblem(opts.asOf);
  if (problem) throw new RangeError(`asOf ${problem}`);
  if (opts.institutions.length === 0) throw new RangeError("at least one institution is needed");
  if (new Set(opts.institutions).size !== opts.institutions.length) throw new RangeError("institution ids must be distinct");

  const root = createRng(seed);
  const institutions: NetworkData["institutions"] = {};
  const counters = new Map<string, number>();
  for (const id of opts.institutions) {
    institutions[id] = { accounts: [], repayments: [] };
    counters.set(id, 0);
  }
  const nextAccountId = (institution: string, shape: ProductShape): string => {
    const n = (counters.get(institution) ?? 0) + 1;
    counters.set(institution, n);
    return `${ACCOUNT_PREFIX[shape]}${String(n).padStart(8, "0")}`;
  };

  const borrowers = generateBorrowers(seed, opts.borrowers).map((b, i): SyntheticBorrower => {
    const rng = root.fork(`history:${i}`);
    const profile: BorrowerProfile =
      i === 0 ? "multi_lending" : i === 1 ? "delinquent" : rng.weighted([["clean", 75], ["multi_lending", 12], ["delinquent", 13]]);
    const subject: SubjectId = { idType: IdType.CN_RESIDENT_ID, idNumber: b.idNumber, name: b.name, phone: b.phone };
    for (const draft of planAccounts(rng, profile, opts)) {
      const plan: AccountPlan = {
        ...draft,
        subject,
        asOf: opts.asOf,
        accountId: nextAccountId(draft.institution, draft.shape),
        furnishingConsentRef: `AUTH-${draft.openedOn.replaceAll("-", "")}-${rng.int(0, 0xffffffff).toString(16).toUpperCase().padStart(8, "0")}`,
      };
      const { account, repayments } = buildHistory(rng, plan);
      institutions[draft.institution].accounts.push(account);
      institutions[draft.institution].repayments.push(...repayments);
    }
    return { ...b, profile };
  });
  return { asOf: opts.asOf, borrowers, institutions };
}

type Draft = Pick<AccountPlan, "shape" | "openedOn" | "missFrom" | "late"> & { institution: string };

function shapeOf(rng: Rng, weights: readonly [number, number, number]): ProductShape {
  return rng.weighted([["short_installment", weights[0]], ["revolving", weights[1]], ["cash_loan", weights[2]]]);
}

function planAccounts(rng: Rng, profile: BorrowerProfile, opts: NetworkDataOptions): Draft[] {
  const daysAgo = (min: number, max: number) => addDays(opts.asOf, -rng.int(min, max));
  const drafts: Draft[] = [];
  if (profile === "multi_lending") {
    for (const institution of opts.institutions) {
      drafts.push({ institution, shape: shapeOf(rng, [50, 15, 35]), openedOn: daysAgo(0, 89) });
    }
    if (rng.chance(0.5)) {
      drafts.push({ institution: rng.pick(opts.institutions), shape: shapeOf(rng, [40, 40, 20]), openedOn: daysAgo(180, 720) });
    }
    return drafts;
  }
  const count = rng.weighted([[1, 35], [2, 40], [3, 25]]);
  for (let i = 0; i < count; i++) {
    const institution = rng.pick(opts.institutions);
    const shape = shapeOf(rng, [45, 30, 25]);
    if (profile === "delinquent" && i === 0) {
      drafts.push({ institution, shape, ...missedPlan(rng, shape, opts.asOf) });
      continue;
    }
    const openedOn = rng.chance(0.15) ? daysAgo(0, 89) : daysAgo(91, 720);
    if (profile === "delinquent" && rng.chance(0.5)) {
      drafts.push({ institution, shape, openedOn, late: { installment: 1, days: rng.int(31, 75) } });
    } else if (rng.chance(0.08)) {
      // Late by under 30 days: a real-world blemish that is not a delinquency.
      drafts.push({ institution, shape, openedOn, late: { installment: 1, days: rng.int(3, 20) } });
    } else {
      drafts.push({ institution, shape, openedOn });
    }
  }
  return drafts;
}

/** Opened so that its first missed installment is 30–200 days past due at asOf. */
function missedPlan(rng: Rng, shape: ProductShape, asOf: string): Pick<Draft, "openedOn" | "missFrom"> {
  const daysPastDue = rng.weighted([[rng.int(30, 89), 5], [rng.int(90, 179), 3], [rng.int(180, 200), 2]]);
  // A term loan's term is drawn later; termLoan() brings missFrom within it.
  const missFrom = shape === "revolving" ? rng.int(2, 8) : shape === "cash_loan" ? rng.int(1, 4) : 1;
  return { missFrom, openedOn: addMonths(addDays(asOf, -daysPastDue), -missFrom) };
}

/** One institution's data in an order a node ingests cleanly: every account before any repayment. */
export function institutionRecords(data: InstitutionData): Record[] {
  return [
    ...data.accounts.map((value): Record => ({ kind: { $case: "account", value } })),
    ...data.repayments.map((value): Record => ({ kind: { $case: "repayment", value } })),
  ];
}
