import { execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { CSV_COLUMNS } from "../../../src/cli/record-file-csv.js";
import { ACCOUNT_FIELDS, DELETION_FIELDS, REPAYMENT_FIELDS, SUBJECT_FIELDS } from "../../../src/cli/record-file-fields.js";
import { parseJsonRecord } from "../../../src/cli/record-file-jsonl.js";
import { csvHeader, formatCsvRecord, formatJsonlRecord } from "../../../src/cli/record-file-write.js";
import { readRecordFile, type RecordFileItem } from "../../../src/cli/record-file.js";
import { isCreditMeshError } from "../../../src/errors.js";
import { IdType, ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import { AccountDeletion, AccountRecord, DeletionReason, RepaymentRecord, type Record as WireRecord } from "../../../src/gen/creditmesh/v1/records.js";
import { validateRecord } from "../../../src/records/validate.js";
import { generateNetworkData, institutionRecords } from "../../../src/synthetic/index.js";

const dir = mkdtempSync(join(tmpdir(), "record-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function file(ext: string, text: string): string {
  const path = join(dir, `f${fileNo++}${ext}`);
  writeFileSync(path, text);
  return path;
}

async function readAll(path: string, startLine?: number): Promise<RecordFileItem[]> {
  const out: RecordFileItem[] = [];
  for await (const item of readRecordFile(path, { startLine })) out.push(item);
  return out;
}

const ID = "11010519491231002X";
const HEADER = CSV_COLUMNS.join(",");

function csvRow(cells: { [column: string]: string }): string {
  return CSV_COLUMNS.map((c) => cells[c] ?? "").join(",");
}

const ACCOUNT_CELLS = {
  record_type: "account",
  account_id: "A1",
  id_type: "CN_RESIDENT_ID",
  id_number: ID,
  name: "张三",
  phone: "13800000000",
  product_type: "INSTALLMENT_LOAN",
  opened_on: "2025-01-02",
  credit_limit: "50000",
  term_months: "3",
  currency: "CNY",
  furnishing_consent_ref: "FC-1",
};
const REPAYMENT_CELLS = {
  record_type: "repayment",
  account_id: "A1",
  installment: "1",
  due_on: "2025-02-02",
  amount_due: "17000",
  paid_on: "2025-02-01",
  amount_paid: "17000",
  balance_after: "34000",
};

function account(item: RecordFileItem | undefined): AccountRecord {
  expect(item?.error).toBeUndefined();
  const kind = item?.record?.kind;
  if (kind?.$case !== "account") throw new Error(`expected an account, got ${JSON.stringify(item)}`);
  return kind.value;
}

function repayment(item: RecordFileItem | undefined): RepaymentRecord {
  expect(item?.error).toBeUndefined();
  const kind = item?.record?.kind;
  if (kind?.$case !== "repayment") throw new Error(`expected a repayment, got ${JSON.stringify(item)}`);
  return kind.value;
}

describe("readRecordFile: CSV", () => {
  it("reads accounts and repayments with the physical line each record starts on", async () => {
    const text = [
      HEADER,
      csvRow(ACCOUNT_CELLS),
      "",
      csvRow(REPAYMENT_CELLS),
      // A quoted name spanning two lines: the record starts on line 5, the next on 7.
      csvRow({ ...ACCOUNT_CELLS, account_id: "A2", name: '"王\n五"' }),
      csvRow({ ...REPAYMENT_CELLS, account_id: "A2", paid_on: "", amount_paid: "" }),
    ].join("\r\n");
    const items = await readAll(file(".csv", text));
    expect(items.map((i) => i.line)).toEqual([2, 4, 5, 7]);

    const a = account(items[0]);
    expect(a).toEqual({
      accountId: "A1",
      subject: { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: "张三", phone: "13800000000" },
      productType: ProductType.INSTALLMENT_LOAN,
      openedOn: "2025-01-02",
      creditLimit: "50000",
      termMonths: 3,
      currency: "CNY",
      closedOn: "",
      furnishingConsentRef: "FC-1",
      chargedOff: false,
    });
    expect(repayment(items[1])).toEqual({
      accountId: "A1",
      installment: 1,
      dueOn: "2025-02-02",
      amountDue: "17000",
      paidOn: "2025-02-01",
      amountPaid: "17000",
      balanceAfter: "34000",
    });
    expect(account(items[2]).subject?.name).toBe("王\n五");
    // Empty cells are unset fields: the proto defaults.
    expect(repayment(items[3])).toMatchObject({ paidOn: "", amountPaid: "0" });
  });

  it("accepts columns in any order, a subset of them, camelCase or upper-case headers and a BOM", async () => {
    const text = "\uFEFFamountDue,RECORD_TYPE,account_id,installment,dueOn\n17000,repayment,A1,2,2025-02-02\n";
    const items = await readAll(file(".csv", text));
    expect(items).toHaveLength(1);
    expect(repayment(items[0])).toMatchObject({ accountId: "A1", installment: 2, amountDue: "17000" });
  });

  it("reads charged_off words as booleans ('false' is false)", async () => {
    const text = [HEADER, csvRow({ ...ACCOUNT_CELLS, charged_off: "false" }), csvRow({ ...ACCOUNT_CELLS, charged_off: "TRUE" })].join("\n");
    const items = await readAll(file(".csv", text));
    expect(account(items[0]).chargedOff).toBe(false);
    expect(account(items[1]).chargedOff).toBe(true);
  });

  it("reports an unknown product type as an error on account.product_type and goes on", async () => {
    const text = [HEADER, csvRow({ ...ACCOUNT_CELLS, product_type: "LOANZ" }), csvRow(REPAYMENT_CELLS)].join("\n");
    const items = await readAll(file(".csv", text));
    expect(items[0].line).toBe(2);
    expect(items[0].record).toBeUndefined();
    expect(items[0].error?.field).toBe("account.product_type");
    expect(items[0].error?.reason).toContain("LOANZ");
    expect(repayment(items[1]).accountId).toBe("A1");
  });

  it("reports row-level format problems with their line and field", async () => {
    const text = [
      HEADER,
      csvRow({ ...REPAYMENT_CELLS, amount_due: "170.50" }),
      csvRow({ ...REPAYMENT_CELLS, installment: "first" }),
      csvRow({ ...ACCOUNT_CELLS, installment: "1" }),
      csvRow({ ...ACCOUNT_CELLS, record_type: "loan" }),
      csvRow({ ...ACCOUNT_CELLS, id_type: "SSN" }),
      "repayment,A1,1",
      csvRow(REPAYMENT_CELLS),
    ].join("\n");
    const items = await readAll(file(".csv", text));
    expect(items.map((i) => [i.line, i.error?.field])).toEqual([
      [2, "repayment.amount_due"],
      [3, "repayment.installment"],
      [4, "account.installment"],
      [5, "record_type"],
      [6, "account.subject.id_type"],
      [7, "line"],
      [8, undefined],
    ]);
  });

  it("reports malformed quoting on its line and keeps reading later rows", async () => {
    const text = [HEADER, csvRow({ ...REPAYMENT_CELLS, due_on: 'x"y' }), csvRow(REPAYMENT_CELLS)].join("\n");
    const items = await readAll(file(".csv", text));
    expect(items[0]).toMatchObject({ line: 2, error: { field: "line" } });
    expect(items[0].error?.reason).toMatch(/malformed CSV/);
    expect(repayment(items[1]).installment).toBe(1);
    expect(items[1].line).toBe(3);
  });

  it("says how to fix a record's quoting, without quoting the field, and counts malformed rows as records", async () => {
    const nameColumn = CSV_COLUMNS.indexOf("name") + 1;
    const cases: [string, string | RegExp][] = [
      ['王"五', `malformed CSV: a quote inside an unquoted field in column ${nameColumn}: quote the whole field and double each quote in it ("")`],
      ['"王"五', new RegExp(`^malformed CSV: text right after a closing quote in column ${nameColumn}: double each quote`)],
      ['"王五', "malformed CSV: a quote opened in this record is never closed: the file ends inside it"],
    ];
    for (const [name, reason] of cases) {
      // The only record is malformed: it is reported, not "a file that holds only a header".
      const items = await readAll(file(".csv", [HEADER, csvRow({ ...ACCOUNT_CELLS, name })].join("\n")));
      expect(items).toEqual([{ line: 2, error: { field: "line", reason: typeof reason === "string" ? reason : expect.stringMatching(reason) } }]);
      expect(items[0].error?.reason).not.toMatch(/王|五|Ã|value is/);
    }
  });

  it("reports the start line of a bad record that spans lines, counting blank lines", async () => {
    const text = [HEADER, "", csvRow({ ...ACCOUNT_CELLS, name: '"王\n\n五"x' }), csvRow(REPAYMENT_CELLS)].join("\n");
    const items = await readAll(file(".csv", text));
    expect(items[0]).toMatchObject({ line: 3, error: { field: "line" } });
  });

  it("stops at a record longer than 1 MiB (an unclosed quote) instead of buffering the file", async () => {
    const text = [HEADER, csvRow(REPAYMENT_CELLS), csvRow({ ...ACCOUNT_CELLS, name: `"${"x".repeat(1 << 21)}` }), csvRow(REPAYMENT_CELLS)].join("\n");
    const items = await readAll(file(".csv", text));
    expect(items.map((i) => [i.line, i.error?.field])).toEqual([
      [2, undefined],
      [3, "line"],
    ]);
    expect(items[1].error?.reason).toMatch(/longer than/);
  });

  it("reports an unreadable header as line 1 and reads nothing else", async () => {
    const items = await readAll(file(".csv", `record_type,"account_id\n${csvRow(REPAYMENT_CELLS)}\n`));
    expect(items).toEqual([{ line: 1, error: { field: "header", reason: expect.stringMatching(/malformed CSV/) } }]);
  });

  it("rejects a header with an unknown or repeated column, or without record_type, as line 1", async () => {
    for (const header of ["record_type,acount_id", "record_type,account_id,account_id", "account_id,installment"]) {
      const items = await readAll(file(".csv", `${header}\nrepayment,A1\n`));
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ line: 1, error: { field: "header" } });
    }
  });

  it("resumes: startLine skips records that start before it", async () => {
    const text = [HEADER, csvRow(ACCOUNT_CELLS), csvRow(REPAYMENT_CELLS), csvRow({ ...REPAYMENT_CELLS, installment: "2" })].join("\n");
    const path = file(".csv", text);
    const items = await readAll(path, 3);
    expect(items.map((i) => i.line)).toEqual([3, 4]);
    expect(items.map((i) => repayment(i).installment)).toEqual([1, 2]);
    expect(await readAll(path, 5)).toEqual([]);
  });

  it("streams a 200k-line file and yields every record", async () => {
    const path = join(dir, "big.csv");
    const out = createWriteStream(path);
    out.write(`record_type,account_id,installment,due_on,amount_due\n`);
    const rows = 200_000;
    for (let i = 0; i < rows; i += 1000) {
      let chunk = "";
      for (let j = i; j < i + 1000; j++) chunk += `repayment,A${j % 97},${j + 1},2025-02-02,${j}\n`;
      if (!out.write(chunk)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");

    let count = 0;
    let errors = 0;
    let last: RecordFileItem | undefined;
    for await (const item of readRecordFile(path)) {
      count++;
      if (item.error) errors++;
      last = item;
    }
    expect(count).toBe(rows);
    expect(errors).toBe(0);
    expect(last?.line).toBe(rows + 1);
    expect(repayment(last).amountDue).toBe(String(rows - 1));
  });
});

describe("readRecordFile: JSONL", () => {
  const acct = {
    account_id: "A1",
    subject: { id_type: "CN_RESIDENT_ID", id_number: ID, name: "张三" },
    product_type: "REVOLVING_LINE",
    opened_on: "2025-01-02",
    credit_limit: 500000,
    furnishing_consent_ref: "FC-1",
  };

  it("reads both shapes, snake_case and camelCase, with line numbers counting blank lines", async () => {
    const lines = [
      JSON.stringify({ account: acct }),
      "",
      JSON.stringify({ type: "repayment", accountId: "A1", installment: 1, dueOn: "2025-02-02", amountDue: "5000", paidOn: "2025-02-01", amountPaid: 5000 }),
      "   ",
      JSON.stringify({ repayment: { account_id: "A1", installment: "2", due_on: "2025-03-02", amount_due: 5000 } }),
      JSON.stringify({ record_type: "account", ...acct, subject: undefined, id_type: "cn_resident_id", id_number: ID, name: "张三" }),
    ];
    const items = await readAll(file(".jsonl", lines.join("\n") + "\n"));
    expect(items.map((i) => i.line)).toEqual([1, 3, 5, 6]);
    expect(account(items[0])).toMatchObject({
      accountId: "A1",
      productType: ProductType.REVOLVING_LINE,
      creditLimit: "500000",
      subject: { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: "张三", phone: "" },
    });
    expect(repayment(items[1])).toMatchObject({ installment: 1, amountDue: "5000", amountPaid: "5000", paidOn: "2025-02-01" });
    expect(repayment(items[2])).toMatchObject({ installment: 2, paidOn: "", amountPaid: "0" });
    // Flat subject fields land in the same place as a nested subject.
    expect(account(items[3])).toEqual(account(items[0]));
  });

  it("accepts .ndjson and CRLF line ends", async () => {
    const items = await readAll(file(".ndjson", `${JSON.stringify({ account: acct })}\r\n${JSON.stringify({ account: acct })}\r\n`));
    expect(items.map((i) => account(i).accountId)).toEqual(["A1", "A1"]);
  });

  it("reports a malformed JSON line as field 'line' and goes on with the next", async () => {
    const text = [JSON.stringify({ account: acct }), '{"account": {"account_id": "A2",', JSON.stringify({ account: acct })].join("\n");
    const items = await readAll(file(".jsonl", text));
    expect(items[1]).toMatchObject({ line: 2, error: { field: "line" } });
    expect(items[1].error?.reason).toMatch(/malformed JSON/);
    expect(account(items[2]).accountId).toBe("A1");
  });

  it("says where a JSON line is malformed without V8's excerpt of it (a name or an ID number next to the fault)", async () => {
    const lines = [
      `{"account": {"account_id": "A3", "id_number": "${ID}", "name": 张三}}`,
      `{"account": {"account_id": "A4", "id_number": "${ID}", "name": "张三"`,
      `{"account": {"account_id": "A5", "id_number": "${ID}" "name": "张三"}}`,
    ];
    const items = await readAll(file(".jsonl", lines.join("\n")));
    expect(items.map((i) => i.error?.reason)).toEqual([
      "malformed JSON: a character where none may be (text that should be in quotes?)",
      expect.stringMatching(/^malformed JSON: (expected ',' or '\}' after property value, at character \d+|the line ends inside a value)/),
      expect.stringMatching(/^malformed JSON: expected ',' or '\}' after property value, at character \d+$/),
    ]);
    for (const item of items) expect(item.error?.reason).not.toMatch(/张|1101/);
  });

  it("reports an unknown product type on account.product_type, naming the value", async () => {
    const items = await readAll(file(".jsonl", JSON.stringify({ account: { ...acct, product_type: "LOANZ" } })));
    expect(items).toEqual([{ line: 1, error: { field: "account.product_type", reason: expect.stringContaining('"LOANZ"') } }]);
  });

  it.each([
    ["a decimal amount", "account.credit_limit", { account: { ...acct, credit_limit: 12.5 } }],
    ["an amount in yuan", "account.credit_limit", { account: { ...acct, credit_limit: "500.00" } }],
    ["an amount past 2^53 as a JSON number", "account.credit_limit", { account: { ...acct, credit_limit: 2 ** 60 } }],
    ["a term in words", "account.term_months", { account: { ...acct, term_months: "twelve" } }],
    ["a non-boolean flag", "account.charged_off", { account: { ...acct, charged_off: "maybe" } }],
    ["a date as a number", "account.opened_on", { account: { ...acct, opened_on: 20250102 } }],
    ["a misspelt field", "account.openedon", { account: { ...acct, openedon: "2025-01-02" } }],
    ["an unknown id type", "account.subject.id_type", { account: { ...acct, subject: { ...acct.subject, id_type: "SSN" } } }],
    ["a misspelt subject field", "account.subject.idnumber", { account: { ...acct, subject: { ...acct.subject, idnumber: ID } } }],
    ["a subject both nested and flat", "account.subject", { account: { ...acct, id_number: ID } }],
    ["a subject that is not an object", "account.subject", { account: { ...acct, subject: "someone" } }],
    ["a field given in both spellings", "account.account_id", { account: { ...acct, accountId: "A9" } }],
    ["a fractional installment", "repayment.installment", { repayment: { account_id: "A1", installment: 1.5 } }],
    ["an account field on a repayment", "repayment.product_type", { repayment: { account_id: "A1", product_type: "CASH_LOAN" } }],
    ["an unknown record type", "type", { type: "loan", account_id: "A1" }],
    ["two records on one line", "line", { account: acct, repayment: {} }],
    ["a record that is not an object", "account", { account: [acct] }],
    ["an array", "line", [acct]],
    ["an empty object", "line", {}],
  ])("reports %s on %s", (_label, field, value) => {
    const result = parseJsonRecord(JSON.stringify(value));
    expect("error" in result && result.error.field).toBe(field);
  });

  it("resumes: startLine skips earlier lines without parsing them", async () => {
    const text = ["not json at all", JSON.stringify({ account: acct }), JSON.stringify({ account: { ...acct, account_id: "A2" } })].join("\n");
    const items = await readAll(file(".jsonl", text), 3);
    expect(items.map((i) => [i.line, account(i).accountId])).toEqual([[3, "A2"]]);
  });

  it("reports an over-long line without buffering it, then reads on", async () => {
    const text = `{"account": {"name": "${"x".repeat(2 << 20)}"}}\n${JSON.stringify({ account: acct })}\n`;
    const items = await readAll(file(".jsonl", text));
    expect(items[0]).toMatchObject({ line: 1, error: { field: "line" } });
    expect(account(items[1]).accountId).toBe("A1");
  });

  it("never throws on arbitrary input lines", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (line) => {
        const r = parseJsonRecord(line);
        expect("record" in r || "error" in r).toBe(true);
      }),
    );
  });
});

