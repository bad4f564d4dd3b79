import { invalid, isCreditMeshError } from "../errors.js";
import type { ProductType } from "../gen/creditmesh/v1/common.js";
import { DeletionReason, deletionReasonToJSON, type AccountDeletion, type AccountRecord, type Record, type RepaymentRecord } from "../gen/creditmesh/v1/records.js";
import { normalizeSubject, type NormalizedSubject } from "../subject/normalize.js";
import { screenFreeText } from "../subject/pii-screen.js";
import { parseAmount } from "./amount.js";
import { addDays, addMonths, isoDateProblem } from "./dates.js";
import { KNOWN_PRODUCT_TYPES, isKnownProductType, isRevolving, productTypeName } from "./product.js";

/**
 * Furnished records checked field by field, in wire order, into domain
 * values. The first problem is thrown as VALIDATION_FAILED with the snake_case
 * path of the field, so a furnisher can fix its file without guessing.
 */

export interface ValidAccount {
  accountId: string;
  subject: NormalizedSubject;
  productType: ProductType;
  openedOn: string;
  /** "" while open. */
  closedOn: string;
  /** Minor units: the limit for revolving products, the original principal otherwise. */
  creditLimit: number;
  termMonths: number;
  currency: string;
  chargedOff: boolean;
  furnishingConsentRef: string;
}

export interface ValidRepayment {
  accountId: string;
  installment: number;
  dueOn: string;
  amountDue: number;
  /** "" while unpaid. */
  paidOn: string;
  amountPaid: number;
  balanceAfter: number;
}

export interface ValidDeletion {
  accountId: string;
  reason: DeletionReason;
}

export type ValidRecord =
  | { kind: "account"; account: ValidAccount }
  | { kind: "repayment"; repayment: ValidRepayment }
  | { kind: "deletion"; deletion: ValidDeletion };

export const MAX_TERM_MONTHS = 480;

/** An ISO 4217 code as records carry it: 3 uppercase letters. */
export function isCurrencyCode(value: string): boolean {
  return /^[A-Z]{3}$/.test(value);
}
/** No consumer credit record predates this; an earlier date is a default or a typo (0001-01-01). */
export const EARLIEST_DATE = "1900-01-01";
/** A plausibility ceiling on every amount: 100 million CNY in fen. Above it a record is refused, not stored with a warning. */
export const DEFAULT_MAX_AMOUNT_MINOR = 10_000_000_000;

/**
 * Bounds that depend on when and where a record is checked. `latestDate` is
 * the last day that may already have happened: today plus a day, so that a
 * furnisher a timezone ahead (UTC+8) or with a slightly fast clock is not
 * refused.
 */
export interface RecordLimits {
  latestDate: string;
  maxAmount: number;
}

export function recordLimits(now: Date, maxAmount = DEFAULT_MAX_AMOUNT_MINOR): RecordLimits {
  return { latestDate: addDays(now.toISOString().slice(0, 10), 1), maxAmount };
}
const MAX_INSTALLMENT = 10_000;
const MAX_CONSENT_REF_CHARS = 128;

export function validateAccount(a: AccountRecord, field = "account", limits?: RecordLimits): ValidAccount {
  const accountId = accountIdOf(a.accountId, `${field}.account_id`);
  const subject = normalizeSubject(a.subject, `${field}.subject`);

  const productType = a.productType;
  if (!isKnownProductType(productType)) {
    throw invalid(
      `${field}.product_type`,
      `must be one of ${KNOWN_PRODUCT_TYPES.map(productTypeName).join(", ")}, got ${String(productType)}`,
    );
  }
  const revolving = isRevolving(productType);

  const openedOn = pastDateOf(a.openedOn, `${field}.opened_on`, limits);

  const creditLimit = amountOf(a.creditLimit, `${field}.credit_limit`, limits);
  if (!revolving && creditLimit === 0) {
    throw invalid(`${field}.credit_limit`, `original principal of a ${productTypeName(productType)} must be positive`);
  }

  const termMonths = a.termMonths;
  if (revolving && termMonths !== 0) {
    throw invalid(`${field}.term_months`, `must be 0 for ${productTypeName(productType)}, got ${String(termMonths)}`);
  }
  if (!revolving && !(Number.isInteger(termMonths) && termMonths >= 1 && termMonths <= MAX_TERM_MONTHS)) {
    throw invalid(`${field}.term_months`, `must be 1 to ${MAX_TERM_MONTHS} for ${productTypeName(productType)}, got ${String(termMonths)}`);
  }

  const currency = a.currency === "" ? "CNY" : a.currency;
  if (!isCurrencyCode(currency)) {
    throw invalid(`${field}.currency`, `must be an ISO 4217 code of 3 uppercase letters, got ${JSON.stringify(currency.slice(0, 8))}`);
  }

  let closedOn = "";
  if (a.closedOn !== "") {
    closedOn = pastDateOf(a.closedOn, `${field}.closed_on`, limits);
    if (closedOn < openedOn) throw invalid(`${field}.closed_on`, `must not be before opened_on ${openedOn}, got ${closedOn}`);
  }

  const furnishingConsentRef = (a.furnishingConsentRef ?? "").trim();
  if (furnishingConsentRef === "") throw invalid(`${field}.furnishing_consent_ref`, "required");
  if (furnishingConsentRef.length > MAX_CONSENT_REF_CHARS) {
    throw invalid(`${field}.furnishing_consent_ref`, `must be at most ${MAX_CONSENT_REF_CHARS} characters, got ${furnishingConsentRef.length}`);
  }
  if (/\p{Cc}/u.test(furnishingConsentRef)) throw invalid(`${field}.furnishing_consent_ref`, "must not contain control characters");
  // Stored beside the tradeline, outside the sealed identity.
  screenFreeText(furnishingConsentRef, `${field}.furnishing_consent_ref`, { names: [subject.name] });

  return {
    accountId,
    subject,
    productType,
    openedOn,
    closedOn,
    creditLimit,
    termMonths,
    currency,
    chargedOff: a.chargedOff === true,
    furnishingConsentRef,
  };
}

