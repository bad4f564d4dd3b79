import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addApiKey } from "../../src/config/secrets.js";
import { AccountStatus, ConsentStatus, HolderStatus, IdType, ProductType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { ListConsentsResponse } from "../../src/gen/creditmesh/v1/node.js";
import { TestClient } from "../helpers/grpc-client.js";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";
import { account, repayment, residentId } from "../helpers/records.js";

const ID = residentId("19900307", 123);
const subject = { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: "张伟", phone: "13800138000" };
const DAY = 24 * 3600 * 1000;

describe("a single node over gRPC", () => {
  let n: InProcessNode;
  let client: TestClient;

  beforeAll(async () => {
    n = await startInProcessNode();
    client = new TestClient(n.address, n.apiKey);
  });
  afterAll(async () => {
    client?.close();
    await n?.stop();
  });

  it("refuses calls without a key, with an unknown key, and with a key lacking the role", async () => {
    const anonymous = new TestClient(n.address);
    await expect(anonymous.unary("getNodeStatus", {})).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    const stranger = new TestClient(n.address, "cmk_unknown_key_000000000000");
    await expect(stranger.unary("getNodeStatus", {})).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    const furnisherKey = addApiKey(n.node.secretsFile, ["FURNISHER"]);
    const furnisher = new TestClient(n.address, furnisherKey);
    await expect(furnisher.unary("getNodeStatus", {})).resolves.toMatchObject({ institutionId: "test-bank" });
    await expect(
      furnisher.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: "x", asOf: "", deadlineMs: 0 }),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    for (const c of [anonymous, stranger, furnisher]) c.close();
  });

  it("rejects each malformed record precisely and stores nothing of it", async () => {
    const before = await client.unary("getNodeStatus", {});
    const badCheck = ID.slice(0, 17) + (ID[17] === "0" ? "1" : "0");
    const [ack] = await client.submit([
      {
        records: [
          account({ accountId: "BAD-1", idNumber: badCheck }),
          account({ accountId: "BAD-2", openedOn: "2026-02-30" }),
          account({ accountId: "BAD-3", creditLimit: "-5" }),
          repayment({ accountId: "NO-SUCH-ACCOUNT" }),
          account({ accountId: "BAD-4", productType: 99 as ProductType }),
          { kind: undefined },
        ],
      },
    ]);
    expect(ack!.batch).toBe("0");
    expect(ack!.accepted).toBe(0);
    expect(ack!.rejected.map((r: { index: number; field: string }) => [r.index, r.field])).toEqual([
      [0, "account.subject.id_number"],
      [1, "account.opened_on"],
      [2, "account.credit_limit"],
      [3, "repayment.account_id"],
      [4, "account.product_type"],
      [5, "kind"],
    ]);
    expect(ack!.rejected[0].reason).toMatch(/check character/);
    expect(ack!.rejected[1].reason).toMatch(/not a real date/);
    const after = await client.unary("getNodeStatus", {});
    expect(after.accounts).toBe(before.accounts);
    expect(after.subjects).toBe(before.subjects);
  });

  it("answers an empty batch with a rejection and an empty stream with INVALID_ARGUMENT", async () => {
    const [ack] = await client.submit([{ records: [] }]);
    expect(ack).toMatchObject({ accepted: 0, rejected: [{ index: -1, field: "records" }] });
    await expect(client.submit([])).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("acknowledges batches in order, and a mixed batch keeps its good records", async () => {
    const acks = await client.submit([
      { records: [account(), repayment({ installment: 1 })] },
      {
        records: [
          repayment({ installment: 2, dueOn: "2026-03-05", paidOn: "", amountPaid: "0", balanceAfter: "200000" }),
          repayment({ installment: 0 }),
        ],
      },
    ]);
    expect(acks.map((a) => [a.batch, a.accepted, a.rejected.length])).toEqual([
      ["0", 2, 0],
      ["1", 1, 1],
    ]);
    expect(acks[1]!.rejected[0]).toMatchObject({ index: 1, field: "repayment.installment" });
    const st = await client.unary("getNodeStatus", {});
    expect(st).toMatchObject({ accounts: "1", subjects: "1" });
  });

  it("re-submitting the same records is an idempotent update", async () => {
    await client.submit([{ records: [account(), repayment({ installment: 1 })] }]);
    expect(await client.unary("getNodeStatus", {})).toMatchObject({ accounts: "1", subjects: "1" });
  });

  it("serves a report only with an active consent for that subject and purpose", async () => {
    const report = (consentId: string, purpose = Purpose.LOAN_ORIGINATION) =>
      client.unary("getCreditReport", { subject, purpose, consentId, asOf: "2026-04-20", deadlineMs: 0 });
    await expect(report("no-such-consent")).rejects.toMatchObject({ code: status.PERMISSION_DENIED });

    const consent = await client.unary("grantConsent", {
      subject,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - DAY),
      validUntil: new Date(Date.now() + 30 * DAY),
      evidenceRef: "sha256:0123456789abcdef",
    });
    expect(consent.signature.length).toBe(64);
    await expect(report(consent.consentId, Purpose.CREDIT_LIMIT_REVIEW)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });

    const r1 = await report(consent.consentId);
    expect(r1.tradelines).toHaveLength(1);
    const t = r1.tradelines[0];
    expect(t.institutionId).toBe("test-bank");
    expect(t.accountRef).toMatch(/^[0-9a-f]{32}$/);
    expect(t.status).toBe(AccountStatus.PAST_DUE_30);
    expect(t.paymentHistory).toHaveLength(24);
    expect(t.amountPastDue).toBe("100000");
    expect(r1.holders).toEqual([expect.objectContaining({ institutionId: "test-bank", status: HolderStatus.OK })]);
    expect(r1.summary).toMatchObject({ accounts: 1, institutions: 1, totalPastDue: "100000" });

    // Same data and as_of → same tradelines and summary.
    const r2 = await report(consent.consentId);
    expect(r2.tradelines).toEqual(r1.tradelines);
    expect({ ...r2.summary, inquiries30d: 0, inquiringInstitutions30d: 0 }).toEqual({ ...r1.summary, inquiries30d: 0, inquiringInstitutions30d: 0 });

    await client.unary("revokeConsent", { consentId: consent.consentId });
    await expect(report(consent.consentId)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
  });

  it("lists a borrower's consents with their status now, to roles that record them, by the subject's identity", async () => {
    const granted = await client.unary("grantConsent", {
      subject,
      purpose: Purpose.CREDIT_LIMIT_REVIEW,
      validFrom: new Date(Date.now() - DAY),
      validUntil: new Date(Date.now() + 90 * DAY),
      evidenceRef: "sha256:fedcba9876543210",
    });
    const { consents }: ListConsentsResponse = await client.unary("listConsents", { subject });
    expect(consents[0]).toEqual(granted);
    // The report test's consent, revoked there, is listed after it as REVOKED.
    expect(consents.slice(1).map((c) => [c.purpose, c.status])).toEqual([[Purpose.LOAN_ORIGINATION, ConsentStatus.REVOKED]]);
    expect(consents[1]!.revokedAt).toBeInstanceOf(Date);

    const other = { ...subject, idNumber: residentId("19850101", 7), name: "李雷" };
    expect((await client.unary("listConsents", { subject: other })).consents).toEqual([]);
    await expect(client.unary("listConsents", { subject: { ...subject, idNumber: "123" } })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });

    const furnisher = new TestClient(n.address, addApiKey(n.node.secretsFile, ["FURNISHER"]));
    const anonymous = new TestClient(n.address);
    try {
      expect((await furnisher.unary("listConsents", { subject })).consents).toHaveLength(2);
      await expect(anonymous.unary("listConsents", { subject })).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    } finally {
      furnisher.close();
      anonymous.close();
    }
  });

  it("names the field of a bad report request", async () => {
    await expect(
      client.unary("getCreditReport", { subject: { ...subject, idNumber: "123" }, purpose: Purpose.LOAN_ORIGINATION, consentId: "c", asOf: "", deadlineMs: 0 }),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining("subject.id_number") });
    await expect(
      client.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: "c", asOf: "2026-13-01", deadlineMs: 0 }),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining("as_of") });
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const future = await client
      .unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: "c", asOf: tomorrow, deadlineMs: 0 })
      .catch((e: ServiceError) => e);
    expect(future).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((future as ServiceError).metadata.get("field")).toEqual(["as_of"]);
  });

  it("never writes a raw ID number, name or phone to its logs", () => {
    const text = n.logs.text;
    expect(n.logs.lines.length).toBeGreaterThan(5);
    for (const secret of [ID, "张伟", "13800138000", "ACC-1"]) expect(text).not.toContain(secret);
  });
});
