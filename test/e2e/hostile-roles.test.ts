import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addApiKey } from "../../src/config/secrets.js";
import { ConsentStatus, IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { BackupResponse } from "../../src/gen/creditmesh/v1/node.js";
import { TestClient } from "../helpers/grpc-client.js";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";
import { account, residentId } from "../helpers/records.js";

const subject = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19850412", 77), name: "王芳", phone: "" };
const DAY = 24 * 3600 * 1000;
const REQUEST_HASH = `sha256:${"ab12".repeat(16)}`;

async function code(p: Promise<unknown>): Promise<{ code: number; field?: string }> {
  const err = (await p.then(() => undefined, (e: unknown) => e)) as ServiceError | undefined;
  if (!err) return { code: status.OK };
  return { code: err.code, field: err.metadata.get("field")[0] as string | undefined };
}

describe("role rules, backup confinement and file modes", () => {
  let n: InProcessNode;
  let clients: Record<"furnisher" | "lender" | "operator" | "subject", TestClient>;

  const grant = (c: TestClient, purpose: Purpose, evidenceRef = "sha256:9f2c1e0a7b3d") =>
    c.unary("grantConsent", { subject, purpose, validUntil: new Date(Date.now() + 10 * DAY), evidenceRef });
  const report = (c: TestClient, purpose: Purpose, consentId: string) =>
    c.unary("getCreditReport", { subject, purpose, consentId, asOf: "", deadlineMs: 0 });
  const backup = (outDir: string) =>
    new Promise<BackupResponse>((resolve, reject) =>
      clients.operator.raw.backup({ outDir }, clients.operator.metadata, (err, r) => (err ? reject(err) : resolve(r!))),
    );

  beforeAll(async () => {
    n = await startInProcessNode({ institutionId: "role-bank" });
    const key = (role: "FURNISHER" | "LENDER" | "OPERATOR" | "SUBJECT_SERVICE") => new TestClient(n.address, addApiKey(n.node.secretsFile, [role]));
    clients = { furnisher: key("FURNISHER"), lender: key("LENDER"), operator: key("OPERATOR"), subject: key("SUBJECT_SERVICE") };
    const [ack] = await clients.furnisher.submit([{ records: [account({ idNumber: subject.idNumber, name: subject.name })] }]);
    expect(ack!.accepted).toBe(1);
  });
  afterAll(async () => {
    for (const c of Object.values(clients ?? {})) c.close();
    await n?.stop();
  });

  it("a FURNISHER key cannot revoke a lender's LOAN_ORIGINATION consent; LENDER and OPERATOR can", async () => {
    const a = await grant(clients.lender, Purpose.LOAN_ORIGINATION);
    expect(await code(clients.furnisher.unary("revokeConsent", { consentId: a.consentId }))).toEqual({ code: status.PERMISSION_DENIED });
    expect((await clients.lender.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: a.consentId, asOf: "", deadlineMs: 0 })).tradelines).toHaveLength(1);
    await expect(clients.lender.unary("revokeConsent", { consentId: a.consentId })).resolves.toMatchObject({ status: ConsentStatus.REVOKED });
    const b = await grant(clients.lender, Purpose.CREDIT_LIMIT_REVIEW);
    await expect(clients.operator.unary("revokeConsent", { consentId: b.consentId })).resolves.toMatchObject({ status: ConsentStatus.REVOKED });
    // A furnisher still manages the consents it records.
    const f = await grant(clients.furnisher, Purpose.FURNISHING);
    await expect(clients.furnisher.unary("revokeConsent", { consentId: f.consentId })).resolves.toMatchObject({ status: ConsentStatus.REVOKED });
  });

  it("SUBJECT_REQUEST consents and reports take the SUBJECT_SERVICE role and the hash of the borrower's own request", async () => {
    expect(await code(grant(clients.lender, Purpose.SUBJECT_REQUEST, REQUEST_HASH))).toEqual({ code: status.PERMISSION_DENIED });
    expect(await code(grant(clients.subject, Purpose.SUBJECT_REQUEST, "sha256:9f2c1e0a7b3d"))).toEqual({ code: status.INVALID_ARGUMENT, field: "evidence_ref" });
    expect(await code(grant(clients.subject, Purpose.LOAN_ORIGINATION))).toEqual({ code: status.PERMISSION_DENIED });
    const own = await grant(clients.subject, Purpose.SUBJECT_REQUEST, REQUEST_HASH);
    // The lender cannot borrow the borrower's own consent to see every inquirer by name.
    expect(await code(report(clients.lender, Purpose.SUBJECT_REQUEST, own.consentId))).toEqual({ code: status.PERMISSION_DENIED });
    const r = await report(clients.subject, Purpose.SUBJECT_REQUEST, own.consentId);
    expect(r.inquiries.some((i: { requesterName: string }) => i.requesterName !== "")).toBe(true);
    expect(await code(clients.lender.unary("revokeConsent", { consentId: own.consentId }))).toEqual({ code: status.PERMISSION_DENIED });
  });

  it("a backup out_dir outside the backup root is refused with a field error; inside it is written", async () => {
    for (const outside of ["../../..", "../../../tmp/stolen", "/tmp/cm-stolen-backup", ".", ""]) {
      expect(await code(backup(outside)), outside).toEqual({ code: status.INVALID_ARGUMENT, field: "out_dir" });
    }
    const res = await backup("nightly-1");
    expect(res.outDir).toBe(path.join(n.dataDir, "backups", "nightly-1"));
  });

  it("the data directory and the database are owner-only (700 directories, 600 files)", () => {
    const mode = (p: string) => statSync(p).mode & 0o777;
    expect(mode(n.dataDir)).toBe(0o700);
    const db = path.join(n.dataDir, "db");
    expect(mode(db)).toBe(0o700);
    const files = readdirSync(db);
    expect(files.length).toBeGreaterThan(2);
    for (const f of files) expect([f, mode(path.join(db, f))]).toEqual([f, 0o600]);
    expect(mode(path.join(n.dataDir, "secrets.json"))).toBe(0o600);
    const backupDb = path.join(n.dataDir, "backups", "nightly-1");
    for (const f of readdirSync(backupDb)) expect([f, mode(path.join(backupDb, f)) & 0o077]).toEqual([f, 0]);
  });
});
