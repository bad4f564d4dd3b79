import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSecrets } from "../../src/config/secrets.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { TestClient } from "../helpers/grpc-client.js";
import { cli, startNodeProcess, writeConfig, type NodeProcess } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

/**
 * Erasure must survive a restore: a backup taken before a subject was erased
 * still holds the subject, and restoring it must not bring the subject back.
 */

const ERASED = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19811111", 21, "310104"), name: "欧阳抹除", phone: "" };
const KEPT = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19790606", 34, "110105"), name: "司马保留", phone: "" };
const DAY = 24 * 3600 * 1000;

describe("an erasure survives restoring an older backup", () => {
  const tmp = tempDir("cm-erasure-");
  const dataDir = path.join(tmp.dir, "data");
  let node: NodeProcess | undefined;

  afterAll(async () => {
    await node?.kill();
    tmp.remove();
  });

  it("restore erases again the subject erased after the backup, keeps everyone else, and audits both", { timeout: 180_000 }, async () => {
    mkdirSync(tmp.dir, { recursive: true });
    const configFile = writeConfig(path.join(tmp.dir, "node.json"), {
      institution: { id: "erasure-bank", name: "Erasure Bank" },
      // Backups go beside the data directory in this test.
      storage: { dataDir, backupRoot: tmp.dir },
      grpc: { host: "127.0.0.1", port: 0 },
      metrics: { enabled: false },
      log: { level: "warn" },
    });
    node = await startNodeProcess(configFile);
    const key = readSecrets(path.join(dataDir, "secrets.json")).localApiKey;
    let client = new TestClient(node.address, key);
    const [ack] = await client.submit([
      {
        records: [
          account({ accountId: "ERASE-1", idNumber: ERASED.idNumber, name: ERASED.name }),
          repayment({ accountId: "ERASE-1" }),
          account({ accountId: "KEEP-1", idNumber: KEPT.idNumber, name: KEPT.name }),
        ],
      },
    ]);
    expect(ack!.rejected).toEqual([]);
    const reportOf = async (subject: typeof ERASED) => {
      const consent = await client.unary("grantConsent", {
        subject,
        purpose: Purpose.LOAN_ORIGINATION,
        validFrom: new Date(Date.now() - 60_000),
        validUntil: new Date(Date.now() + DAY),
        evidenceRef: `sha256:erasure-${Date.now()}`,
      });
      return client.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: "", deadlineMs: 0 });
    };
    expect((await reportOf(ERASED)).tradelines).toHaveLength(1);

    const backupDir = path.join(tmp.dir, "backup");
    const backup = await cli(["backup", "--out", backupDir, "--config", configFile]);
    expect(backup.code, backup.stderr).toBe(0);

    const purge = await cli(["subject", "purge", "--id-number", ERASED.idNumber, "--name", ERASED.name, "--request-ref", "ERASURE-2026-0099", "--config", configFile]);
    expect(purge.code, purge.stderr).toBe(0);
    expect(JSON.parse(purge.stdout)).toMatchObject({ accounts: 1, repayments: 1 });
    const ledger = readFileSync(path.join(dataDir, "erasures.jsonl"), "utf8");
    expect(ledger).toContain("ERASURE-2026-0099");
    for (const raw of [ERASED.idNumber, ERASED.name, "ERASE-1"]) expect(ledger).not.toContain(raw);

    client.close();
    await node.stop();
    node = undefined;
    const restored = await cli(["restore", "--from", backupDir, "--config", configFile, "--force"]);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(restored.stdout).toContain("erased again: 1 subject(s) erased after the backup was taken");

    node = await startNodeProcess(configFile);
    client = new TestClient(node.address, key);
    expect((await reportOf(ERASED)).tradelines).toEqual([]);
    expect((await reportOf(KEPT)).tradelines).toHaveLength(1);

    const verify = await cli(["audit", "verify", "--config", configFile]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const exported = await cli(["audit", "export", "--config", configFile]);
    const actions = exported.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { action: string; details: Record<string, string> }));
    const restoredAt = actions.findIndex((e) => e.action === "NODE_RESTORED");
    const reErased = actions.findIndex((e, i) => i > restoredAt && e.action === "SUBJECT_PURGED");
    expect(restoredAt).toBeGreaterThan(0);
    expect(reErased).toBeGreaterThan(restoredAt);
    expect(actions[reErased]!.details.request_ref).toBe("ERASURE-2026-0099");
    client.close();
  });
});
