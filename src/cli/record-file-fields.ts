import {
  IdType,
  idTypeFromJSON,
  idTypeToJSON,
  ProductType,
  productTypeFromJSON,
  productTypeToJSON,
} from "../gen/creditmesh/v1/common.js";
import {
  AccountDeletion,
  AccountRecord,
  DeletionReason,
  deletionReasonFromJSON,
  deletionReasonToJSON,
  RepaymentRecord,
  type Record as WireRecord,
} from "../gen/creditmesh/v1/records.js";

/**
 * Field tables shared by the CSV and JSONL readers (and the writers), so both
 * formats accept the same values and report the same snake_case field paths.
 * Only what the wire cannot carry is rejected here (a non-integer amount would
 * make the protobuf encoder throw and take the whole batch down); everything
 * else is the server's validation.
 */

export interface FieldError {
  field: string;
  reason: string;
}

export interface EnumSpec {
  label: string;
  fromJSON(v: unknown): number;
  toJSON(v: number): string;
  unrecognized: number;
  names: readonly string[];
}

export type FieldKind = "string" | "int64" | "int32" | "bool" | EnumSpec;

export interface FieldSpec {
  /** snake_case, as in the proto and the CSV header. */
  name: string;
  /** The generated TypeScript property. */
  prop: string;
  kind: FieldKind;
}

function enumNames(e: object): string[] {
  return Object.keys(e).filter((k) => Number.isNaN(Number(k)) && k !== "UNRECOGNIZED" && !k.endsWith("_UNSPECIFIED"));
}

export const ID_TYPE: EnumSpec = {
  label: "id type",
  fromJSON: idTypeFromJSON,
  toJSON: idTypeToJSON,
  unrecognized: IdType.UNRECOGNIZED,
  names: enumNames(IdType),
};

export const PRODUCT_TYPE: EnumSpec = {
  label: "product type",
  fromJSON: productTypeFromJSON,
  toJSON: productTypeToJSON,
  unrecognized: ProductType.UNRECOGNIZED,
  names: enumNames(ProductType),
};

export const DELETION_REASON: EnumSpec = {
  label: "deletion reason",
  fromJSON: deletionReasonFromJSON,
  toJSON: deletionReasonToJSON,
  unrecognized: DeletionReason.UNRECOGNIZED,
  names: enumNames(DeletionReason),
};

const spec = (name: string, kind: FieldKind): FieldSpec => ({ name, prop: snakeToCamel(name), kind });

export const SUBJECT_FIELDS: readonly FieldSpec[] = [
  spec("id_type", ID_TYPE),
  spec("id_number", "string"),
  spec("name", "string"),
  spec("phone", "string"),
];

/** Account fields other than `subject`, which is nested in JSON and flat in CSV. */
export const ACCOUNT_FIELDS: readonly FieldSpec[] = [
  spec("account_id", "string"),
  spec("product_type", PRODUCT_TYPE),
  spec("opened_on", "string"),
  spec("credit_limit", "int64"),
  spec("term_months", "int32"),
  spec("currency", "string"),
  spec("closed_on", "string"),
  spec("furnishing_consent_ref", "string"),
  spec("charged_off", "bool"),
];

export const REPAYMENT_FIELDS: readonly FieldSpec[] = [
  spec("account_id", "string"),
  spec("installment", "int32"),
  spec("due_on", "string"),
  spec("amount_due", "int64"),
  spec("paid_on", "string"),
  spec("amount_paid", "int64"),
  spec("balance_after", "int64"),
];

export const DELETION_FIELDS: readonly FieldSpec[] = [spec("account_id", "string"), spec("reason", DELETION_REASON)];

/** The record types of a file, as written in `record_type` and as JSONL keys. */
export const RECORD_KINDS = ["account", "repayment", "deletion"] as const;

export function recordKindOf(v: unknown): RecordKind | undefined {
  const s = typeof v === "string" ? v.trim().toLowerCase() : undefined;
  return (RECORD_KINDS as readonly string[]).includes(s ?? "") ? (s as RecordKind) : undefined;
}

export const RECORD_KINDS_TEXT = RECORD_KINDS.map((k) => JSON.stringify(k)).join(", ");

export function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function camelToSnake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER = /^[+-]?\d+$/;

