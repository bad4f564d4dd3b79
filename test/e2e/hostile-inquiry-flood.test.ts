import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, ProductType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { account, residentId } from "../helpers/records.js";

/**
 * One lender floods a borrower with reports, with child processes: lenders
 * bank-a (the flooder) and ecom-c, holder cfc-b, every node with a quota of
 * 3 queries per member and subject a day. The flooder is refused by the
 * holder past its quota (counted against it), and the other lender's report
 * for the same borrower is still complete.
 */

const QUOTA = 3;
const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19900512", 331, "320106"), name: "王芳", phone: "13700003333" };

describe("an inquiry flood by one lender does not reach other lenders' reports", () => {
  const roles: Role[][] = [[Role.LENDER], [Role.FURNISHER], [Role.LENDER]];
  const net = new TestNetwork({ nodes: 3, metrics: true, roles: (i) => roles[i]!, config: () => ({ p2p: { subjectQueriesPerDay: QUOTA } }) });

  const grant = (lender: string): Promise<Consent> =>
    net.client(lender).unary("grantConsent", {
      subject: BORROWER,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 30 * DAY_MS),
      evidenceRef: `sha256:authorization-${lender}-${Date.now()}`,
    });
  const holderStatus = async (lender: string, consent: Consent): Promise<string> => {
    const r = await net.client(lender).unary("getCreditReport", { subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: AS_OF, deadlineMs: 5_000 });
    const holder = (r.holders as { institutionId: string; status: number }[]).find((h) => h.institutionId === "cfc-b");
    return HolderStatus[holder!.status]!;
  };

  beforeAll(async () => {
    await net.start();
    await net.waitConnected(["bank-a", "cfc-b", "ecom-c"]);
    const acks = await net.client("cfc-b").submit([
      { records: [account({ idNumber: BORROWER.idNumber, name: BORROWER.name, accountId: "ACC-cfc-b-1", productType: ProductType.CASH_LOAN, openedOn: "2025-01-10", creditLimit: "200000", termMonths: 6 })] },
    ]);
    expect(acks[0]!.accepted).toBe(1);
  }, 180_000);

  afterAll(async () => {
    await net.stop();
  });

  it("the flooding lender is refused past its quota and counted; the other lender's report is complete", async () => {
    const flooder = await grant("bank-a");
    const statuses: string[] = [];
    for (let i = 0; i < QUOTA + 2; i++) statuses.push(await holderStatus("bank-a", flooder));
    expect(statuses).toEqual(["OK", "OK", "OK", "DENIED", "DENIED"]);
    expect(await net.metric("cfc-b", "creditmesh_queries_over_quota_total", { member: "bank-a" })).toBe(2);

    const other = await grant("ecom-c");
    expect(await holderStatus("ecom-c", other)).toBe("OK");
  });
});