export function validateRepayment(r: RepaymentRecord, field = "repayment", limits?: RecordLimits): ValidRepayment {
  const accountId = accountIdOf(r.accountId, `${field}.account_id`);

  const installment = r.installment;
  if (!(Number.isInteger(installment) && installment >= 1 && installment <= MAX_INSTALLMENT)) {
    throw invalid(`${field}.installment`, `must be 1 to ${MAX_INSTALLMENT}, got ${String(installment)}`);
  }

  // A schedule may be furnished ahead, so a due date may lie in the future, but not beyond the longest term.
  const dueOn = dateOf(r.dueOn, `${field}.due_on`);
  if (limits && dueOn > addMonths(limits.latestDate, MAX_TERM_MONTHS)) {
    throw invalid(`${field}.due_on`, `must be at most ${MAX_TERM_MONTHS} months after today, got ${dueOn}`);
  }
  const amountDue = amountOf(r.amountDue, `${field}.amount_due`, limits);
  const paidOn = r.paidOn === "" ? "" : pastDateOf(r.paidOn, `${field}.paid_on`, limits);
  if (paidOn !== "") {
    // Installment n falls due n − 1 months after the first, and the first a month or so after opening:
    // a payment more than a month before the first due date precedes the loan.
    const earliest = addMonths(dueOn, -installment);
    if (paidOn < earliest) {
      throw invalid(`${field}.paid_on`, `must not be before ${earliest}, a month before installment 1 fell due (due_on ${dueOn} is installment ${installment}), got ${paidOn}`);
    }
  }
  const amountPaid = amountOf(r.amountPaid, `${field}.amount_paid`, limits);
  const balanceAfter = amountOf(r.balanceAfter, `${field}.balance_after`, limits);
  if (amountPaid > 0 && paidOn === "") throw invalid(`${field}.paid_on`, "required when amount_paid is positive");

  return { accountId, installment, dueOn, amountDue, paidOn, amountPaid, balanceAfter };
}

export function validateRecord(r: Record, limits?: RecordLimits): ValidRecord {
  const kind = r.kind;
  if (kind?.$case === "account") return { kind: "account", account: validateAccount(kind.value, "account", limits) };
  if (kind?.$case === "repayment") return { kind: "repayment", repayment: validateRepayment(kind.value, "repayment", limits) };
  if (kind?.$case === "deletion") return { kind: "deletion", deletion: validateDeletion(kind.value, "deletion") };
  throw invalid("kind", "record must hold an account, a repayment or a deletion");
}

const DELETION_REASONS = [DeletionReason.FURNISHED_IN_ERROR, DeletionReason.IDENTITY_FRAUD];

export function validateDeletion(d: AccountDeletion, field = "deletion"): ValidDeletion {
  const accountId = accountIdOf(d.accountId, `${field}.account_id`);
  if (!DELETION_REASONS.includes(d.reason)) {
    throw invalid(`${field}.reason`, `must be one of ${DELETION_REASONS.map(deletionReasonToJSON).join(", ")}, got ${String(d.reason)}`);
  }
  return { accountId, reason: d.reason };
}

