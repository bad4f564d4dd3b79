import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkpointPath } from "../../src/cli/commands/ingest.js";
import { formatJsonlRecord } from "../../src/cli/record-file-write.js";
import { databasePath, parseConfig } from "../../src/config/load.js";
import { readSecrets } from "../../src/config/secrets.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { Record as WireRecord } from "../../src/gen/creditmesh/v1/records.js";
import { accountRefFor } from "../../src/records/ingest.js";
import { openStores } from "../../src/store/index.js";
import { TestClient } from "../helpers/grpc-client.js";
import { cli, runCli, startNodeProcess, writeConfig, type NodeProcess } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

/**
 * `creditmesh ingest` as a furnisher runs it against a node in its own
 * process: a node that dies mid-file, files in GB18030, records that cannot
 * be true, and headers that are wrong.
 */

function nodeConfig(dir: string, id: string) {
  mkdirSync(dir, { recursive: true });
  return writeConfig(path.join(dir, "node.json"), {
    institution: { id, name: `${id} Bank` },
    storage: { dataDir: path.join(dir, "data") },
    grpc: { host: "127.0.0.1", port: 0 },
    metrics: { enabled: false },
    log: { level: "warn" },
  });
}

function apiKeyOf(dir: string): string {
  return readSecrets(path.join(dir, "data", "secrets.json")).localApiKey;
}

const HEADER = "record_type,account_id,id_type,id_number,name,phone,product_type,opened_on,credit_limit,term_months,furnishing_consent_ref,installment,due_on,amount_due,paid_on,amount_paid,balance_after";
const NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄晓明", "周杰", "吴𠀀"];
const ID_NUMBERS = NAMES.map((_, i) => residentId("19880214", 100 + i, "310104"));

function namesCsv(): string {
  const rows = NAMES.map((name, i) => `account,GB-${i},CN_RESIDENT_ID,${ID_NUMBERS[i]},${name},,INSTALLMENT_LOAN,2026-01-05,300000,3,auth-${i},,,,,,`);
  return [HEADER, ...rows].join("\r\n") + "\r\n";
}

