import { parse, type CsvError, type Parser } from "csv-parse";
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
  type FieldError,
  type RecordKind,
} from "./record-file-fields.js";
import { decodedChunks, type FileEncoding } from "./record-file-decode.js";
import type { RecordFileItem } from "./record-file.js";

/** The CSV header, in the order the writer uses; readers accept any order and any subset. */
export const CSV_COLUMNS: readonly string[] = [
  "record_type",
  "account_id",
  ...SUBJECT_FIELDS.map((f) => f.name),
  ...new Set([...ACCOUNT_FIELDS, ...REPAYMENT_FIELDS, ...DELETION_FIELDS].map((f) => f.name).filter((n) => n !== "account_id")),
];

const OWNED: { [K in RecordKind]: ReadonlySet<string> } = {
  account: new Set([...ACCOUNT_FIELDS, ...SUBJECT_FIELDS].map((f) => f.name)),
  repayment: new Set(REPAYMENT_FIELDS.map((f) => f.name)),
  deletion: new Set(DELETION_FIELDS.map((f) => f.name)),
};
const SUBJECT_COLUMNS: ReadonlySet<string> = new Set(SUBJECT_FIELDS.map((f) => f.name));
const KNOWN: ReadonlySet<string> = new Set(CSV_COLUMNS);

/** Columns without which no row of that kind can be valid: a file lacking one is refused at its header, not row by row. */
const REQUIRED: { [K in RecordKind]: readonly string[] } = {
  account: ["account_id", "product_type", "opened_on", "id_number", "name", "furnishing_consent_ref"],
  repayment: ["account_id", "installment", "due_on"],
  deletion: ["account_id", "reason"],
};

const MAX_RECORD_CHARS = 1 << 20;

export async function* readCsv(
  path: string,
  startLine: number,
  signal: AbortSignal | undefined,
  encoding: FileEncoding = "utf-8",
): AsyncGenerator<RecordFileItem> {
  // csv-parse is driven by hand rather than iterated: its callbacks run in
  // file order while a chunk is parsed, so skipped rows and good rows come
  // out interleaved correctly, and a fatal error cannot discard rows that
  // were parsed before it.
  const out: RecordFileItem[] = [];
  let columns: readonly string[] | undefined;
  let fatal: Error | undefined;
  let stop = false;
  // Where the last record ended and how many blank lines had been skipped by
  // then: csv-parse reports an error at the line where it noticed it, but the
  // line people need is where the bad record starts.
  let lastEnd = 0;
  let blanksAtLastEnd = 0;
  let rows = 0;
  let lastSkipped = 0;
  const kindsChecked = new Set<RecordKind>();
  const parser: Parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_CHARS,
    on_record: (cells: string[], ctx) => {
      const line = ctx.lines - embeddedLineBreaks(cells);
      lastEnd = ctx.lines;
      blanksAtLastEnd = ctx.empty_lines;
      if (stop) return null;
      if (columns === undefined) {
        const header = readHeader(cells);
        if ("error" in header) {
          out.push({ line, error: header.error });
          stop = true;
        } else {
          columns = header.columns;
        }
      } else if (!isBlank(cells)) {
        rows++;
        const missing = missingColumn(columns, cells, kindsChecked);
        if (missing) {
          out.push({ line: 1, error: { field: "header", reason: `${missing.reason} (line ${line} is one)` } });
          stop = true;
        } else if (line >= startLine) {
          out.push({ line, ...rowToRecord(columns, cells) });
        }
      }
      return null;
    },
    on_skip: (err: CsvError | undefined) => {
      const at = typeof err?.lines === "number" ? err.lines : lastEnd + 1;
      const blanks = typeof err?.empty_lines === "number" ? err.empty_lines - blanksAtLastEnd : 0;
      const line = Math.min(at, lastEnd + 1 + blanks);
      lastEnd = at;
      if (stop || (columns !== undefined && line < startLine)) return undefined;
      if (columns === undefined) {
        out.push({ line, error: { field: "header", reason: `malformed CSV: ${quotingProblem(err)}` } });
        stop = true;
        return undefined;
      }
      // csv-parse may stumble twice on one record (a stray quote, then the end of the file inside the quote it opened): one error per record.
      if (line === lastSkipped) return undefined;
      lastSkipped = line;
      // A record, if a malformed one: the file does not hold "only a header".
      rows++;
      if (err?.code === "CSV_MAX_RECORD_SIZE") {
        // csv-parse cannot resume after this one; it is most often an unclosed quote swallowing the file.
        const reason = `record longer than ${MAX_RECORD_CHARS} characters (an unclosed quote?); the rest of the file was not read`;
        out.push({ line, error: { field: "line", reason } });
        stop = true;
      } else {
        out.push({ line, error: { field: "line", reason: `malformed CSV: ${quotingProblem(err)}` } });
      }
      return undefined;
    },
  });
  parser.on("error", (err) => {
    fatal ??= err;
  });

  for await (const chunk of decodedChunks(path, encoding, signal)) {
    await new Promise<void>((resolve) =>
      parser.write(chunk, (err) => {
        fatal ??= err ?? undefined;
        resolve();
      }),
    );
    if (fatal) throw fatal;
    yield* out.splice(0);
    if (stop) return;
  }
  await new Promise<void>((resolve) => {
    parser.once("error", () => resolve());
    parser.end(() => resolve());
  });
  if (fatal) throw fatal;
  yield* out.splice(0);
  if (stop) return;
  if (columns === undefined) {
    yield { line: 1, error: { field: "header", reason: "empty file: expected a header naming the columns, then one record per line" } };
  } else if (rows === 0) {
    yield { line: 1, error: { field: "header", reason: "the file holds only a header, no records" } };
  }
}

