import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isoDate } from "../../src/clock.js";
import { HolderStatus, IdType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import type { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import { startInProcessNetwork, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";
import { cli } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";

/**
 * A furnisher deletes an account reported in error by ingesting a deletion
 * record (CLI, CSV); the lender's next report across the network no longer
 * holds it, and the furnisher's audit trail says who deleted it and why.
 */

const ID = residentId("19870722", 318, "440305");
const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: "黄子豪", phone: "" };

describe("a furnisher deletes an account across the network", () => {
  let net: InProcessNetwork;
  let lender: NetworkMember;
  let furnisher: NetworkMember;

  beforeAll(async () => {
    net = await startInProcessNetwork({ nodes: 2, roles: (i) => (i === 0 ? [Role.LENDER] : [Role.FURNISHER]) });
    [lender, furnisher] = net.running as [NetworkMember, NetworkMember];
    const acks = await furnisher.client!.submit([
      {
        records: [
          account({ accountId: "FRAUD-1", idNumber: ID, name: SUBJECT.name }),
          repayment({ accountId: "FRAUD-1", installment: 1 }),
          account({ accountId: "REAL-2", idNumber: ID, name: SUBJECT.name, openedOn: "2026-01-20" }),
        ],
      },
    ]);
    expect(acks[0]!.rejected).toEqual([]);
  }, 60_000);

  afterAll(async () => {
    await net?.stop();
  });

  const report = async (): Promise<CreditReport> => {
    const consent = await lender.client!.unary("grantConsent", {
      subject: SUBJECT,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 3_600_000),
      evidenceRef: `sha256:deletion-${Date.now()}`,
    });
    return lender.client!.unary("getCreditReport", { subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: isoDate(new Date()), deadlineMs: 5_000 });
  };

  it("the report loses the deleted account only, and the audit trail names the deleting key and the reason", async () => {
    const before = await report();
    expect(before.tradelines).toHaveLength(2);

    const file = path.join(furnisher.layout.dir, "deletions.csv");
    writeFileSync(file, "record_type,account_id,reason\ndeletion,FRAUD-1,IDENTITY_FRAUD\ndeletion,NEVER-FURNISHED,FURNISHED_IN_ERROR\n");
    const ingest = await cli(["ingest", file, "--config", furnisher.layout.configFile]);
    expect(ingest.stdout + ingest.stderr).toContain("line 3: deletion.account_id: no account with this account_id has been furnished");
    expect(ingest.stdout + ingest.stderr).toMatch(/accepted 1, rejected 1/);

    const after = await report();
    const holder = after.holders.find((h) => h.institutionId === furnisher.layout.institutionId);
    expect(holder?.status).toBe(HolderStatus.OK);
    expect(after.tradelines).toHaveLength(1);
    expect(after.tradelines[0]!.openedOn).toBe("2026-01-20");
    expect(before.summary?.accounts).toBe(2);
    expect(after.summary?.accounts).toBe(1);

    const exported = await cli(["audit", "export", "--config", furnisher.layout.configFile]);
    expect(exported.code).toBe(0);
    const deletions = exported.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { action: string; actor: string; details: Record<string, string> })
      .filter((e) => e.action === "ACCOUNT_DELETED");
    expect(deletions).toHaveLength(1);
    expect(deletions[0]!.details.reason).toBe("IDENTITY_FRAUD");
    expect(deletions[0]!.actor).not.toBe("");
    expect(JSON.stringify(deletions)).not.toContain("FRAUD-1");
  }, 60_000);
});