describe("readRecordFile: files", () => {
  it("refuses an unsupported extension at once, with a stable code", () => {
    let thrown: unknown;
    try {
      readRecordFile(join(dir, "records.txt"));
    } catch (err) {
      thrown = err;
    }
    expect(isCreditMeshError(thrown, "VALIDATION_FAILED")).toBe(true);
  });

  it("yields each record before the rest of the file has been written (it streams)", async () => {
    for (const ext of [".csv", ".jsonl"]) {
      const path = join(dir, `fifo${ext}`);
      execFileSync("mkfifo", [path]);
      const writer = createWriteStream(path);
      const first = ext === ".csv" ? `${HEADER}\n${csvRow(REPAYMENT_CELLS)}\n` : `${JSON.stringify({ repayment: { account_id: "A1" } })}\n`;
      writer.write(first + " ".repeat(70_000) + "\n"); // past one read chunk, so the parser sees the row
      const it = readRecordFile(path)[Symbol.asyncIterator]();
      const got = await it.next();
      expect(got.done).toBe(false);
      expect(writer.writableFinished).toBe(false);
      writer.end(ext === ".csv" ? `${csvRow(REPAYMENT_CELLS)}\n` : `${JSON.stringify({ repayment: { account_id: "A2" } })}\n`);
      const rest: RecordFileItem[] = [];
      for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
      expect(rest.filter((i) => i.record)).toHaveLength(1);
    }
  });
});