describe("creditmesh ingest against a node process", () => {
  const tmp = tempDir("cm-ingest-cli-");
  const dir = path.join(tmp.dir, "files");
  let configFile: string;
  let node: NodeProcess | undefined;
  let client: TestClient;

  beforeAll(async () => {
    configFile = nodeConfig(dir, "ingest-bank");
    node = await startNodeProcess(configFile);
    client = new TestClient(node.address, apiKeyOf(dir));
  }, 90_000);

  afterAll(async () => {
    await node?.kill();
    tmp.remove();
  });

  const accounts = async () => Number((await client.unary("getNodeStatus", {})).accounts);

  it("refuses a GB18030 file read as UTF-8 with its line and byte offset, stores nothing, and stores the right names with --encoding gb18030", { timeout: 120_000 }, async () => {
    const file = path.join(dir, "gb.csv");
    const bytes = iconv.encode(namesCsv(), "gb18030");
    writeFileSync(file, bytes);
    const before = await accounts();

    const refused = await cli(["ingest", file, "--config", configFile, "--quiet"]);
    expect(refused.code).not.toBe(0);
    // Line 2 holds the first name; its offset is where the header's bytes and "account,GB-0,…," end.
    const firstBad = bytes.findIndex((b) => b >= 0x80);
    const lineOfBad = bytes.subarray(0, firstBad).filter((b) => b === 10).length + 1;
    expect(lineOfBad).toBe(2);
    expect(refused.stderr).toContain(`line 2: invalid UTF-8 at byte offset ${firstBad}`);
    expect(refused.stderr).toContain("--encoding gb18030");
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(await accounts()).toBe(before);

    const ok = await cli(["ingest", file, "--config", configFile, "--quiet", "--encoding", "gb18030"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`accepted ${NAMES.length}, rejected 0`);
    expect(await accounts()).toBe(before + NAMES.length);

    // Each borrower's report, pulled through the CLI with the name the lender holds, shows the furnished account.
    const consent = await client.unary("grantConsent", {
      subject: { idType: IdType.CN_RESIDENT_ID, idNumber: ID_NUMBERS[9], name: NAMES[9], phone: "" },
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 3_600_000),
      evidenceRef: "sha256:gb18030",
    });
    const report = await cli(["report", "--config", configFile, "--id-number", ID_NUMBERS[9]!, "--name", NAMES[9]!, "--consent-id", consent.consentId, "--format", "json"]);
    expect(report.code, report.stderr).toBe(0);
    const json = JSON.parse(report.stdout);
    expect(json.summary.accounts).toBe(1);
    // The name stored from the GB18030 file is read back through the report's name check:
    // the name the lender holds matches it, and the same name garbled as a UTF-8 reader would show it does not.
    expect(json.nameCheck).toBe("NAME_MATCHES");
    const garbled = new TextDecoder("utf-8").decode(iconv.encode(NAMES[9]!, "gb18030"));
    const mismatch = await cli(["report", "--config", configFile, "--id-number", ID_NUMBERS[9]!, "--name", garbled, "--consent-id", consent.consentId, "--format", "json"]);
    expect(mismatch.code, mismatch.stderr).toBe(0);
    expect(JSON.parse(mismatch.stdout).nameCheck).toBe("NAME_DIFFERS");
  });

  it("refuses a file with a BOM only where its content is wrong (the BOM itself is fine)", { timeout: 60_000 }, async () => {
    const file = path.join(dir, "bom.csv");
    writeFileSync(file, "\uFEFF" + [HEADER, `account,BOM-1,CN_RESIDENT_ID,${residentId("19900101", 55)},孙丽,,CASH_LOAN,2026-02-01,50000,1,auth-bom,,,,,,`].join("\n") + "\n");
    const ok = await cli(["ingest", file, "--config", configFile, "--quiet"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("accepted 1, rejected 0");
  });

  it("refuses each record that cannot be true with its field, and says why a rejected account's repayments were refused", { timeout: 60_000 }, async () => {
    const id = residentId("19850505", 77, "440305");
    const acct = (accountId: string, extra = "") => `account,${accountId},CN_RESIDENT_ID,${id},钱七,,INSTALLMENT_LOAN,${extra || "2026-01-05"},1200000,12,auth-x,,,,,,`;
    const rep = (accountId: string, installment: number, dueOn: string, paidOn: string, amount = "100000") =>
      `repayment,${accountId},,,,,,,,,,${installment},${dueOn},${amount},${paidOn},${paidOn ? amount : ""},0`;
    const rows = [
      HEADER,
      acct("OK-1"), // 2
      acct("FUTURE-1", "2031-01-01"), // 3
      acct("ANCIENT-1", "0001-01-01"), // 4
      rep("OK-1", 1, "2025-12-05", ""), // 5: due before opening
      rep("OK-1", 2, "2026-03-05", "2099-01-01"), // 6: paid in the future
      rep("OK-1", 50, "2030-02-05", ""), // 7: installment 50 of a 12-month loan
      rep("OK-1", 3, "2026-04-05", "1899-12-31"), // 8: paid before 1900
      rep("OK-1", 3, "2026-04-05", "2026-01-02"), // 9: paid before the loan existed
      rep("OK-1", 1, "2026-02-05", "2026-02-05", "900000000000"), // 10: above the ceiling
      rep("FUTURE-1", 1, "2031-02-01", ""), // 11: its account was rejected
      rep("OK-1", 1, "2026-02-05", "2026-02-04"), // 12: fine
    ];
    const file = path.join(dir, "impossible.csv");
    writeFileSync(file, rows.join("\n") + "\n");
    const before = await accounts();
    const res = await cli(["ingest", file, "--config", configFile, "--quiet"]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain("accepted 2, rejected 9");
    expect(res.stdout).toContain("line 3: account.opened_on: must not be after today, got 2031-01-01");
    expect(res.stdout).toContain("line 4: account.opened_on: must not be before 1900-01-01");
    expect(res.stdout).toContain("line 5: repayment.due_on: must not be before the account was opened (2026-01-05)");
    expect(res.stdout).toContain("line 6: repayment.paid_on: must not be after today");
    expect(res.stdout).toContain("line 7: repayment.installment: must be at most the account's term of 12 months, got 50");
    expect(res.stdout).toContain("line 8: repayment.paid_on: must not be before 1900-01-01");
    expect(res.stdout).toContain("line 9: repayment.paid_on: must not be before 2026-01-05, a month before installment 1 fell due");
    expect(res.stdout).toContain("line 10: repayment.amount_due:");
    expect(res.stdout).toContain("plausibility ceiling");
    expect(res.stdout).toContain("line 11: repayment.account_id: account FUTURE-1 was rejected on line 3");
    expect(await accounts()).toBe(before + 1);
  });

  it("refuses a correction that moves an account to another borrower or leaves its repayments untrue, and says what a spreadsheet did to an ID number", { timeout: 60_000 }, async () => {
    const id = residentId("19790101", 12, "110105");
    const row = (accountId: string, idNumber: string, term = 12) => `account,${accountId},CN_RESIDENT_ID,${idNumber},孙八,,INSTALLMENT_LOAN,2026-01-05,1200000,${term},auth-c,,,,,,`;
    const first = path.join(dir, "corrections-1.csv");
    writeFileSync(first, [HEADER, row("COR-1", id), "repayment,COR-1,,,,,,,,,,6,2026-06-05,100000,,,600000"].join("\n") + "\n");
    expect((await cli(["ingest", first, "--config", configFile, "--quiet"])).code).toBe(0);
    const before = await accounts();

    const firstGeneration = residentId("19790101", 14, "110105").replace(/^(\d{6})19(\d{9}).$/, "$1$2");
    const second = path.join(dir, "corrections-2.csv");
    writeFileSync(
      second,
      [
        HEADER,
        row("COR-1", residentId("19790101", 13, "110105")), // 2: another borrower
        row("COR-1", id, 5), // 3: installment 6 is on file
        row("COR-2", "1.10105E+17"), // 4: a spreadsheet's rounding
        row("COR-3", firstGeneration), // 5: a 15-digit number, taken in its 18-digit form
        row("COR-1", id, 24), // 6: a longer term is a correction
      ].join("\n") + "\n",
    );
    const res = await cli(["ingest", second, "--config", configFile, "--quiet"]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain("accepted 2, rejected 3");
    expect(res.stdout).toContain("line 2: account.subject.id_number: this account_id is on file for another borrower");
    expect(res.stdout).toContain("line 3: account.term_months: installment 6 is on file, beyond a term of 5 months");
    expect(res.stdout).toContain("line 4: account.subject.id_number: is in scientific notation");
    expect(await accounts()).toBe(before + 1);
  });

  it("says when repayments came before their account's line, and that the same file ingested again takes them", { timeout: 60_000 }, async () => {
    const id = residentId("19810303", 21, "110105");
    const file = path.join(dir, "repayments-first.csv");
    writeFileSync(
      file,
      [
        HEADER,
        "repayment,ORD-1,,,,,,,,,,1,2026-02-05,100000,2026-02-05,100000,200000",
        "repayment,ORD-1,,,,,,,,,,2,2026-03-05,100000,2026-03-05,100000,100000",
        `account,ORD-1,CN_RESIDENT_ID,${id},吴九,,INSTALLMENT_LOAN,2026-01-05,300000,3,auth-o,,,,,,`,
      ].join("\n") + "\n",
    );
    const first = await cli(["ingest", file, "--config", configFile, "--quiet"]);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain("accepted 1, rejected 2");
    expect(first.stdout).toContain("2 repayments come before their account's line, which the node took later: ingest the file again (without --resume) and they go in");
    const again = await cli(["ingest", file, "--config", configFile, "--quiet"]);
    expect([again.code, again.stdout.split("\n")[0]]).toEqual([0, expect.stringMatching(/^accepted 3, rejected 0/)]);
    expect(again.stdout).not.toContain("come before");
  });

  it.each([
    ["a typo column", `${HEADER.replace("amount_paid", "amount_payed")}\naccount,X,,,,,,,,,,,,,,,\n`, 'line 1: header: unknown column "amount_payed"'],
    ["a duplicate column", "record_type,account_id,due_on,due_on\nrepayment,X,2026-01-01,2026-01-01\n", 'line 1: header: column "due_on" appears twice'],
    ["a missing column", "record_type,account_id,installment\nrepayment,X,1\n", 'line 1: header: missing column "due_on", which repayment rows need'],
    ["an empty file", "", "line 1: header: empty file"],
    ["a header-only file", `${HEADER}\n`, "line 1: header: the file holds only a header, no records"],
    ["a binary file", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), "line 1: header: not UTF-8 text"],
  ])("refuses %s at its header, locally, in one line", { timeout: 60_000 }, async (_what, content, message) => {
    const file = path.join(dir, `header-${_what.replaceAll(" ", "-")}.csv`);
    writeFileSync(file, content);
    const before = await accounts();
    const res = await cli(["ingest", file, "--config", configFile, "--quiet"]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(message);
    expect(res.stderr).not.toContain("grpc");
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(await accounts()).toBe(before);
  });

  it("says there is no node, and what to do, when none listens", { timeout: 60_000 }, async () => {
    const file = path.join(dir, "nobody.csv");
    writeFileSync(file, namesCsv());
    const res = await cli(["ingest", file, "--addr", "127.0.0.1:1", "--api-key", "cmk_x", "--quiet"]);
    expect(res.code).not.toBe(0);
    expect(res.stderr.trim()).toBe("creditmesh: no node at 127.0.0.1:1: is it running? (creditmesh start, or --addr)");
    const verbose = await cli(["ingest", file, "--addr", "127.0.0.1:1", "--api-key", "cmk_x", "--quiet", "--verbose"]);
    expect(verbose.stderr).toContain("[grpc UNAVAILABLE (14)]");
  });

  // Last: the node is stopped to read its database directly.
  it("stored the GB18030 names as the furnisher wrote them", { timeout: 60_000 }, async () => {
    client.close();
    await node!.stop();
    node = undefined;
    const config = parseConfig(JSON.parse(readFileSync(configFile, "utf8")));
    const secrets = readSecrets(path.join(dir, "data", "secrets.json"));
    const stores = await openStores(databasePath(config), { dataKeys: secrets.dataKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, "hex") })) });
    try {
      const refKey = Buffer.from(secrets.accountRefKey, "hex");
      const refs = NAMES.map((_, i) => accountRefFor(refKey, `GB-${i}`));
      const stored = await stores.records.getAccounts(refs);
      expect(stored.map((a, i) => stores.cipher.openPii(a!.pii, refs[i]).name)).toEqual(NAMES);
    } finally {
      await stores.close();
    }
  });
});