function accountIdOf(value: string, field: string): string {
  const id = value ?? "";
  if (id === "") throw invalid(field, "required");
  if (id.length > 64) throw invalid(field, `must be at most 64 characters, got ${id.length}`);
  // Printable ASCII without spaces: it is a key, and lookalike Unicode would split one account in two.
  if (!/^[\x21-\x7e]+$/.test(id)) throw invalid(field, "must be printable ASCII without spaces");
  return id;
}

function dateOf(value: string, field: string): string {
  const v = value ?? "";
  if (v === "") throw invalid(field, "required");
  const problem = isoDateProblem(v);
  if (problem) throw invalid(field, problem);
  if (v < EARLIEST_DATE) throw invalid(field, `must not be before ${EARLIEST_DATE}, got ${v}`);
  return v;
}

/** A date of something that has happened: not after today (with a day's allowance for timezones and clocks). */
function pastDateOf(value: string, field: string, limits: RecordLimits | undefined): string {
  const v = dateOf(value, field);
  if (limits && v > limits.latestDate) throw invalid(field, `must not be after today, got ${v}`);
  return v;
}

function amountOf(value: string, field: string, limits?: RecordLimits): number {
  const parsed = parseAmount(value ?? "");
  if ("problem" in parsed) throw invalid(field, parsed.problem);
  if (limits && parsed.amount > limits.maxAmount) {
    throw invalid(field, `${parsed.amount} minor units is above the plausibility ceiling of ${limits.maxAmount} (records.maxAmountMinor); refused`);
  }
  return parsed.amount;
}

/** What of an account its repayments are checked against. */
export type RepaymentTerms = { openedOn: string; termMonths: number; productType: ProductType };

/**
 * Rules between a repayment and its account, checked once the account is
 * known (in the same batch or stored before).
 */
export function checkRepaymentAgainstAccount(r: ValidRepayment, a: RepaymentTerms, field = "repayment"): void {
  if (r.dueOn < a.openedOn) throw invalid(`${field}.due_on`, `must not be before the account was opened (${a.openedOn}), got ${r.dueOn}`);
  if (r.paidOn !== "" && r.paidOn < a.openedOn) throw invalid(`${field}.paid_on`, `must not be before the account was opened (${a.openedOn}), got ${r.paidOn}`);
  if (!isRevolving(a.productType) && r.installment > a.termMonths) {
    throw invalid(`${field}.installment`, `must be at most the account's term of ${a.termMonths} months, got ${r.installment}`);
  }
}

/** Whether checkRepaymentAgainstAccount lets `r` through. */
export function repaymentHolds(r: ValidRepayment, a: RepaymentTerms): boolean {
  try {
    checkRepaymentAgainstAccount(r, a);
    return true;
  } catch (err) {
    if (!isCreditMeshError(err, "VALIDATION_FAILED")) throw err;
    return false;
  }
}

/** Whether a correction from `before` to `after` could make a repayment that held for `before` untrue. */
export function narrowsTerms(before: RepaymentTerms, after: RepaymentTerms): boolean {
  if (after.openedOn > before.openedOn) return true;
  if (isRevolving(after.productType)) return false;
  return isRevolving(before.productType) || after.termMonths < before.termMonths;
}

/**
 * Rules between a corrected account and the repayments already on file for
 * it: the same rules as checkRepaymentAgainstAccount, told from the account's
 * side, so that a correction cannot leave a stored repayment that could not
 * have been furnished. The error names the account's field and the first
 * installment it contradicts.
 */
export function checkAccountAgainstRepayments(
  a: RepaymentTerms,
  repayments: Iterable<Pick<ValidRepayment, "installment" | "dueOn" | "paidOn">>,
  field = "account",
): void {
  const restructure = "to restructure the account, delete it (a deletion record) and furnish it again with its repayments";
  for (const r of [...repayments].sort((x, y) => x.installment - y.installment)) {
    if (r.dueOn < a.openedOn) {
      throw invalid(`${field}.opened_on`, `installment ${r.installment} on file fell due on ${r.dueOn}, before ${a.openedOn}; ${restructure}`);
    }
    if (r.paidOn !== "" && r.paidOn < a.openedOn) {
      throw invalid(`${field}.opened_on`, `installment ${r.installment} on file was paid on ${r.paidOn}, before ${a.openedOn}; ${restructure}`);
    }
    if (!isRevolving(a.productType) && r.installment > a.termMonths) {
      throw invalid(`${field}.term_months`, `installment ${r.installment} is on file, beyond a term of ${a.termMonths} months; ${restructure}`);
    }
  }
}
