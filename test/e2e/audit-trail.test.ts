import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { TestClient } from "../helpers/grpc-client.js";
import { startInProcessNetwork, waitUntil, type InProcessNetwork } from "../helpers/in-process-network.js";
import { account, repayment, residentId } from "../helpers/records.js";

const DAY_MS = 86_400_000;
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19810612", 45, "310104"), name: "审计测试", phone: "13700001111" };

/** The node's whole trail, through ExportAudit. */
function verify(client: TestClient): Promise<{ ok: boolean; entries: string; firstBadPosition: string; reason: string }> {
  return new Promise((resolve, reject) =>
    client.raw.verifyAudit({}, client.metadata, (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

describe("audit trail across two nodes (in process)", () => {
  let net: InProcessNetwork;
  let lender: TestClient;
  let holder: TestClient;
  let lenderId: string;
  let holderId: string;

  beforeAll(async () => {
    net = await startInProcessNetwork({ nodes: 2 });
    [lender, holder] = net.running.map((m) => m.client!) as [TestClient, TestClient];
    [lenderId, holderId] = net.running.map((m) => m.layout.institutionId) as [string, string];
  });
  afterAll(() => net?.stop());

  it("records consents, queries sent and answered, and revocations received, with tokens and ids only", async () => {
    const acks = await holder.submit([{ records: [account({ accountId: "AUD-1", idNumber: BORROWER.idNumber, name: BORROWER.name }), repayment({ accountId: "AUD-1" })] }]);
    expect(acks[0]!.rejected).toEqual([]);
    const now = Date.now();
    const consent = await lender.unary("grantConsent", {
      subject: BORROWER,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(now - 60_000),
      validUntil: new Date(now + 7 * DAY_MS),
      evidenceRef: "sha256:audit-trail-test",
    });
    const report = await lender.unary("getCreditReport", { subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: "", deadlineMs: 5_000 });
    expect(report.holders.find((h: { institutionId: string }) => h.institutionId === holderId).status).toBe(HolderStatus.OK);
    await lender.unary("revokeConsent", { consentId: consent.consentId });

    const lenderTrail = await lender.exportAudit();
    const lenderKeyId = lenderTrail.find((e) => e.action === "API_KEY_CREATED")!.details.keyId!;
    expect(lenderTrail.map((e) => e.action)).toEqual(["API_KEY_CREATED", "CONSENT_GRANTED", "QUERY_SENT", "CONSENT_REVOKED"]);
    expect(lenderTrail[1]).toMatchObject({ actor: lenderKeyId, details: { consentId: consent.consentId, subjectToken: report.subjectToken, purpose: "LOAN_ORIGINATION" } });
    expect(lenderTrail[2]).toMatchObject({
      actor: lenderKeyId,
      details: { requestId: report.reportId, subjectToken: report.subjectToken, purpose: "LOAN_ORIGINATION", consentId: consent.consentId },
    });
    expect(lenderTrail[2]!.details.holders!.split(",").sort()).toEqual([lenderId, holderId].sort());
    expect(lenderTrail[3]).toMatchObject({ actor: lenderKeyId, details: { consentId: consent.consentId } });

    // The holder: the answered query, then the revocation gossiped to it.
    await waitUntil(async () => (await holder.exportAudit()).some((e) => e.action === "REVOCATION_RECEIVED"), 15_000, "the revocation at the holder");
    const holderTrail = await holder.exportAudit();
    expect(holderTrail.map((e) => e.action)).toEqual(["API_KEY_CREATED", "QUERY_ANSWERED", "REVOCATION_RECEIVED"]);
    expect(holderTrail[1]).toMatchObject({
      actor: lenderId,
      details: { requester: lenderId, requestId: report.reportId, subjectToken: report.subjectToken, consentId: consent.consentId },
    });
    expect(holderTrail[2]).toMatchObject({ actor: lenderId, details: { consentId: consent.consentId, grantee: lenderId } });

    for (const client of [lender, holder]) {
      const result = await verify(client);
      expect(result).toMatchObject({ ok: true, firstBadPosition: "-1" });
    }
    const text = JSON.stringify([...lenderTrail, ...holderTrail]);
    for (const raw of [BORROWER.idNumber, BORROWER.name, BORROWER.phone]) expect(text).not.toContain(raw);
  });

  it("records a backup as an operator action", async () => {
    const parent = mkdtempSync(path.join(tmpdir(), "cm-audit-backup-"));
    try {
      const res = await new Promise<{ outDir: string; auditHead: string; auditEntries: string }>((resolve, reject) =>
        // Relative to the node's backup root (storage.backupRoot, by default <dataDir>/backups).
        lender.raw.backup({ outDir: "audit-backup" }, lender.metadata, (err, r) => (err ? reject(err) : resolve(r!))),
      );
      const entries = await lender.exportAudit();
      const last = entries[entries.length - 1]!;
      expect(last).toMatchObject({ action: "BACKUP_TAKEN", details: { auditHead: res.auditHead, auditEntries: res.auditEntries } });
      expect(last.prevHash).toBe(res.auditHead);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
