import type { Record } from "../gen/creditmesh/v1/records.js";
import { CSV_COLUMNS } from "./record-file-csv.js";
import { ACCOUNT_FIELDS, DELETION_FIELDS, REPAYMENT_FIELDS, SUBJECT_FIELDS, type FieldSpec, type RecordKind } from "./record-file-fields.js";

/**
 * Writers for the formats `readRecordFile` reads, so that generated data and
 * exports round-trip. Empty strings, false and unspecified enums are omitted
 * (an empty cell, an absent key); numbers are written even when 0, because
 * "balance_after 0" or "term_months 0" reads better than a gap. Amounts are
 * decimal strings, enums are names.
 */

type Plain = { [k: string]: unknown };

function plainFields(specs: readonly FieldSpec[], msg: object, into: Plain): Plain {
  const m = msg as Plain;
  for (const f of specs) {
    const v = m[f.prop];
    if (v === undefined || v === "" || v === false) continue;
    if (typeof f.kind === "object") {
      if (v !== 0) into[f.name] = f.kind.toJSON(v as number);
    } else {
      into[f.name] = v;
    }
  }
  return into;
}

function recordFields(record: Record): { kind: RecordKind; fields: Plain; subject?: Plain } {
  const k = record.kind;
  if (k === undefined) throw new TypeError("record has no kind");
  if (k.$case === "repayment") return { kind: "repayment", fields: plainFields(REPAYMENT_FIELDS, k.value, {}) };
  if (k.$case === "deletion") return { kind: "deletion", fields: plainFields(DELETION_FIELDS, k.value, {}) };
  const fields = plainFields(ACCOUNT_FIELDS, k.value, {});
  const subject = k.value.subject ? plainFields(SUBJECT_FIELDS, k.value.subject, {}) : undefined;
  return { kind: "account", fields, subject };
}

/** `{"account": {...}}`, `{"repayment": {...}}` or `{"deletion": {...}}`, snake_case, without a newline. */
export function formatJsonlRecord(record: Record): string {
  const { kind, fields, subject } = recordFields(record);
  if (subject !== undefined) {
    const { account_id, ...rest } = fields;
    // account_id first, then the subject: the order people read a row in.
    return JSON.stringify({ [kind]: { ...(account_id === undefined ? {} : { account_id }), subject, ...rest } });
  }
  return JSON.stringify({ [kind]: fields });
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(",");
}

/** One CSV row in `csvHeader()` column order, without a newline. */
export function formatCsvRecord(record: Record): string {
  const { kind, fields, subject } = recordFields(record);
  const all: Plain = { record_type: kind, ...fields, ...subject };
  return CSV_COLUMNS.map((c) => csvCell(all[c])).join(",");
}

function csvCell(v: unknown): string {
  if (v === undefined) return "";
  const s = String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
