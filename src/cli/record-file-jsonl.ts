import {
  ACCOUNT_FIELDS,
  buildRecord,
  camelToSnake,
  DELETION_FIELDS,
  describe,
  RECORD_KINDS_TEXT,
  recordKindOf,
  REPAYMENT_FIELDS,
  SUBJECT_FIELDS,
  type Built,
  type RecordKind,
} from "./record-file-fields.js";
import type { FileEncoding } from "./record-file-decode.js";
import { readLines } from "./record-file-lines.js";
import type { RecordFileItem } from "./record-file.js";

const MAX_LINE_CHARS = 1 << 20;

const SHAPES = '{"account": {…}}, {"repayment": {…}}, {"deletion": {…}} or {"type": "account" | "repayment" | "deletion", …}';

const ALLOWED: { [K in RecordKind]: ReadonlySet<string> } = {
  account: new Set([...ACCOUNT_FIELDS, ...SUBJECT_FIELDS].map((f) => f.name).concat("subject")),
  repayment: new Set(REPAYMENT_FIELDS.map((f) => f.name)),
  deletion: new Set(DELETION_FIELDS.map((f) => f.name)),
};
const SUBJECT_ALLOWED: ReadonlySet<string> = new Set(SUBJECT_FIELDS.map((f) => f.name));

export async function* readJsonl(
  path: string,
  startLine: number,
  signal: AbortSignal | undefined,
  encoding: FileEncoding = "utf-8",
): AsyncGenerator<RecordFileItem> {
  let records = 0;
  for await (const l of readLines(path, { startLine, maxChars: MAX_LINE_CHARS, signal, encoding })) {
    if (l.text.trim() !== "" || l.tooLong) records++;
    if (l.tooLong) {
      yield { line: l.line, error: { field: "line", reason: `longer than ${MAX_LINE_CHARS} characters` } };
      continue;
    }
    if (l.text.trim() === "") continue;
    yield { line: l.line, ...parseJsonRecord(l.text) };
  }
  if (records === 0 && startLine === 1) yield { line: 1, error: { field: "file", reason: "empty file: expected one JSON record per line" } };
}

function isObject(v: unknown): v is { [k: string]: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One JSONL line → one record or the first problem found in it. */
/**
 * What JSON.parse found wrong, without the excerpt of the line V8 adds to
 * some of its messages (a name or an ID number next to the fault).
 */
function jsonProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : "";
  const at = /^(.*?) in JSON at position (\d+)/.exec(message);
  if (at && !at[1].includes('"')) return `${at[1].charAt(0).toLowerCase()}${at[1].slice(1)}, at character ${Number(at[2]) + 1}`;
  if (message.startsWith("Unexpected end of JSON input")) return "the line ends inside a value (a closing brace or quote missing?)";
  if (message.startsWith("Unexpected token")) return "a character where none may be (text that should be in quotes?)";
  return "not valid JSON";
}

export function parseJsonRecord(text: string): Built {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { error: { field: "line", reason: `malformed JSON: ${jsonProblem(err)}` } };
  }
  if (!isObject(parsed)) return { error: { field: "line", reason: `expected a JSON object: ${SHAPES}` } };

  const typeKey = "type" in parsed ? "type" : "record_type" in parsed ? "record_type" : undefined;
  if (typeKey !== undefined) {
    const kind = recordKindOf(parsed[typeKey]);
    if (kind === undefined) {
      return { error: { field: typeKey, reason: `unknown record type ${describe(parsed[typeKey])}; expected ${RECORD_KINDS_TEXT}` } };
    }
    const body = { ...parsed };
    delete body[typeKey];
    return fromBody(kind, body);
  }
  const keys = Object.keys(parsed);
  const kind = keys.length === 1 ? recordKindOf(keys[0]) : undefined;
  if (kind === undefined || keys[0] !== kind) {
    return { error: { field: "line", reason: `expected one record per line: ${SHAPES}` } };
  }
  const body = parsed[kind];
  if (!isObject(body)) return { error: { field: kind, reason: "expected a JSON object" } };
  return fromBody(kind, body);
}

type Named = { values: Map<string, unknown> } | { error: { field: string; reason: string } };

// Every line of a file repeats the same keys; only known ones are remembered, so the cache stays small.
const snakeCache = new Map<string, string>();

function snakeOf(key: string, allowed: ReadonlySet<string>): string {
  const cached = snakeCache.get(key);
  if (cached !== undefined) return cached;
  const name = camelToSnake(key);
  if (allowed.has(name)) snakeCache.set(key, name);
  return name;
}

/** Accepts snake_case and camelCase keys; unknown keys are errors so that a typo is not silently dropped. */
function byName(path: string, obj: { [k: string]: unknown }, allowed: ReadonlySet<string>): Named {
  const values = new Map<string, unknown>();
  for (const key in obj) {
    const v = obj[key];
    const name = snakeOf(key, allowed);
    if (!allowed.has(name)) return { error: { field: `${path}.${key}`, reason: "unknown field" } };
    if (values.has(name)) return { error: { field: `${path}.${name}`, reason: "given twice (snake_case and camelCase)" } };
    values.set(name, v);
  }
  return { values };
}

function fromBody(kind: RecordKind, body: { [k: string]: unknown }): Built {
  const named = byName(kind, body, ALLOWED[kind]);
  if ("error" in named) return named;
  if (kind !== "account") return buildRecord(kind, named.values);

  const { values } = named;
  const nested = values.get("subject");
  values.delete("subject");
  const flat = new Map<string, unknown>();
  for (const name of SUBJECT_ALLOWED) {
    if (values.has(name)) {
      flat.set(name, values.get(name));
      values.delete(name);
    }
  }
  if (nested === undefined || nested === null) {
    return buildRecord(kind, values, flat.size > 0 ? flat : undefined);
  }
  if (flat.size > 0) {
    return {
      error: { field: "account.subject", reason: "give the subject either as a nested object or as top-level fields, not both" },
    };
  }
  if (!isObject(nested)) return { error: { field: "account.subject", reason: "expected a JSON object" } };
  const subject = byName("account.subject", nested, SUBJECT_ALLOWED);
  if ("error" in subject) return subject;
  return buildRecord(kind, values, subject.values);
}
