import { invalid } from "../errors.js";
import type { ProductType } from "../gen/creditmesh/v1/common.js";
import { DeletionReason, deletionReasonToJSON, type AccountDeletion, type AccountRecord, type Record, type RepaymentRecord } from "../gen/creditmesh/v1/records.js";
import { normalizeSubject, type NormalizedSubject } from "../subject/normalize.js";
import { screenFreeText } from "../subject/pii-screen.js";
import { parseAmount } from "./amount.js";
import { isoDateProblem } from "./dates.js";
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

const MAX_TERM_MONTHS = 480;
const MAX_INSTALLMENT = 10_000;
const MAX_CONSENT_REF_CHARS = 128;

export function validateAccount(a: AccountRecord, field = "account"): ValidAccount {
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

  const openedOn = dateOf(a.openedOn, `${field}.opened_on`);

  const creditLimit = amountOf(a.creditLimit, `${field}.credit_limit`);
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
  if (!/^[A-Z]{3}$/.test(currency)) {
    throw invalid(`${field}.currency`, `must be an ISO 4217 code of 3 uppercase letters, got ${JSON.stringify(currency.slice(0, 8))}`);
  }

  let closedOn = "";
  if (a.closedOn !== "") {
    closedOn = dateOf(a.closedOn, `${field}.closed_on`);
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

export function validateRepayment(r: RepaymentRecord, field = "repayment"): ValidRepayment {
  const accountId = accountIdOf(r.accountId, `${field}.account_id`);

  const installment = r.installment;
  if (!(Number.isInteger(installment) && installment >= 1 && installment <= MAX_INSTALLMENT)) {
    throw invalid(`${field}.installment`, `must be 1 to ${MAX_INSTALLMENT}, got ${String(installment)}`);
  }

  const dueOn = dateOf(r.dueOn, `${field}.due_on`);
  const amountDue = amountOf(r.amountDue, `${field}.amount_due`);
  const paidOn = r.paidOn === "" ? "" : dateOf(r.paidOn, `${field}.paid_on`);
  const amountPaid = amountOf(r.amountPaid, `${field}.amount_paid`);
  const balanceAfter = amountOf(r.balanceAfter, `${field}.balance_after`);
  if (amountPaid > 0 && paidOn === "") throw invalid(`${field}.paid_on`, "required when amount_paid is positive");

  return { accountId, installment, dueOn, amountDue, paidOn, amountPaid, balanceAfter };
}

export function validateRecord(r: Record): ValidRecord {
  const kind = r.kind;
  if (kind?.$case === "account") return { kind: "account", account: validateAccount(kind.value, "account") };
  if (kind?.$case === "repayment") return { kind: "repayment", repayment: validateRepayment(kind.value, "repayment") };
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
  return v;
}

function amountOf(value: string, field: string): number {
  const parsed = parseAmount(value ?? "");
  if ("problem" in parsed) throw invalid(field, parsed.problem);
  return parsed.amount;
}