describe("writers and readers round-trip", () => {
  const data = generateNetworkData(11, { institutions: ["bank-a", "bank-b"], borrowers: 40, asOf: "2026-03-15" });
  const records = Object.values(data.institutions).flatMap(institutionRecords);

  it.each([".csv", ".jsonl"])("generated records survive %s", async (ext) => {
    const text =
      ext === ".csv" ? [csvHeader(), ...records.map(formatCsvRecord)].join("\n") : records.map(formatJsonlRecord).join("\n");
    const items = await readAll(file(ext, text));
    expect(items.filter((i) => i.error)).toEqual([]);
    expect(items.map((i) => i.record)).toEqual(records);
  });

  const text = fc.string({ maxLength: 12, unit: "binary" });
  const amount = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String);
  const arbRecord = (str: fc.Arbitrary<string>): fc.Arbitrary<WireRecord> =>
    fc.oneof(
      fc.record({
        accountId: str,
        subject: fc.option(fc.record({ idType: fc.constantFrom(0, 1, 2, 3), idNumber: str, name: str, phone: str }), { nil: undefined }),
        productType: fc.integer({ min: 0, max: 6 }),
        openedOn: str,
        creditLimit: amount,
        termMonths: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        currency: str,
        closedOn: str,
        furnishingConsentRef: str,
        chargedOff: fc.boolean(),
      }).map((value): WireRecord => ({ kind: { $case: "account", value } })),
      fc.record({
        accountId: str,
        installment: fc.integer({ min: 0, max: 10_000 }),
        dueOn: str,
        amountDue: amount,
        paidOn: str,
        amountPaid: amount,
        balanceAfter: amount,
      }).map((value): WireRecord => ({ kind: { $case: "repayment", value } })),
    );

  it("round-trips arbitrary field values through JSONL", () => {
    fc.assert(
      fc.property(arbRecord(text), (record) => {
        expect(parseJsonRecord(formatJsonlRecord(record))).toEqual({ record });
      }),
    );
  });

  it("round-trips arbitrary field values through CSV, on the right lines", async () => {
    // CSV trims cells, so values here carry no surrounding whitespace.
    const trimmed = text.map((s) => s.trim());
    const records = fc.sample(arbRecord(trimmed), { numRuns: 500, seed: 42 });
    const rows = records.map(formatCsvRecord);
    const items = await readAll(file(".csv", [csvHeader(), ...rows].join("\n")));
    expect(items.map((i) => i.record)).toEqual(records.map(withoutEmptySubject));
    let line = 2;
    for (const [i, item] of items.entries()) {
      expect(item.line).toBe(line);
      line += rows[i].split(/\r\n|\r|\n/).length;
    }
  });

  it("CSV-quotes commas, quotes and line breaks so they come back intact", async () => {
    const value: AccountRecord = {
      ...AccountRecord.fromPartial({ accountId: "A,1", furnishingConsentRef: 'say "yes"', openedOn: "2025-01-01" }),
      subject: { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: "张\n三", phone: "" },
    };
    const record: WireRecord = { kind: { $case: "account", value } };
    const items = await readAll(file(".csv", `${csvHeader()}\n${formatCsvRecord(record)}\n`));
    expect(items).toEqual([{ line: 2, record }]);
  });
});

