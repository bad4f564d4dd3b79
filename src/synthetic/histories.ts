import { ProductType, type SubjectId } from "../gen/creditmesh/v1/common.js";
import type { AccountRecord, RepaymentRecord } from "../gen/creditmesh/v1/records.js";
import { addDays, addMonths, diffDays } from "../records/dates.js";
import type { Rng } from "./prng.js";

/** The three kinds of internet consumer credit the field describes. */
export type ProductShape = "short_installment" | "revolving" | "cash_loan";

export interface AccountPlan {
  accountId: string;
  subject: SubjectId;
  shape: ProductShape;
  openedOn: string;
  asOf: string;
  furnishingConsentRef: string;
  /** From this installment (or statement) on, nothing is paid; a term loan brings it within its term. */
  missFrom?: number;
  /** One installment paid late but paid. */
  late?: { installment: number; days: number };
}

export interface AccountHistory {
  account: AccountRecord;
  repayments: RepaymentRecord[];
}

const CNY = 100; // fen per yuan

export function buildHistory(rng: Rng, plan: AccountPlan): AccountHistory {
  return plan.shape === "revolving" ? revolvingLine(rng, plan) : termLoan(rng, plan);
}

/** Number of installments (or statements) of a plan due on or before asOf. */
export function installmentsDue(openedOn: string, asOf: string, max = Infinity): number {
  let n = 0;
  while (n < max && addMonths(openedOn, n + 1) <= asOf) n++;
  return n;
}

function baseAccount(plan: AccountPlan, productType: ProductType, creditLimit: number, termMonths: number): AccountRecord {
  return {
    accountId: plan.accountId,
    subject: plan.subject,
    productType,
    openedOn: plan.openedOn,
    creditLimit: String(creditLimit),
    termMonths,
    currency: "CNY",
    closedOn: "",
    furnishingConsentRef: plan.furnishingConsentRef,
    chargedOff: false,
  };
}

/** When an installment is paid: a few days early as a rule, or late as planned, never after asOf. */
function paidOnFor(rng: Rng, plan: AccountPlan, n: number, dueOn: string): string {
  const early = addDays(dueOn, -rng.int(0, 5));
  const paid = plan.late?.installment === n ? addDays(dueOn, plan.late.days) : early < plan.openedOn ? plan.openedOn : early;
  return paid > plan.asOf ? plan.asOf : paid;
}

/** Written off once it has been 180+ days past due, as most lenders do (not all, hence the coin). */
function chargeOff(rng: Rng, plan: AccountPlan, firstMissedDue: string | undefined): boolean {
  return firstMissedDue !== undefined && diffDays(plan.asOf, firstMissedDue) >= 180 && rng.chance(0.6);
}

/**
 * Short installment loans (first loans around 500 CNY, 1–3 months) and cash
 * loans (1–12 months): equal principal parts plus a flat monthly fee;
 * `balance_after` is the principal still owed, so it starts from `credit_limit`
 * (the original principal) and reaches 0 with the last installment.
 */
function termLoan(rng: Rng, plan: AccountPlan): AccountHistory {
  const short = plan.shape === "short_installment";
  const principal = short
    ? rng.weighted([[rng.int(10, 20) * 50, 3], [rng.int(21, 60) * 50, 2]]) * CNY
    : rng.int(10, 200) * 100 * CNY;
  const term = short ? rng.weighted([[1, 3], [2, 2], [3, 5]]) : rng.pick([1, 3, 3, 6, 6, 6, 9, 12, 12]);
  const monthlyFee = Math.round((principal * (short ? rng.int(6, 15) : rng.int(10, 20))) / 1000);
  const account = baseAccount(plan, short ? ProductType.INSTALLMENT_LOAN : ProductType.CASH_LOAN, principal, term);

  const missFrom = plan.missFrom === undefined ? undefined : Math.min(plan.missFrom, term);
  const part = Math.floor(principal / term);
  let owed = principal;
  let lastPaid = "";
  let firstMissedDue: string | undefined;
  const repayments: RepaymentRecord[] = [];
  const due = installmentsDue(plan.openedOn, plan.asOf, term);
  for (let n = 1; n <= due; n++) {
    const dueOn = addMonths(plan.openedOn, n);
    const principalPart = n === term ? owed : part;
    const amountDue = principalPart + monthlyFee;
    if (missFrom !== undefined && n >= missFrom) {
      firstMissedDue ??= dueOn;
      repayments.push(repayment(plan.accountId, n, dueOn, amountDue, "", 0, owed));
      continue;
    }
    const paidOn = paidOnFor(rng, plan, n, dueOn);
    owed -= principalPart;
    if (paidOn > lastPaid) lastPaid = paidOn;
    repayments.push(repayment(plan.accountId, n, dueOn, amountDue, paidOn, amountDue, owed));
  }
  if (owed === 0) account.closedOn = lastPaid;
  account.chargedOff = chargeOff(rng, plan, firstMissedDue);
  return { account, repayments };
}

/**
 * Huabei/Baitiao-like lines: a monthly statement whose `amount_due` is the
 * minimum payment (10 % of the statement balance, at least 50 CNY); most
 * borrowers pay the statement in full, some revolve. Once a payment is missed
 * the line is frozen and the balance accrues the 0.05 %/day late fee.
 */
function revolvingLine(rng: Rng, plan: AccountPlan): AccountHistory {
  const limit = rng.int(4, 40) * 500 * CNY;
  const account = baseAccount(plan, ProductType.REVOLVING_LINE, limit, 0);
  const revolver = rng.chance(0.3);
  let carried = 0;
  let frozen = false;
  let firstMissedDue: string | undefined;
  const repayments: RepaymentRecord[] = [];
  const statements = installmentsDue(plan.openedOn, plan.asOf);
  for (let n = 1; n <= statements; n++) {
    const dueOn = addMonths(plan.openedOn, n);
    const fee = frozen ? Math.round(carried * 0.015) : carried > 0 ? Math.round(carried * 0.012) : 0;
    const spend = frozen ? 0 : Math.min(limit - carried, Math.round(limit * rng.int(5, 45) / 100) + 50 * CNY);
    const balance = carried + fee + Math.max(0, spend);
    const minimum = Math.min(balance, Math.max(50 * CNY, Math.round(balance / 10)));
    if (plan.missFrom !== undefined && n >= plan.missFrom) {
      firstMissedDue ??= dueOn;
      frozen = true;
      carried = balance;
      repayments.push(repayment(plan.accountId, n, dueOn, minimum, "", 0, balance));
      continue;
    }
    const paid = revolver && rng.chance(0.7) ? Math.max(minimum, Math.round(balance * rng.int(10, 60) / 100)) : balance;
    carried = balance - paid;
    repayments.push(repayment(plan.accountId, n, dueOn, minimum, paidOnFor(rng, plan, n, dueOn), paid, carried));
  }
  account.chargedOff = chargeOff(rng, plan, firstMissedDue);
  return { account, repayments };
}

function repayment(
  accountId: string,
  installment: number,
  dueOn: string,
  amountDue: number,
  paidOn: string,
  amountPaid: number,
  balanceAfter: number,
): RepaymentRecord {
  return {
    accountId,
    installment,
    dueOn,
    amountDue: String(amountDue),
    paidOn,
    amountPaid: String(amountPaid),
    balanceAfter: String(balanceAfter),
  };
}
