import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LevelAuditLog, verifyAudit } from "../../../src/audit/level-audit-log.js";
import { parseConfig } from "../../../src/config/load.js";
import type { NodeConfig } from "../../../src/config/schema.js";
import { readSecrets } from "../../../src/config/secrets.js";
import { DisputeOutcome, IdType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Dispute } from "../../../src/gen/creditmesh/v1/dispute.js";
import { NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { restoreBackup } from "../../../src/node/backup.js";
import { CreditNode } from "../../../src/node/credit-node.js";
import { RESTORED_FROM_BACKUP } from "../../../src/node/restore-log.js";
import { accountRefFor } from "../../../src/records/ingest.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { openStores } from "../../../src/store/index.js";
import { LevelLogStore } from "../../../src/store/level-log-store.js";
import { decodeLeaf, LeafKind, TiledLog } from "../../../src/tlog/index.js";
import { TestClient } from "../../helpers/grpc-client.js";
import { account, residentId } from "../../helpers/records.js";
import { tempDir } from "../../helpers/temp.js";

const INSTITUTION = "bank-r";
const ERASED = residentId("19850301", 11);
const KEPT = residentId("19900704", 23);

let tmp: ReturnType<typeof tempDir> | undefined;
afterEach(() => tmp?.remove());

function configIn(dir: string): NodeConfig {
  return parseConfig({
    institution: { id: INSTITUTION, name: "Restore Bank" },
    storage: { dataDir: path.join(dir, "data"), backupRoot: path.join(dir, "backups") },
    grpc: { host: "127.0.0.1", port: 0 },
    metrics: { enabled: false },
    log: { level: "warn" },
    tlog: { checkpointIntervalMs: 3_600_000 },
  });
}

async function running(config: NodeConfig): Promise<{ node: CreditNode; client: TestClient; stop(): Promise<void> }> {
  const node = CreditNode.create({ config, logger: silentLogger() });
  await node.start();
  const client = new TestClient(node.grpcAddress, node.localApiKey);
  return { node, client, stop: async () => (client.close(), await node.stop()) };
}

/** Every leaf of the log in a (closed) database, decoded. */
async function readLog(dbPath: string) {
  const db = await NodeDatabase.open(dbPath);
  try {
    const log = await TiledLog.init(new LevelLogStore(db));
    const leaves = [];
    for (let i = 0; i < log.size; i++) leaves.push(decodeLeaf(await log.entry(i)));
    return { size: log.size, leaves, checkpoint: await new LevelLogStore(db).checkpoint() };
  } finally {
    await db.close();
  }
}

/**
 * A node backed up with five accounts; after the backup one subject is
 * erased, one account deleted by a dispute, one updated and one furnished.
 */
async function scenario() {
  tmp = tempDir("cm-restore-log-");
  const config = configIn(tmp.dir);
  const n = await running(config);
  const secrets = readSecrets(path.join(config.storage.dataDir, "secrets.json"));
  const refOf = (id: string) => accountRefFor(Buffer.from(secrets.accountRefKey, "hex"), id);
  await n.client.submitRecords([
    account({ accountId: "ERASE-1", idNumber: ERASED }),
    account({ accountId: "KEEP-1", idNumber: KEPT }),
    account({ accountId: "DISPUTED-1", idNumber: KEPT }),
    account({ accountId: "UPDATED-1", idNumber: KEPT }),
  ]);
  const subject = { idType: IdType.CN_RESIDENT_ID, idNumber: KEPT, name: "张伟", phone: "13800138000" };
  // A dispute is filed on the borrower's behalf: the node records the borrower's consent first.
  await n.client.unary("grantConsent", { subject, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + 365 * 86_400_000), evidenceRef: "sha256:restore-log-consent" } as never);
  const leafBefore = (await n.node.transparencyLog.recordLeaf(refOf("UPDATED-1")))!;
  const publishedBeforeBackup = (await n.node.transparencyLog.publishNow())!;
  await n.client.unary("backup", { outDir: "before" } as never, 60_000);
  const backupDir = path.join(tmp.dir, "backups", "before");

  await n.client.unary("purgeSubject", { subject: { idType: IdType.CN_RESIDENT_ID, idNumber: ERASED, name: "张伟", phone: "" }, requestRef: "ERASURE-R-1" } as never, 60_000);
  const filed = (await n.client.unary("fileDispute", { subject, institutionId: INSTITUTION, accountRef: refOf("DISPUTED-1"), reason: "not mine" } as never)) as Dispute;
  await n.client.unary("resolveDispute", { disputeId: filed.disputeId, outcome: DisputeOutcome.DELETED, note: "deleted" } as never);
  await n.client.submitRecords([account({ accountId: "UPDATED-1", idNumber: KEPT, creditLimit: "900000" }), account({ accountId: "NEW-1", idNumber: KEPT })]);
  const leafAfter = (await n.node.transparencyLog.recordLeaf(refOf("UPDATED-1")))!;
  const newLeaf = (await n.node.transparencyLog.recordLeaf(refOf("NEW-1")))!;
  expect(leafAfter.leafIndex).toBeGreaterThan(leafBefore.leafIndex);
  const published = (await n.node.transparencyLog.publishNow())!;
  await n.stop();
  return { config, secrets, refOf, backupDir, published, publishedBeforeBackup, leafBefore, leafAfter, newLeaf };
}