/** A CSV row has no way to say "a subject with every field empty": it reads back as no subject. */
function withoutEmptySubject(record: WireRecord): WireRecord {
  const k = record.kind;
  if (k?.$case !== "account" || k.value.subject === undefined) return record;
  const s = k.value.subject;
  const empty = s.idType === 0 && s.idNumber === "" && s.name === "" && s.phone === "";
  return empty ? { kind: { $case: "account", value: { ...k.value, subject: undefined } } } : record;
}

describe("deletions", () => {
  const deleted: WireRecord = { kind: { $case: "deletion", value: { accountId: "A1", reason: DeletionReason.IDENTITY_FRAUD } } };

  it("read from a CSV row and from both JSONL shapes, reason in any case", async () => {
    const csv = await readAll(file(".csv", `${HEADER}\n${csvRow({ record_type: "deletion", account_id: "A1", reason: "identity_fraud" })}\n`));
    expect(csv).toEqual([{ line: 2, record: deleted }]);
    const jsonl = await readAll(
      file(".jsonl", '{"deletion": {"account_id": "A1", "reason": "IDENTITY_FRAUD"}}\n{"type": "deletion", "accountId": "A1", "reason": "Identity_Fraud"}\n'),
    );
    expect(jsonl).toEqual([{ line: 1, record: deleted }, { line: 2, record: deleted }]);
  });

  it("name the bad field: an unknown reason, a column of another record type", async () => {
    const items = await readAll(
      file(".csv", [HEADER, csvRow({ record_type: "deletion", account_id: "A1", reason: "MISTAKE" }), csvRow({ record_type: "deletion", account_id: "A1", installment: "1" })].join("\n")),
    );
    expect(items.map((i) => i.error?.field)).toEqual(["deletion.reason", "deletion.installment"]);
    expect(items[0]!.error!.reason).toContain("FURNISHED_IN_ERROR, IDENTITY_FRAUD");
    expect(parseJsonRecord('{"deletion": {"account_id": "A1", "balance_after": "0"}}')).toEqual({ error: { field: "deletion.balance_after", reason: "unknown field" } });
  });

  it("round-trip through the writers", async () => {
    expect(parseJsonRecord(formatJsonlRecord(deleted))).toEqual({ record: deleted });
    expect(await readAll(file(".csv", `${csvHeader()}\n${formatCsvRecord(deleted)}\n`))).toEqual([{ line: 2, record: deleted }]);
  });
});

