import { cpSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAudit, type AuditVerification } from "../../src/audit/level-audit-log.js";
import { parseSignedHead } from "../../src/audit/signed-head.js";
import { parseConfig } from "../../src/config/load.js";
import { readSecrets } from "../../src/config/secrets.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { AuditEntry } from "../../src/gen/creditmesh/v1/node.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { silentLogger } from "../../src/logger.js";
import { CreditNode } from "../../src/node/credit-node.js";
import { NodeDatabase } from "../../src/store/database.js";
import { MetaKey } from "../../src/store/keys.js";
import { rechainAudit } from "../helpers/audit-rewrite.js";
import { TestClient } from "../helpers/grpc-client.js";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";
import { account, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

const subject = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19790101", 5), name: "赵磊", phone: "" };
const DAY = 24 * 3600 * 1000;

/** What an editor without the node key can do: change the entries and re-chain them with a matching recorded head. */
async function rewrite(db: NodeDatabase, tamper: (entries: AuditEntry[]) => AuditEntry[]): Promise<void> {
  await rechainAudit(db, tamper);
}

describe("an audit trail rewritten without the node key is caught by `audit verify`", () => {
  let n: InProcessNode;
  const tmp = tempDir("cm-hostile-audit-");
  let publicKey: Uint8Array;
  let copies = 0;

  beforeAll(async () => {
    n = await startInProcessNode({ institutionId: "audit-bank" });
    const client = new TestClient(n.address, n.apiKey);
    await client.submit([{ records: [account({ idNumber: subject.idNumber, name: subject.name })] }]);
    for (let i = 0; i < 4; i++) {
      const c = await client.unary("grantConsent", { subject, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + DAY), evidenceRef: `sha256:9f2c1e0a7b3d${i}` });
      await client.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: c.consentId, asOf: "", deadlineMs: 0 });
    }
    client.close();
    publicKey = NodeKey.fromSeed(Buffer.from(readSecrets(n.node.secretsFile).nodeKey, "hex")).publicKey;
    await n.node.stop();
  });
  afterAll(async () => {
    await n?.stop();
    tmp.remove();
  });

  /** Verifies a tampered copy of the stopped node's database. */
  async function verifyCopy(tamper: (db: NodeDatabase) => Promise<void>): Promise<AuditVerification> {
    const dir = path.join(tmp.dir, `copy-${copies++}`);
    cpSync(path.join(n.dataDir, "db"), dir, { recursive: true });
    const db = await NodeDatabase.open(dir);
    try {
      await tamper(db);
      return await verifyAudit(db, { publicKey });
    } finally {
      await db.close();
    }
  }

  it("the untouched trail verifies, with its head signed by the node", async () => {
    const r = await verifyCopy(async () => undefined);
    expect(r).toMatchObject({ ok: true, firstBadPosition: -1 });
    expect(r.entries).toBeGreaterThan(8);
    const db = await NodeDatabase.open(path.join(n.dataDir, "db"));
    try {
      const head = parseSignedHead(await db.levels.meta.get(MetaKey.auditSignedHead));
      expect(head).toMatchObject({ position: r.entries - 1, hash: r.headHash });
    } finally {
      await db.close();
    }
  });

  it("an entry edited and the chain re-hashed after it is refused", async () => {
    const r = await verifyCopy((db) => rewrite(db, (es) => (es[3]!.actor = "apikey:someone-else", es)));
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/not the one the node signed/);
  });

  it("a tail cut (last entries removed, the recorded head moved back) is refused", async () => {
    const r = await verifyCopy((db) => rewrite(db, (es) => es.slice(0, es.length - 2)));
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/cut from the end/);
  });

  it("an entry backdated (and re-hashed) is refused as going back in time", async () => {
    const r = await verifyCopy((db) => rewrite(db, (es) => (es[5]!.at = new Date(es[4]!.at!.getTime() - DAY), es)));
    expect(r).toMatchObject({ ok: false, firstBadPosition: 5 });
    expect(r.reason).toMatch(/dated before/);
  });

  it("every entry deleted, heads too, while the database holds data, is refused", async () => {
    const r = await verifyCopy(async (db) => {
      await rewrite(db, () => []);
      for (const k of [MetaKey.auditSignedHead, MetaKey.auditSigning]) await db.levels.meta.del(k);
    });
    expect(r).toMatchObject({ ok: false, entries: 0 });
    expect(r.reason).toMatch(/empty but the database holds/);
  });

  it("a signed head removed, or signed by another key, is refused", async () => {
    const removed = await verifyCopy((db) => db.levels.meta.del(MetaKey.auditSignedHead));
    expect(removed.reason).toMatch(/signed head of the trail is missing/);
    const forged = await verifyCopy(async (db) => {
      const head = parseSignedHead(await db.levels.meta.get(MetaKey.auditSignedHead))!;
      await db.levels.meta.put(MetaKey.auditSignedHead, JSON.stringify({ ...head, signature: "ab".repeat(64) }));
    });
    expect(forged.reason).toMatch(/not signed by this node's key/);
  });

  it("the restarted node keeps signing: new entries verify online", async () => {
    const again = await startInProcessNodeOn(n.dataDir);
    try {
      const client = new TestClient(again.grpcAddress, again.localApiKey);
      await client.unary("grantConsent", { subject, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + DAY), evidenceRef: "sha256:9f2c1e0a7b3dff" });
      const res = await new Promise<{ ok: boolean; reason: string }>((resolve, reject) =>
        client.raw.verifyAudit({}, client.metadata, (err, r) => (err ? reject(err) : resolve(r!))),
      );
      client.close();
      expect(res).toMatchObject({ ok: true, reason: "" });
    } finally {
      await again.stop();
    }
  });
});

async function startInProcessNodeOn(dataDir: string): Promise<CreditNode> {
  const node = CreditNode.create({
    config: parseConfig({ institution: { id: "audit-bank", name: "Audit Bank" }, storage: { dataDir }, grpc: { host: "127.0.0.1", port: 0 }, metrics: { enabled: false } }),
    logger: silentLogger(),
  });
  await node.start();
  return node;
}
