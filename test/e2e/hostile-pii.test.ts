import path from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecrets } from "../../src/config/secrets.js";
import { DisputeOutcome, DisputeStatus, IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { accountRefFor } from "../../src/records/ingest.js";
import { TestClient } from "../helpers/grpc-client.js";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";
import { findInDatabase, scanLevelDb } from "../helpers/leveldb-scan.js";
import { account, residentId } from "../helpers/records.js";

const ID = residentId("19920315", 421);
const NAME = "陈思远";
const PHONE = "13912345678";
const subject = { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: NAME, phone: PHONE };
const DAY = 24 * 3600 * 1000;
/** The free text of the attack: a borrower's own name, ID number and phone in a dispute reason. */
const LEAKY = `本人${NAME}，身份证${ID}，手机${PHONE}，此笔逾期有误`;

async function refused(p: Promise<unknown>, field: string): Promise<void> {
  const err = (await p.then(() => undefined, (e: unknown) => e)) as ServiceError | undefined;
  expect(err, `expected INVALID_ARGUMENT on ${field}`).toBeDefined();
  expect(err!.code, err!.details).toBe(status.INVALID_ARGUMENT);
  expect(err!.metadata.get("field")[0]).toBe(field);
  expect(err!.details).toContain("personal data");
  for (const secret of [ID, PHONE, NAME]) expect(err!.details).not.toContain(secret);
}

describe("free text never carries a borrower's personal data", () => {
  let n: InProcessNode;
  let client: TestClient;
  let accountRef: string;

  beforeAll(async () => {
    n = await startInProcessNode({ institutionId: "pii-bank" });
    client = new TestClient(n.address, n.apiKey);
    accountRef = accountRefFor(Buffer.from(readSecrets(n.node.secretsFile).accountRefKey, "hex"), "PII-OK");
  });
  afterAll(async () => {
    client?.close();
    await n?.stop();
  });

  it("a furnishing_consent_ref holding an ID number, a phone or the subject's name rejects the record", async () => {
    const [ack] = await client.submit([
      {
        records: [
          account({ accountId: "PII-1", idNumber: ID, name: NAME, furnishingConsentRef: `auth-${ID}` }),
          account({ accountId: "PII-2", idNumber: ID, name: NAME, furnishingConsentRef: `call ${PHONE.slice(0, 3)}-${PHONE.slice(3, 7)}-${PHONE.slice(7)}` }),
          account({ accountId: "PII-3", idNumber: ID, name: NAME, furnishingConsentRef: `授权书-${NAME}` }),
          account({ accountId: "PII-OK", idNumber: ID, name: NAME, furnishingConsentRef: "auth-2026-0042" }),
        ],
      },
    ]);
    expect(ack!.accepted).toBe(1);
    expect(ack!.rejected.map((r: { index: number; field: string }) => [r.index, r.field])).toEqual([
      [0, "account.furnishing_consent_ref"],
      [1, "account.furnishing_consent_ref"],
      [2, "account.furnishing_consent_ref"],
    ]);
  });

  it("an evidence_ref holding an ID number or a phone is refused; a hash is accepted", async () => {
    const grant = (evidenceRef: string) =>
      client.unary("grantConsent", { subject, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + 30 * DAY), evidenceRef });
    await refused(grant(ID), "evidence_ref");
    await refused(grant(`tel:+86${PHONE}`), "evidence_ref");
    await expect(grant("sha256:9f2c1e0a7b3d")).resolves.toMatchObject({ evidenceRef: "sha256:9f2c1e0a7b3d" });
  });

  it("a dispute reason with the name, ID or phone is refused and nothing is filed; a plain reason is", async () => {
    // Filed on the borrower's behalf: the node holds the borrower's consent.
    await client.unary("grantConsent", { subject, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + 30 * DAY), evidenceRef: "sha256:5d41402abc4b" });
    const file = (reason: string) => client.unary("fileDispute", { subject, institutionId: "pii-bank", accountRef, reason });
    await refused(file(LEAKY), "reason");
    await refused(file(`本人${NAME}对此有异议`), "reason");
    await refused(file(`请致电 ${PHONE}`), "reason");
    const list = await client.unary("listDisputes", { includeResolved: true });
    expect(list.disputes).toEqual([]);
    const d = await file("此笔逾期有误，银行回单已附");
    expect(d.status).toBe(DisputeStatus.OPEN);

    const resolve = (note: string) => client.unary("resolveDispute", { disputeId: d.disputeId, outcome: DisputeOutcome.VERIFIED_ACCURATE, note });
    await refused(resolve(`已联系${NAME}核实`), "note");
    await refused(resolve(`客户身份证 ${ID}`), "note");
    const still = await client.unary("getDispute", { disputeId: d.disputeId });
    expect(still.dispute.status).toBe(DisputeStatus.OPEN);
    await expect(resolve("还款晚到两天，记录无误")).resolves.toMatchObject({ status: DisputeStatus.RESOLVED });
  });

  it("none of it reached the database outside the sealed identity", async () => {
    await n.node.stop();
    const db = scanLevelDb(path.join(n.dataDir, "db"));
    for (const needle of [ID, PHONE, NAME]) expect(findInDatabase(db, needle, { alsoRawEverywhere: true }), needle).toEqual([]);
  });
});