/**
 * What is wrong with a record csv-parse skipped, and how to fix it. Its own
 * messages quote the field read so far (part of a name or an ID number, with
 * multi-byte characters shown as Latin-1), so they are not passed on.
 */
function quotingProblem(err: CsvError | undefined): string {
  const column = typeof err?.column === "number" ? ` in column ${err.column + 1}` : "";
  switch (err?.code) {
    case "INVALID_OPENING_QUOTE":
      return `a quote inside an unquoted field${column}: quote the whole field and double each quote in it ("")`;
    case "CSV_INVALID_CLOSING_QUOTE":
    case "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE":
      return `text right after a closing quote${column}: double each quote inside a quoted field (""); if a field of this record opens a quote, it is closed only on a later line`;
    case "CSV_QUOTE_NOT_CLOSED":
      return "a quote opened in this record is never closed: the file ends inside it";
    default:
      return err?.code ?? "unreadable record";
  }
}

/** The first column that rows of this row's kind need and the header lacks; each kind is checked once. */
function missingColumn(columns: readonly string[], cells: string[], checked: Set<RecordKind>): FieldError | undefined {
  const kind = recordKindOf(cells[columns.indexOf("record_type")]);
  if (kind === undefined || checked.has(kind)) return undefined;
  checked.add(kind);
  const absent = REQUIRED[kind].filter((c) => !columns.includes(c));
  if (absent.length === 0) return undefined;
  return { field: "header", reason: `missing column${absent.length > 1 ? "s" : ""} ${absent.map((c) => JSON.stringify(c)).join(", ")}, which ${kind} rows need` };
}

type Header = { columns: readonly string[] } | { error: FieldError };

function readHeader(cells: string[]): Header {
  // accountId → account_id, but ACCOUNT_ID must not become _a_c_c_o_u_n_t_…
  const columns = cells.map((c) => (/[a-z]/.test(c) ? camelToSnake(c) : c).trim().toLowerCase());
  const seen = new Set<string>();
  for (const c of columns) {
    if (!KNOWN.has(c)) return { error: { field: "header", reason: `unknown column ${describe(c)}` } };
    if (seen.has(c)) return { error: { field: "header", reason: `column ${JSON.stringify(c)} appears twice` } };
    seen.add(c);
  }
  if (!seen.has("record_type")) return { error: { field: "header", reason: 'missing the "record_type" column' } };
  return { columns };
}

function rowToRecord(columns: readonly string[], cells: string[]): Omit<RecordFileItem, "line"> {
  if (cells.length !== columns.length) {
    return { error: { field: "line", reason: `expected ${columns.length} cells as in the header, found ${cells.length}` } };
  }
  const typeCell = cells[columns.indexOf("record_type")];
  const kind = recordKindOf(typeCell);
  if (kind === undefined) {
    return { error: { field: "record_type", reason: `unknown record type ${describe(typeCell)}; expected ${RECORD_KINDS_TEXT}` } };
  }
  const values = new Map<string, unknown>();
  const subject = new Map<string, unknown>();
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i];
    if (cells[i] === "" || name === "record_type") continue;
    if (!OWNED[kind].has(name)) {
      return { error: { field: `${kind}.${name}`, reason: `belongs to other record types; leave it empty on ${kind} rows` } };
    }
    (kind === "account" && SUBJECT_COLUMNS.has(name) ? subject : values).set(name, cells[i]);
  }
  return buildRecord(kind, values, kind === "account" && subject.size > 0 ? subject : undefined);
}

function isBlank(cells: string[]): boolean {
  return cells.every((c) => c === "");
}

/** csv-parse reports the line a row ends on; quoted cells may span lines. */
function embeddedLineBreaks(cells: string[]): number {
  let n = 0;
  for (const c of cells) {
    if (c.length === 0 || (c.indexOf("\n") < 0 && c.indexOf("\r") < 0)) continue;
    n += c.match(/\r\n|\r|\n/g)?.length ?? 0;
  }
  return n;
}
