import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import path from "node:path";
import { NodeDatabase } from "../../src/store/database.js";
import { LevelLogStore } from "../../src/store/level-log-store.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { parseCheckpoint, parseNote, TiledLog } from "../../src/tlog/index.js";
import { eventually } from "../helpers/eventually.js";
import { cli } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";

const DAY_MS = 86_400_000;
const ERASED = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19870212", 17, "330102"), name: "孙抹去", phone: "" };
const KEPT = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19760830", 29, "330102"), name: "李留存", phone: "" };

const sizeOf = (note: string): number => parseCheckpoint(parseNote(note).text).size;

/**
 * A holder erases a subject after a backup, its witnesses cosign the larger
 * log, and it is restored from the backup: the erased subject stays erased,
 * and the witnesses go on cosigning the holder's log without any evidence of
 * a rollback, because restore kept the log they saw.
 */
describe("restore after an erasure: the data stays erased and the witnessed log does not go back", () => {
  const net = new TestNetwork({ nodes: 3, metrics: true, configOverrides: { tlog: { checkpointIntervalMs: 300, witnessQuorum: 2, recordVersions: true } } });
  let lender: string;
  let holder: string;
  let witnesses: string[];

  beforeAll(async () => {
    await net.start();
    [lender, holder] = net.nodes.map((n) => n.institutionId) as [string, string];
    witnesses = net.nodes.map((n) => n.institutionId).filter((id) => id !== holder);
  }, 180_000);
  afterAll(async () => {
    await net.stop();
  });

  const cosigned = async (id: string, atLeast: number): Promise<string> =>
    eventually(`${id}'s log cosigned at size ≥ ${atLeast}`, async () => {
      const res = (await net.client(id).unary("getLogCheckpoint", { institutionId: "" }, 5_000)) as { checkpoint: string; cosigned: string };
      return res.cosigned && sizeOf(res.cosigned) >= atLeast ? res.cosigned : undefined;
    }, 90_000);
  const logSizeIn = async (dbPath: string): Promise<number> => {
    const db = await NodeDatabase.open(dbPath);
    try {
      return (await TiledLog.init(new LevelLogStore(db))).size;
    } finally {
      await db.close();
    }
  };
  const report = async (subject: typeof ERASED): Promise<CreditReport> => {
    const consent = await net.client(lender).unary("grantConsent", {
      subject,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + DAY_MS),
      evidenceRef: `sha256:restore-witnessed-${Date.now()}`,
    });
    return net.client(lender).unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: "", deadlineMs: 10_000 });
  };

  it("erase after a backup, restore with the database in place: erased stays erased, witnesses record no rollback", { timeout: 400_000 }, async () => {
    const config = net.node(holder).configFile;
    await net.client(holder).submitRecords([
      account({ accountId: "RW-ERASE", idNumber: ERASED.idNumber, name: ERASED.name }),
      repayment({ accountId: "RW-ERASE" }),
      account({ accountId: "RW-KEEP", idNumber: KEPT.idNumber, name: KEPT.name }),
    ]);
    expect((await report(ERASED)).tradelines.map((t) => t.institutionId)).toEqual([holder]);

    const backup = await cli(["backup", "--out", "before-erasure", "--config", config]);
    expect(backup.code, backup.stderr).toBe(0);
    const backupDir = /backup written to (.*): \d+ keys/.exec(backup.stdout)![1]!;

    const purge = await cli(["subject", "purge", "--id-number", ERASED.idNumber, "--name", ERASED.name, "--request-ref", "ERASURE-RW-1", "--config", config]);
    expect(purge.code, purge.stderr).toBe(0);
    // The witnesses cosign a log larger than the backup's (the erasure's tombstones at least): putting the backup's back would be a rollback.
    const backupSize = await logSizeIn(path.join(backupDir, "db"));
    const witnessedSize = sizeOf(await cosigned(holder, backupSize + 1));

    // What the witnesses cosigned, kept aside as an auditor would: restore checks the restored log against it.
    const witnessedFile = path.join(path.dirname(backupDir), "cosigned.json");
    const fetched = await cli(["log", "witnessed", "--out", witnessedFile, "--config", config, "--wait-ms", "0"]);
    expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);

    await net.stopNode(holder);
    const restored = await cli(["restore", "--from", backupDir, "--config", config, "--force", "--witnessed", witnessedFile]);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(restored.stdout).toContain("erased again: 1 subject(s) erased after the backup was taken");
    expect(restored.stdout).toMatch(/transparency log kept: \d+ entries/);
    expect(restored.stderr).not.toContain("warning");
    await net.startNode(holder);
    await net.waitConnected();

    // The erased subject does not come back; the other one is there.
    expect((await report(ERASED)).tradelines).toEqual([]);
    expect((await report(KEPT)).tradelines.map((t) => t.institutionId)).toEqual([holder]);

    // The witnesses cosign the restored node's log beyond what they saw before, and hold nothing against it.
    const after = await cosigned(holder, witnessedSize + 1);
    expect(sizeOf(after)).toBeGreaterThan(witnessedSize);
    for (const w of witnesses) {
      const s = (await net.client(w).unary("getNodeStatus", {}, 5_000)) as { logEvidence: unknown[] };
      expect(s.logEvidence).toEqual([]);
      expect(await net.metric(w, "creditmesh_log_equivocations")).toBe(0);
    }
    const audit = await cli(["audit", "verify", "--config", config]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
  });
});