/** A value as shown in a reason. */
export function describe(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  // Bounded: a reason is printed per line, and a broken file can hold megabyte-long values.
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v} ${String(v)}`;
}

type Coerced = { value: unknown } | { reason: string };

/** Turns a CSV cell or JSON value into what the generated `fromJSON` reads unchanged. */
export function coerce(kind: FieldKind, v: unknown): Coerced {
  if (kind === "string") {
    return typeof v === "string" ? { value: v } : { reason: `expected a string, got ${describe(v)}` };
  }
  if (kind === "int64") return coerceInt64(v);
  if (kind === "int32") return coerceInt32(v);
  if (kind === "bool") return coerceBool(v);
  return coerceEnum(kind, v);
}

function coerceInt64(v: unknown): Coerced {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v)) return { value: String(v) };
    // Beyond 2^53 JSON.parse has already rounded it; the original digits are gone.
    if (Number.isInteger(v)) return { reason: `${v} is too large for a JSON number; write the amount as a string` };
  } else if (typeof v === "string") {
    const s = v.trim();
    if (INTEGER.test(s)) {
      // Up to 15 digits cannot leave the int64 range; only longer ones need BigInt.
      if (s.length <= 15) return { value: String(Number(s)) };
      const n = BigInt(s);
      if (n < INT64_MIN || n > INT64_MAX) return { reason: `${describe(v)} is out of the int64 range` };
      return { value: n.toString() };
    }
  }
  return { reason: `expected a whole number of minor units (fen), got ${describe(v)}` };
}

function coerceInt32(v: unknown): Coerced {
  let n: number;
  if (typeof v === "number") n = v;
  else if (typeof v === "string" && INTEGER.test(v.trim())) n = Number(v.trim());
  else return { reason: `expected a whole number, got ${describe(v)}` };
  if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
    return { reason: `expected a whole number within the int32 range, got ${describe(v)}` };
  }
  return { value: n };
}

const TRUE = new Set(["true", "1", "yes", "y"]);
const FALSE = new Set(["false", "0", "no", "n"]);

function coerceBool(v: unknown): Coerced {
  if (typeof v === "boolean") return { value: v };
  // The generated fromJSON uses Boolean(v), which would read "false" as true.
  const s = typeof v === "string" ? v.trim().toLowerCase() : typeof v === "number" ? String(v) : undefined;
  if (s !== undefined && TRUE.has(s)) return { value: true };
  if (s !== undefined && FALSE.has(s)) return { value: false };
  return { reason: `expected true or false, got ${describe(v)}` };
}

function coerceEnum(e: EnumSpec, v: unknown): Coerced {
  const key = typeof v === "string" ? v.trim().toUpperCase() : typeof v === "number" ? v : undefined;
  const n = key === undefined ? e.unrecognized : e.fromJSON(key);
  if (n === e.unrecognized) {
    return { reason: `unknown ${e.label} ${describe(v)}; expected one of ${e.names.join(", ")}` };
  }
  return { value: n };
}

/** Empty cells, empty strings and JSON null all mean "not set", in both formats. */
export function isUnset(v: unknown): boolean {
  return v === undefined || v === null || v === "";
}

/**
 * Coerces `values` (keyed by snake_case name) against `specs` into `out`
 * (keyed by generated property name). Returns the first bad field.
 */
export function coerceFields(
  path: string,
  specs: readonly FieldSpec[],
  values: ReadonlyMap<string, unknown>,
  out: { [prop: string]: unknown },
): FieldError | undefined {
  for (const f of specs) {
    const v = values.get(f.name);
    if (isUnset(v)) continue;
    const c = coerce(f.kind, v);
    if ("reason" in c) return { field: `${path}.${f.name}`, reason: c.reason };
    out[f.prop] = c.value;
  }
  return undefined;
}

export type RecordKind = (typeof RECORD_KINDS)[number];

export type Built = { record: WireRecord } | { error: FieldError };

/**
 * Builds one wire record from values keyed by snake_case name. `subject` is
 * undefined when no subject field was given at all, so that the server reports
 * the missing subject rather than an empty one.
 */
export function buildRecord(
  kind: RecordKind,
  values: ReadonlyMap<string, unknown>,
  subject?: ReadonlyMap<string, unknown>,
): Built {
  const fields: { [prop: string]: unknown } = {};
  if (kind === "repayment") {
    const error = coerceFields("repayment", REPAYMENT_FIELDS, values, fields);
    return error ? { error } : { record: { kind: { $case: "repayment", value: RepaymentRecord.fromJSON(fields) } } };
  }
  if (kind === "deletion") {
    const error = coerceFields("deletion", DELETION_FIELDS, values, fields);
    return error ? { error } : { record: { kind: { $case: "deletion", value: AccountDeletion.fromJSON(fields) } } };
  }
  const error = coerceFields("account", ACCOUNT_FIELDS, values, fields);
  if (error) return { error };
  if (subject !== undefined) {
    const s: { [prop: string]: unknown } = {};
    const subjectError = coerceFields("account.subject", SUBJECT_FIELDS, subject, s);
    if (subjectError) return { error: subjectError };
    fields.subject = s;
  }
  return { record: { kind: { $case: "account", value: AccountRecord.fromJSON(fields) } } };
}