describe("creditmesh ingest when its node is killed", () => {
  const tmp = tempDir("cm-ingest-kill-");
  let node: NodeProcess | undefined;
  afterAll(async () => {
    await node?.kill();
    tmp.remove();
  });

  const REPAYMENTS = 9;
  const BATCHES = 12_000;
  function accountWithRepayments(i: number): WireRecord[] {
    const accountId = `KILL-${i}`;
    const out: WireRecord[] = [account({ accountId, idNumber: residentId("19800101", i % 1000, ["110105", "310104", "440305", "320102", "330106", "420102", "510104", "610102", "210102", "370102", "350102", "500101"][Math.floor(i / 1000)]), termMonths: 12, creditLimit: "1200000" })];
    for (let k = 1; k <= REPAYMENTS; k++) out.push(repayment({ accountId, installment: k, dueOn: `2026-${String(k + 1).padStart(2, "0")}-05`, paidOn: `2026-${String(k + 1).padStart(2, "0")}-04` }));
    return out;
  }

  it("exits non-zero within 10 s with the last acknowledged line and the exact resume command; the resume stores every record once", { timeout: 300_000 }, async () => {
    const dir = path.join(tmp.dir, "k");
    const configFile = nodeConfig(dir, "kill-bank");
    const file = path.join(dir, "records.jsonl");
    const lines: string[] = [];
    for (let i = 0; i < BATCHES; i++) for (const r of accountWithRepayments(i)) lines.push(formatJsonlRecord(r));
    writeFileSync(file, lines.join("\n") + "\n");
    node = await startNodeProcess(configFile);

    // The default batch size: the CLI keeps its window of unacknowledged batches full, which is where it used to hang.
    const first = runCli(["ingest", file, "--config", configFile, "--quiet"]);
    let stderr = "";
    first.stdout!.resume();
    first.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => first.on("exit", (c) => r(c)));
    const cp = checkpointPath(file);
    for (let t = 0; t < 30_000; t++) {
      if (existsSync(cp) && JSON.parse(readFileSync(cp, "utf8")).ackedThroughLine > 5_000) break;
      if (first.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(first.exitCode, stderr).toBeNull();
    await node.kill("SIGKILL");
    node = undefined;
    const code = await Promise.race([exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 10_000))]);
    if (code === "hung") first.kill("SIGKILL");
    expect(code, "the CLI did not exit within 10 s of losing its node").not.toBe("hung");
    expect(code).not.toBe(0);

    const ackedThrough = JSON.parse(readFileSync(cp, "utf8")).ackedThroughLine as number;
    expect(ackedThrough).toBeLessThan(lines.length);
    expect(stderr).toContain(`every record through line ${ackedThrough} is acknowledged`);
    const command = /run: (creditmesh .*)$/m.exec(stderr)?.[1];
    expect(command).toBe(`creditmesh ingest ${file} --config ${configFile} --quiet --resume`);
    expect(stderr.trim().split("\n")).toHaveLength(1);

    node = await startNodeProcess(configFile);
    const second = await cli(command!.split(" ").slice(1));
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain(`resumed after line ${ackedThrough}`);
    expect(Number(/accepted (\d+)/.exec(second.stdout)![1])).toBe(lines.length - ackedThrough);
    expect(existsSync(cp)).toBe(false);
    await node.stop();
    node = undefined;

    // Every account and every repayment is stored, once.
    const config = parseConfig(JSON.parse(readFileSync(configFile, "utf8")));
    const secrets = readSecrets(path.join(dir, "data", "secrets.json"));
    const stores = await openStores(databasePath(config), { dataKeys: secrets.dataKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, "hex") })) });
    try {
      expect((await stores.records.counts()).accounts).toBe(BATCHES);
      const refKey = Buffer.from(secrets.accountRefKey, "hex");
      for (const i of [0, Math.floor(BATCHES / 2), BATCHES - 1]) {
        const reps = await stores.records.repaymentsForAccount(accountRefFor(refKey, `KILL-${i}`));
        expect(reps.map((r) => r.installment)).toEqual(Array.from({ length: REPAYMENTS }, (_, k) => k + 1));
      }
    } finally {
      await stores.close();
    }
  });
});
