import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Level } from "level";
import { afterAll, describe, expect, it } from "vitest";
import { auditEntryHash, auditKey } from "../../src/audit/level-audit-log.js";
import { databasePath, parseConfig } from "../../src/config/load.js";
import { readSecrets } from "../../src/config/secrets.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { AuditEntry, type SubmitRecordsResponse } from "../../src/gen/creditmesh/v1/node.js";
import type { Record as WireRecord } from "../../src/gen/creditmesh/v1/records.js";
import { databaseContent, type BackupManifest } from "../../src/node/backup.js";
import { accountRefFor } from "../../src/records/ingest.js";
import { NodeDatabase } from "../../src/store/database.js";
import { openStores } from "../../src/store/index.js";
import { TestClient } from "../helpers/grpc-client.js";
import { cli, startNodeProcess, writeConfig, type NodeProcess } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

const INSTITUTION = { id: "backup-bank", name: "Backup Bank" };
const LOAD_NAME = "欧阳备份";
const LOAD_PHONE = "13912345678";
const REPAYMENTS_PER_BATCH = 19;
const MAX_BATCHES = 3000;
const REGIONS = ["110105", "310104", "440305"];

const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19760505", 7, "440305"), name: "司马测试", phone: "" };
const DAY = 24 * 3600 * 1000;

const loadId = (i: number) => residentId("19880202", i % 1000, REGIONS[Math.floor(i / 1000)]);

/** Batch i of the ingest load: one account of its own subject and its repayments, so that a partial batch shows. */
function batch(i: number): WireRecord[] {
  const accountId = `BK-${i}`;
  const records: WireRecord[] = [
    account({ accountId, idNumber: loadId(i), name: LOAD_NAME, termMonths: 24, creditLimit: "2400000" }),
  ];
  const first = records[0]!.kind;
  if (first?.$case === "account") first.value.subject!.phone = LOAD_PHONE;
  for (let k = 1; k <= REPAYMENTS_PER_BATCH; k++) {
    records.push(repayment({ accountId, installment: k, dueOn: "2026-02-05", balanceAfter: String(2400000 - k * 100000) }));
  }
  return records;
}

function nodeConfig(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return writeConfig(path.join(dir, "node.json"), {
    institution: INSTITUTION,
    // Backups go beside the node directories in this test.
    storage: { dataDir: path.join(dir, "data"), backupRoot: path.dirname(dir) },
    grpc: { host: "127.0.0.1", port: 0 },
    metrics: { enabled: false },
    log: { level: "warn" },
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Every 18-character window of every run of ID-number characters in `text`. */
function idWindows(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/[0-9X]{18,}/g)) {
    for (let i = 0; i + 18 <= m[0].length; i++) out.add(m[0].slice(i, i + 18));
  }
  return out;
}

/** The raw ID numbers, names and phones of `bytes` that are among `ids` / `words`. */
function personalDataIn(bytes: Buffer, ids: ReadonlySet<string>, words: readonly string[]): string[] {
  const found = [...idWindows(bytes.toString("latin1"))].filter((w) => ids.has(w));
  for (const w of words) if (bytes.includes(Buffer.from(w, "utf8"))) found.push(w);
  return found;
}

/** Opens a stopped node's stores and reports which load batches are there, whole or partial. */
async function inspect(dataDir: string, configFile: string, sent: number) {
  const config = parseConfig(JSON.parse(readFileSync(configFile, "utf8")));
  const secrets = readSecrets(path.join(dataDir, "secrets.json"));
  const stores = await openStores(databasePath(config), {
    dataKeys: secrets.dataKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, "hex") })),
  });
  const refKey = Buffer.from(secrets.accountRefKey, "hex");
  const present = new Set<number>();
  const partial: number[] = [];
  try {
    for (let i = 0; i < sent; i++) {
      const ref = accountRefFor(refKey, `BK-${i}`);
      const [acct] = await stores.records.getAccounts([ref]);
      const reps = await stores.records.repaymentsForAccount(ref);
      if (acct) present.add(i);
      if ((acct ? 1 : 0) + reps.length !== 0 && (!acct || reps.length !== REPAYMENTS_PER_BATCH)) partial.push(i);
    }
    return { present, partial, counts: await stores.records.counts() };
  } finally {
    await stores.close();
  }
}

