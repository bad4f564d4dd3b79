import { cpSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAudit, type AuditVerification } from "../../src/audit/level-audit-log.js";
import { readAuditAnchors } from "../../src/audit/log-anchors.js";
import { parseSignedHead, signAuditHead } from "../../src/audit/signed-head.js";
import { readSecrets } from "../../src/config/secrets.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { AuditEntry } from "../../src/gen/creditmesh/v1/node.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { NodeDatabase } from "../../src/store/database.js";
import { MetaKey } from "../../src/store/keys.js";
import { rechainAudit } from "../helpers/audit-rewrite.js";
import { TestClient } from "../helpers/grpc-client.js";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";
import { cli, writeConfig } from "../helpers/node-process.js";
import { account, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

const ORIGIN = "anchor-bank";
const subject = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19820505", 17), name: "钱芳", phone: "" };
const DAY = 24 * 3600 * 1000;

/**
 * What someone holding the node's secrets file can do to the trail: change
 * the entries, chain them again, and write a recorded head and a signed head
 * that match, signed with the node key.
 */
async function rewriteWithKey(db: NodeDatabase, key: NodeKey, tamper: (entries: AuditEntry[]) => AuditEntry[]): Promise<void> {
  const after = await rechainAudit(db, tamper);
  if (after.length === 0) {
    for (const k of [MetaKey.auditSignedHead, MetaKey.auditSigning]) await db.levels.meta.del(k);
    return;
  }
  const last = after[after.length - 1]!;
  const signed = signAuditHead({ position: after.length - 1, hash: last.hash, at: last.at!.toISOString() }, (d) => key.sign(d));
  await db.levels.meta.put(MetaKey.auditSignedHead, JSON.stringify(signed));
}

describe("an audit trail rewritten by someone holding the node key is caught by the heads anchored in the transparency log", () => {
  let n: InProcessNode;
  const tmp = tempDir("cm-hostile-audit-log-");
  let key: NodeKey;
  let copies = 0;

  beforeAll(async () => {
    // Every second signed head is anchored: an edit anywhere before the last anchor is caught.
    n = await startInProcessNode({ institutionId: ORIGIN, config: { tlog: { auditHeadEvery: 2, checkpointIntervalMs: 3_600_000 } } });
    const client = new TestClient(n.address, n.apiKey);
    await client.submit([{ records: [account({ idNumber: subject.idNumber, name: subject.name })] }]);
    for (let i = 0; i < 4; i++) {
      const c = await client.unary("grantConsent", { subject, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + DAY), evidenceRef: `sha256:7c1e0a7b3d${i}` });
      await client.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: c.consentId, asOf: "", deadlineMs: 0 });
    }
    client.close();
    key = NodeKey.fromSeed(Buffer.from(readSecrets(n.node.secretsFile).nodeKey, "hex"));
    // Stopping publishes a last checkpoint covering every anchored head.
    await n.node.stop();
  });
  afterAll(async () => {
    await n?.stop();
    tmp.remove();
  });

  /** A tampered copy of the stopped node's data directory (database and secrets file). */
  function copyDataDir(): string {
    const dir = path.join(tmp.dir, `copy-${copies++}`);
    cpSync(n.dataDir, dir, { recursive: true });
    return dir;
  }

  async function tamperCopy(tamper: (db: NodeDatabase) => Promise<void>): Promise<string> {
    const dir = copyDataDir();
    const db = await NodeDatabase.open(path.join(dir, "db"));
    try {
      await tamper(db);
    } finally {
      await db.close();
    }
    return dir;
  }

  /** verifyAudit on a copy: with the signed head only, and with the log's anchors too. */
  async function verifyBoth(dir: string): Promise<{ signedOnly: AuditVerification; anchored: AuditVerification }> {
    const db = await NodeDatabase.open(path.join(dir, "db"));
    try {
      return { signedOnly: await verifyAudit(db, { publicKey: key.publicKey }), anchored: await verifyAudit(db, { publicKey: key.publicKey, logOrigin: ORIGIN }) };
    } finally {
      await db.close();
    }
  }

  it("the untouched trail matches every head anchored in the log", async () => {
    const dir = copyDataDir();
    const db = await NodeDatabase.open(path.join(dir, "db"));
    try {
      const { anchors } = await readAuditAnchors(db, { origin: ORIGIN, publicKey: key.publicKey });
      const entries = (await db.levels.audit.keys().all()).length;
      expect(anchors.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...anchors.map((a) => a.position))).toBeGreaterThan(entries / 2);
      const head = parseSignedHead(await db.levels.meta.get(MetaKey.auditSignedHead))!;
      expect(head.position).toBe(entries - 1);
    } finally {
      await db.close();
    }
    const { anchored } = await verifyBoth(dir);
    expect(anchored).toMatchObject({ ok: true, firstBadPosition: -1 });
  });

  it("an entry edited and the chain re-hashed and re-signed passes the signed head, but not the log", async () => {
    const dir = await tamperCopy((db) => rewriteWithKey(db, key, (es) => (es[1]!.actor = "apikey:someone-else", es)));
    const { signedOnly, anchored } = await verifyBoth(dir);
    expect(signedOnly.ok).toBe(true);
    expect(anchored.ok).toBe(false);
    expect(anchored.reason).toMatch(/not the one anchored in the transparency log at leaf \d+ \(re-hashed or replaced\)/);
  });

  it("a tail cut with the head re-signed passes the signed head, but not the log", async () => {
    const dir = await tamperCopy(async (db) => {
      const { anchors } = await readAuditAnchors(db, { origin: ORIGIN });
      const lastAnchored = Math.max(...anchors.map((a) => a.position));
      await rewriteWithKey(db, key, (es) => es.slice(0, lastAnchored));
    });
    const { signedOnly, anchored } = await verifyBoth(dir);
    expect(signedOnly.ok).toBe(true);
    expect(anchored.ok).toBe(false);
    expect(anchored.reason).toMatch(/transparency log anchors entry \d+ at leaf \d+ but the trail ends at \d+ \(entries cut from the end\)/);
  });

  it("a wiped trail is refused by the log's anchors, and `creditmesh audit verify --offline` says so (exit 1)", async () => {
    const dir = await tamperCopy((db) => rewriteWithKey(db, key, () => []));
    const { anchored } = await verifyBoth(dir);
    expect(anchored).toMatchObject({ ok: false, entries: 0 });
    expect(anchored.reason).toMatch(/trail is empty but the transparency log anchors its entry \d+ at leaf \d+ \(wiped\)/);

    const config = writeConfig(path.join(dir, "node.json"), { institution: { id: ORIGIN, name: "Anchor Bank" }, storage: { dataDir: dir } });
    const out = await cli(["audit", "verify", "--offline", "--config", config]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/audit BROKEN at position 0: the trail is empty but the transparency log anchors/);
  });

  it("a log entry removed from the database to drop an anchor is refused: the entries no longer hash to the signed root", async () => {
    const dir = await tamperCopy(async (db) => {
      const { anchors } = await readAuditAnchors(db, { origin: ORIGIN });
      // Replace the bundle holding the last anchor (whole, or in the pieces appends wrote) with the same entries minus that one.
      const { LevelLogStore } = await import("../../src/store/level-log-store.js");
      const { splitBundle, bundleEntry } = await import("../../src/tlog/tiles.js");
      const store = new LevelLogStore(db);
      const last = anchors[anchors.length - 1]!;
      const bundle = Math.floor(last.leafIndex / 256);
      const entries = splitBundle((await store.bundle(bundle))!).filter((_, i) => bundle * 256 + i !== last.leafIndex);
      const row = `e!${bundle.toString(16).padStart(12, "0")}`;
      const stored = await db.levels.tlog.keys({ gte: row, lt: `${row}"` }).all();
      await db.write([
        ...stored.map((key) => ({ type: "del" as const, sublevel: db.levels.tlog, key })),
        { type: "put", sublevel: db.levels.tlog, key: row, value: Buffer.concat(entries.map((e) => bundleEntry(e))) },
      ]);
      await rewriteWithKey(db, key, (es) => es.slice(0, last.position));
    });
    const { anchored } = await verifyBoth(dir);
    expect(anchored.ok).toBe(false);
    expect(anchored.reason).toMatch(/transparency log's entry bundle \d+ holds|do not hash to the root/);
  });
});