describe("field tables", () => {
  it("cover exactly the generated messages' fields, so a proto change cannot be silently dropped", () => {
    const props = (o: object) => Object.keys(o).sort();
    expect(ACCOUNT_FIELDS.map((f) => f.prop).concat("subject").sort()).toEqual(props(AccountRecord.fromPartial({})));
    expect(REPAYMENT_FIELDS.map((f) => f.prop).sort()).toEqual(props(RepaymentRecord.fromPartial({})));
    expect(DELETION_FIELDS.map((f) => f.prop).sort()).toEqual(props(AccountDeletion.fromPartial({})));
    expect(SUBJECT_FIELDS.map((f) => f.prop).sort()).toEqual(["idNumber", "idType", "name", "phone"]);
    expect(CSV_COLUMNS).toEqual([
      "record_type", "account_id", "id_type", "id_number", "name", "phone", "product_type", "opened_on",
      "credit_limit", "term_months", "currency", "closed_on", "furnishing_consent_ref", "charged_off",
      "installment", "due_on", "amount_due", "paid_on", "amount_paid", "balance_after", "reason",
    ]);
  });
});

describe("samples and documentation", () => {
  const root = join(import.meta.dirname, "../../..");

  it.each(["node-config/samples/records.csv", "node-config/samples/records.jsonl"])("%s ingests cleanly", async (name) => {
    const items = await readAll(join(root, name));
    expect(items.filter((i) => i.error)).toEqual([]);
    const seen = new Set<string>();
    const products = new Set<number>();
    let late = 0;
    for (const { record } of items) {
      const v = validateRecord(record!);
      if (v.kind === "account") {
        seen.add(v.account.accountId);
        products.add(v.account.productType);
      } else if (v.kind === "repayment") {
        expect(seen.has(v.repayment.accountId), `repayment of ${v.repayment.accountId} before its account`).toBe(true);
        const paid = v.repayment.paidOn || "2099-12-31";
        if (Date.parse(paid) - Date.parse(v.repayment.dueOn) >= 30 * 86_400_000) late++;
      }
    }
    expect(products).toEqual(new Set([ProductType.INSTALLMENT_LOAN, ProductType.REVOLVING_LINE, ProductType.CASH_LOAN]));
    expect(late).toBeGreaterThanOrEqual(2);
  });

  it("the two sample files hold the same records", async () => {
    const csv = await readAll(join(root, "node-config/samples/records.csv"));
    const jsonl = await readAll(join(root, "node-config/samples/records.jsonl"));
    expect(jsonl.map((i) => i.record)).toEqual(csv.map((i) => i.record));
  });

  it("the examples in docs/record-format.md parse and pass the node's validation", async () => {
    const doc = readFileSync(join(root, "docs/record-format.md"), "utf8");
    const blocks = [...doc.matchAll(/```(csv|jsonl)\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1]).sort()).toEqual(["csv", "jsonl"]);
    for (const [, ext, body] of blocks) {
      const items = await readAll(file(`.${ext}`, body));
      expect(items.length).toBeGreaterThan(2);
      expect(items.filter((i) => i.error)).toEqual([]);
      for (const i of items) validateRecord(i.record!);
    }
  });
});