describe("backup and restore (child process)", () => {
  const tmp = tempDir("cm-backup-");
  const dir = path.join(tmp.dir, "node");
  const dataDir = path.join(dir, "data");
  const backupDir = path.join(tmp.dir, "backup-1");
  let configFile = "";
  let node: NodeProcess | undefined;
  let manifest: BackupManifest | undefined;

  afterAll(async () => {
    await node?.kill();
    tmp.remove();
  });

  it(
    "a node backed up under ingest load, destroyed and restored, has every acknowledged record, consent and inquiry and an intact audit chain",
    { timeout: 300_000 },
    async () => {
      configFile = nodeConfig(dir);
      node = await startNodeProcess(configFile);
      const secrets = readSecrets(path.join(dataDir, "secrets.json"));
      const client = new TestClient(node.address, secrets.localApiKey);

      // A subject with a tradeline, two consents and one inquiry, all before the backup.
      const [ack] = await client.submit([{ records: [account({ accountId: "SUBJ-1", idNumber: SUBJECT.idNumber, name: SUBJECT.name }), repayment({ accountId: "SUBJ-1" })] }]);
      expect(ack!.rejected).toEqual([]);
      const grant = (purpose: Purpose) =>
        client.unary("grantConsent", {
          subject: SUBJECT,
          purpose,
          validFrom: new Date(Date.now() - 60_000),
          validUntil: new Date(Date.now() + 30 * DAY),
          evidenceRef: `sha256:${createHash("sha256").update(`backup-test-${purpose}`).digest("hex")}`,
        });
      const lenderConsent = await grant(Purpose.LOAN_ORIGINATION);
      const subjectConsent = await grant(Purpose.SUBJECT_REQUEST);
      const askedFrom = Date.now();
      const firstReport = await client.unary("getCreditReport", { subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION, consentId: lenderConsent.consentId, asOf: "", deadlineMs: 0 });
      const answeredBy = Date.now();
      expect(firstReport.tradelines).toHaveLength(1);

      // Continuous ingest load on one stream.
      const acked = new Set<number>();
      let sent = 0;
      let stopWriting = false;
      const stream = client.raw.submitRecords(client.metadata);
      const ended = new Promise<void>((resolve, reject) => {
        stream.on("data", (r: SubmitRecordsResponse) => {
          if (r.rejected.length > 0) reject(new Error(`batch ${r.batch} rejected ${JSON.stringify(r.rejected[0])}`));
          acked.add(Number(r.batch));
        });
        stream.on("error", reject);
        stream.on("end", () => resolve());
      });
      const writer = (async () => {
        for (let i = 0; i < MAX_BATCHES && !stopWriting; i++) {
          sent = i + 1;
          if (!stream.write({ records: batch(i) })) await new Promise((r) => stream.once("drain", r));
        }
        stream.end();
      })();
      while (acked.size < 150) await new Promise((r) => setTimeout(r, 10));

      // Everything acknowledged before the Backup call is issued must be in the backup.
      const ackedBefore = new Set(acked);
      const backup = await cli(["backup", "--out", backupDir, "--config", configFile]);
      const ackedWhenBackupReturned = acked.size;
      expect(backup.code, backup.stdout + backup.stderr).toBe(0);
      expect(backup.stdout).toMatch(/backup written to .*: \d+ keys, \d+ audit entries, audit head [0-9a-f]{64}/);
      // The node kept ingesting while the backup was taken.
      expect(ackedWhenBackupReturned).toBeGreaterThan(ackedBefore.size);
      stopWriting = true;
      await writer;
      await ended;
      client.close();
      manifest = JSON.parse(readFileSync(path.join(backupDir, "backup.json"), "utf8")) as BackupManifest;
      expect(manifest).toMatchObject({ format: "creditmesh-backup", institutionId: INSTITUTION.id, dataKeys: [{ id: "k1" }] });

      // Destroy the node: SIGKILL and delete its database.
      await node.kill("SIGKILL");
      node = undefined;
      rmSync(path.join(dataDir, "db"), { recursive: true, force: true });

      const restored = await cli(["restore", "--from", backupDir, "--config", configFile]);
      expect(restored.code, restored.stdout + restored.stderr).toBe(0);
      expect(restored.stdout).toContain(`audit chain verified: ${manifest.auditEntries} entries`);

      node = await startNodeProcess(configFile);
      const again = new TestClient(node.address, secrets.localApiKey);
      const verify = await cli(["audit", "verify", "--config", configFile]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(verify.stdout).toContain(`audit OK: ${manifest.auditEntries + 1} entries`);

      // The consents and the inquiry: the borrower sees the restored inquiry by name. (Asked first: answers
      // show one inquiry per requester, purpose and day, the latest, so a later lender pull would stand in for it.)
      const ownReport = await again.unary("getCreditReport", { subject: SUBJECT, purpose: Purpose.SUBJECT_REQUEST, consentId: subjectConsent.consentId, asOf: "", deadlineMs: 0 });
      expect(ownReport.inquiries).toContainEqual(
        expect.objectContaining({
          inquiryId: firstReport.reportId,
          requesterInstitutionId: INSTITUTION.id,
          requesterName: INSTITUTION.name,
          purpose: Purpose.LOAN_ORIGINATION,
        }),
      );
      const lenderReport = await again.unary("getCreditReport", { subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION, consentId: lenderConsent.consentId, asOf: "", deadlineMs: 0 });
      expect(lenderReport.tradelines).toHaveLength(1);
      expect(lenderReport.inquiries.map((q: { inquiryId: string }) => q.inquiryId)).toContain(lenderReport.reportId);
      const inquiry = ownReport.inquiries.find((q: { inquiryId: string }) => q.inquiryId === firstReport.reportId);
      // The restored inquiry keeps its original time: within the call that made it, however long that took.
      expect(inquiry.inquiredAt.getTime()).toBeGreaterThanOrEqual(askedFrom);
      expect(inquiry.inquiredAt.getTime()).toBeLessThanOrEqual(answeredBy);
      const status = await again.unary("getNodeStatus", {});
      expect(Number(status.accounts)).toBeGreaterThanOrEqual(ackedBefore.size + 1);

      // The restored trail: the backup's entries, then NODE_RESTORED chained to the backup's head.
      const exportFile = path.join(tmp.dir, "audit.jsonl");
      const exported = await cli(["audit", "export", "--config", configFile, "--out", exportFile]);
      expect(exported.code, exported.stderr).toBe(0);
      const lines = readFileSync(exportFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => l.action).slice(0, 4)).toEqual(["API_KEY_CREATED", "CONSENT_GRANTED", "CONSENT_GRANTED", "QUERY_SENT"]);
      const restoredEntry = lines[manifest.auditEntries];
      expect(restoredEntry).toMatchObject({ action: "NODE_RESTORED", prev_hash: manifest.auditHead, details: { backupAuditHead: manifest.auditHead } });
      again.close();
      await node.stop();
      node = undefined;

      // Record by record: every batch acknowledged before the backup is there, and no batch is partial.
      const { present, partial, counts } = await inspect(dataDir, configFile, sent);
      for (const i of ackedBefore) expect(present.has(i), `batch ${i}, acknowledged before the backup, is missing`).toBe(true);
      expect(partial).toEqual([]);
      expect(counts.accounts).toBe(present.size + 1);

      // No raw ID number, name or phone in the backup, neither in the files' bytes nor in any stored key or value.
      const ids = new Set<string>([SUBJECT.idNumber]);
      for (let i = 0; i < sent; i++) ids.add(loadId(i));
      const words = [LOAD_NAME, SUBJECT.name, LOAD_PHONE];
      const files = filesUnder(backupDir);
      expect(files.some((f) => path.basename(f) === "secrets.json")).toBe(false);
      const secretValues = [secrets.localApiKey, secrets.localTokenKey!, secrets.nodeKey, secrets.accountRefKey, ...secrets.dataKeys.map((k) => k.key)];
      let manifestSeen = false;
      for (const file of files) {
        const bytes = readFileSync(file);
        expect(personalDataIn(bytes, ids, words), file).toEqual([]);
        for (const s of secretValues) expect(bytes.includes(Buffer.from(s)), `a secret is in ${file}`).toBe(false);
        if (bytes.includes(Buffer.from(INSTITUTION.id))) manifestSeen = true;
      }
      expect(manifestSeen).toBe(true);
      const raw = new Level<Uint8Array, Uint8Array>(path.join(backupDir, "db"), { keyEncoding: "view", valueEncoding: "view" });
      const chunks: Buffer[] = [];
      for await (const [k, v] of raw.iterator()) chunks.push(Buffer.from(k), Buffer.from([0]), Buffer.from(v), Buffer.from([0]));
      await raw.close();
      const decoded = Buffer.concat(chunks);
      expect(personalDataIn(decoded, ids, words)).toEqual([]);
      // The scan does read the stored values: the subject's token is there.
      expect(decoded.includes(Buffer.from(firstReport.subjectToken))).toBe(true);
    },
  );

  it("restore verifies the backup before putting it in place, and refuses a tampered one", { timeout: 180_000 }, async () => {
    expect(manifest).toBeDefined();
    const target = path.join(tmp.dir, "replacement");
    const targetConfig = nodeConfig(target);
    mkdirSync(path.join(target, "data"), { recursive: true });
    // The operator keeps the secrets file separately and puts it back first.
    cpSync(path.join(dataDir, "secrets.json"), path.join(target, "data", "secrets.json"));
    const targetDb = path.join(target, "data", "db");

    // An audit entry edited in the backup, and the manifest rewritten to match the edited content.
    const forged = path.join(tmp.dir, "backup-forged");
    cpSync(backupDir, forged, { recursive: true });
    const db = await NodeDatabase.open(path.join(forged, "db"));
    const entry = AuditEntry.decode((await db.levels.audit.get(auditKey(3)))!);
    await db.levels.audit.put(auditKey(3), AuditEntry.encode({ ...entry, actor: "someone-else" }).finish());
    await db.close();
    const content = await databaseContent(path.join(forged, "db"));
    writeFileSync(path.join(forged, "backup.json"), JSON.stringify({ ...manifest, ...content }));
    // Edited content that the manifest does not match.
    const edited = path.join(tmp.dir, "backup-edited");
    cpSync(backupDir, edited, { recursive: true });
    const db2 = await NodeDatabase.open(path.join(edited, "db"));
    await db2.levels.audit.del(auditKey(1));
    await db2.close();

    const [refused, mismatch] = await Promise.all([
      cli(["restore", "--from", forged, "--config", targetConfig, "--verbose"]),
      cli(["restore", "--from", edited, "--config", targetConfig, "--verbose"]),
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("AUDIT_CHAIN_BROKEN");
    expect(refused.stderr).toContain("broken at entry 3");
    expect(existsSync(targetDb)).toBe(false);
    expect(mismatch.code).not.toBe(0);
    expect(mismatch.stderr).toContain("STORE_CORRUPT");
    expect(existsSync(targetDb)).toBe(false);
    expect(readdirSync(path.join(target, "data"))).toEqual(["secrets.json"]);

    // The untouched backup restores, and then a second restore needs --force.
    const ok = await cli(["restore", "--from", backupDir, "--config", targetConfig]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(existsSync(targetDb)).toBe(true);
    const again = await cli(["restore", "--from", backupDir, "--config", targetConfig, "--verbose"]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("CONFLICT");
    const forced = await cli(["restore", "--from", backupDir, "--config", targetConfig, "--force"]);
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
  });

  it("`audit verify --offline` names the first edited, removed or swapped entry of a stopped node", { timeout: 180_000 }, async () => {
    // Copies of the restored node's data, each tampered with in one way.
    const variant = async (name: string, tamper: (db: NodeDatabase) => Promise<void>) => {
      const root = path.join(tmp.dir, `tamper-${name}`);
      const config = nodeConfig(root);
      cpSync(dataDir, path.join(root, "data"), { recursive: true });
      const db = await NodeDatabase.open(path.join(root, "data", "db"));
      await tamper(db);
      await db.close();
      return config;
    };
    const flip = await variant("flip", async (db) => {
      const bytes = Uint8Array.from((await db.levels.audit.get(auditKey(2)))!);
      bytes[Math.floor(bytes.length / 2)] ^= 0x01;
      await db.levels.audit.put(auditKey(2), bytes);
    });
    const removed = await variant("delete", (db) => db.levels.audit.del(auditKey(1)));
    const swapped = await variant("swap", async (db) => {
      const a = (await db.levels.audit.get(auditKey(1)))!;
      const b = (await db.levels.audit.get(auditKey(3)))!;
      await db.levels.audit.batch([
        { type: "put", key: auditKey(1), value: b },
        { type: "put", key: auditKey(3), value: a },
      ]);
    });
    const intact = await variant("none", async () => undefined);

    const [r0, r1, r2, r3] = await Promise.all(
      [intact, flip, removed, swapped].map((config) => cli(["audit", "verify", "--offline", "--config", config])),
    );
    expect(r0!.code, r0!.stdout + r0!.stderr).toBe(0);
    expect(r0!.stdout).toMatch(/^audit OK: \d+ entries/);
    expect(r1!.code).toBe(1);
    expect(r1!.stdout).toMatch(/^audit BROKEN at position 2: /);
    expect(r2!.code).toBe(1);
    expect(r2!.stdout).toMatch(/^audit BROKEN at position 1: entry 1 is missing/);
    expect(r3!.code).toBe(1);
    expect(r3!.stdout).toMatch(/^audit BROKEN at position 1: .*reordered/);

    // The JSONL export carries everything needed to recheck each hash and link independently.
    const out = path.join(tmp.dir, "offline-audit.jsonl");
    const exported = await cli(["audit", "export", "--offline", "--config", intact, "--out", out]);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(Number(/audit OK: (\d+)/.exec(r0!.stdout)![1]));
    lines.forEach((l, i) => {
      expect(l.position).toBe(i);
      expect(l.prev_hash).toBe(i === 0 ? "0".repeat(64) : lines[i - 1].hash);
      const recomputed = auditEntryHash({ position: String(l.position), at: new Date(l.at), action: l.action, actor: l.actor, details: l.details, prevHash: l.prev_hash });
      expect(recomputed).toBe(l.hash);
    });
  });
});