describe("restore keeps the transparency log honest", () => {
  it("keeps the newer log, deletes again what it tombstoned, tombstones the versions it loses, and the audit trail verifies", { timeout: 120_000 }, async () => {
    const s = await scenario();
    const dbPath = path.join(s.config.storage.dataDir, "db");
    const before = await readLog(dbPath);

    const result = await restoreBackup({ fromDir: s.backupDir, config: s.config, force: true, logger: silentLogger() });
    expect(result.erasuresReapplied).toBe(1);
    expect(result.log).toMatchObject({ carried: true, unverified: "", deletionsReapplied: 1, versionsTombstoned: 2, size: before.size + 2 });

    const after = await readLog(dbPath);
    // The published log is a prefix of the restored one: nothing a witness cosigned goes back.
    expect(after.leaves.slice(0, before.size)).toEqual(before.leaves);
    const restoredTombstones = after.leaves.slice(before.size).map((l) => {
      expect(l.kind).toBe(LeafKind.Tombstone);
      return { target: Number(Buffer.from(l.fields[0]!).readBigUInt64BE()), reason: Buffer.from(l.fields[1]!).toString("ascii") };
    });
    expect(restoredTombstones.sort((a, b) => a.target - b.target)).toEqual(
      [s.leafAfter.leafIndex, s.newLeaf.leafIndex].sort((a, b) => a - b).map((target) => ({ target, reason: RESTORED_FROM_BACKUP })),
    );

    const stores = await openStores(dbPath, { dataKeys: s.secrets.dataKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, "hex") })) });
    try {
      const [erased, kept, disputed, updated, added] = await stores.records.getAccounts(["ERASE-1", "KEEP-1", "DISPUTED-1", "UPDATED-1", "NEW-1"].map(s.refOf));
      expect(erased).toBeUndefined();
      expect(disputed).toBeUndefined();
      expect(added).toBeUndefined();
      expect(kept).toBeDefined();
      expect(String(updated?.creditLimit)).toBe("300000");
      // The restored version's leaf is what an answer proves again.
      const nodeKey = NodeKey.fromSeed(Buffer.from(s.secrets.nodeKey, "hex"));
      const entry = await stores.db.levels.tlog.get(`i!${s.refOf("UPDATED-1")}`);
      expect(Buffer.from(entry!).toString("latin1").split(" ")[0]).toBe(String(s.leafBefore.leafIndex));
      expect(await stores.db.levels.tlog.get(`i!${s.refOf("NEW-1")}`)).toBeUndefined();

      const audit = await verifyAudit(stores.db, { publicKey: nodeKey.publicKey, logOrigin: INSTITUTION });
      expect(audit, audit.reason).toMatchObject({ ok: true });
      const log = await LevelAuditLog.open(stores.db, {});
      const actions: string[] = [];
      for await (const e of log.export()) actions.push(e.action);
      // The kept trail: the erasure and the dispute made after the backup are still in it, then the restore.
      expect(actions.indexOf("SUBJECT_PURGED")).toBeLessThan(actions.indexOf("NODE_RESTORED"));
      expect(actions.slice(actions.indexOf("NODE_RESTORED"))).toEqual(["NODE_RESTORED", "SUBJECT_PURGED", "RESTORE_RECONCILED"]);
    } finally {
      await stores.close();
    }
  });

  it("refuses to put back the backup's shorter log when the node published a larger one, unless a rollback is allowed", { timeout: 120_000 }, async () => {
    const s = await scenario();
    // The database is lost: only the checkpoint the node published (and its witnesses cosigned) tells what the log was.
    rmSync(path.join(s.config.storage.dataDir, "db"), { recursive: true, force: true });
    const refused = restoreBackup({ fromDir: s.backupDir, config: s.config, witnessedCheckpoints: [s.published], logger: silentLogger() });
    await expect(refused).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("its size would go backwards") });
    expect(existsSync(path.join(s.config.storage.dataDir, "db"))).toBe(false);

    const forced = await restoreBackup({ fromDir: s.backupDir, config: s.config, witnessedCheckpoints: [s.published], allowLogRollback: true, logger: silentLogger() });
    expect(forced.log.carried).toBe(false);
    expect(forced.log.unverified).toContain("its size would go backwards");
    // The erased subject is erased again, and its account's leaf in the backup's log gets its tombstone again.
    expect(forced.erasuresReapplied).toBe(1);
    const after = await readLog(path.join(s.config.storage.dataDir, "db"));
    expect(after.leaves.filter((l) => l.kind === LeafKind.Tombstone).map((l) => Buffer.from(l.fields[1]!).toString("ascii"))).toEqual(["SUBJECT_ERASURE"]);
  });

  it("restores without a rollback warning when the checkpoint given is one the backup's log covers", { timeout: 120_000 }, async () => {
    const s = await scenario();
    const dbPath = path.join(s.config.storage.dataDir, "db");
    rmSync(dbPath, { recursive: true, force: true });
    // A checkpoint from before the backup: the backup's log extends it.
    const ok = await restoreBackup({ fromDir: s.backupDir, config: s.config, witnessedCheckpoints: [s.publishedBeforeBackup], logger: silentLogger() });
    expect(ok.log).toMatchObject({ carried: false, unverified: "" });
    // Without one, restore cannot tell and says so.
    rmSync(dbPath, { recursive: true, force: true });
    const blind = await restoreBackup({ fromDir: s.backupDir, config: s.config, logger: silentLogger() });
    expect(blind.log.unverified).toBe("no database to keep the newer log from");
  });

  it("refuses to replace a database whose log the backup's neither extends nor is a prefix of", { timeout: 120_000 }, async () => {
    const s = await scenario();
    const dbPath = path.join(s.config.storage.dataDir, "db");
    // A later backup, then the node goes back to the older one and lives on: two histories of one log.
    const later = await running(s.config);
    await later.client.unary("backup", { outDir: "later" } as never, 60_000);
    await later.stop();
    rmSync(dbPath, { recursive: true, force: true });
    await restoreBackup({ fromDir: s.backupDir, config: s.config, allowLogRollback: true, logger: silentLogger() });
    const forked = await running(s.config);
    await forked.client.submitRecords([account({ accountId: "FORK-1", idNumber: KEPT }), account({ accountId: "FORK-2", idNumber: KEPT })]);
    await forked.node.transparencyLog.publishNow();
    await forked.stop();
    const before = await readLog(dbPath);

    const refused = restoreBackup({ fromDir: path.join(path.dirname(s.backupDir), "later"), config: s.config, force: true, logger: silentLogger() });
    await expect(refused).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/roll the node's witnessed transparency log back: the database being replaced/) });
    expect(await readLog(dbPath)).toEqual(before);
  });
});
