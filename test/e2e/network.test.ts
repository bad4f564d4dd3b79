import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountStatus, HolderStatus, IdType, ProductType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import type { Record as WireRecord } from "../../src/gen/creditmesh/v1/records.js";
import { CreditReport, HolderAnswer, type HolderOutcome, type Tradeline } from "../../src/gen/creditmesh/v1/report.js";
import { verifySignature } from "../../src/identity/node-key.js";
import { verifyReport } from "../../src/report/verify.js";
import { TestNetwork, type TestNode } from "../../src/testnet/network.js";
import { account, repayment, residentId } from "../helpers/records.js";

const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const daysAgo = (n: number): string => new Date(Date.parse(AS_OF) - n * DAY_MS).toISOString().slice(0, 10);

const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19880512", 321, "440305"), name: "李娜", phone: "13912345678" };
const STRANGER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19770203", 88, "310104"), name: "王强", phone: "" };
const who = { idNumber: BORROWER.idNumber, name: BORROWER.name, phone: BORROWER.phone };

/**
 * What each furnisher holds for the borrower. Expected tradeline figures are
 * worked out by hand from these records as of AS_OF.
 */
const FURNISHED: Record<string, { records: WireRecord[]; expect: Partial<Tradeline> }> = {
  // An older instalment loan, four instalments paid on time: 800,000 left, current.
  "bank-a": {
    records: [
      account({ ...who, accountId: "HX-LOAN-2025-0091", productType: ProductType.INSTALLMENT_LOAN, openedOn: daysAgo(150), creditLimit: "1200000", termMonths: 12 }),
      ...[1, 2, 3, 4].map((k) =>
        repayment({ accountId: "HX-LOAN-2025-0091", installment: k, dueOn: daysAgo(150 - 30 * k), amountDue: "100000", paidOn: daysAgo(151 - 30 * k), amountPaid: "100000", balanceAfter: String(1_200_000 - 100_000 * k) }),
      ),
    ],
    expect: { productType: ProductType.INSTALLMENT_LOAN, openedOn: daysAgo(150), creditLimit: "1200000", balance: "800000", amountPastDue: "0", status: AccountStatus.CURRENT },
  },
  // A cash loan opened 75 days ago whose first instalment (due 45 days ago) is unpaid: 30 days past due.
  "cfc-b": {
    records: [
      account({ ...who, accountId: "JX-CASH-77310", productType: ProductType.CASH_LOAN, openedOn: daysAgo(75), creditLimit: "500000", termMonths: 6 }),
      repayment({ accountId: "JX-CASH-77310", installment: 1, dueOn: daysAgo(45), amountDue: "90000", paidOn: "", amountPaid: "0", balanceAfter: "500000" }),
    ],
    expect: { productType: ProductType.CASH_LOAN, openedOn: daysAgo(75), creditLimit: "500000", balance: "500000", amountPastDue: "90000", status: AccountStatus.PAST_DUE_30, maxDaysPastDue: 45 },
  },
  // A revolving line opened 20 days ago, first statement paid a day early.
  "ecom-c": {
    records: [
      account({ ...who, accountId: "SL-REV-000042", productType: ProductType.REVOLVING_LINE, openedOn: daysAgo(20), creditLimit: "300000", termMonths: 0 }),
      repayment({ accountId: "SL-REV-000042", installment: 1, dueOn: daysAgo(5), amountDue: "30000", paidOn: daysAgo(6), amountPaid: "30000", balanceAfter: "120000" }),
    ],
    expect: { productType: ProductType.REVOLVING_LINE, openedOn: daysAgo(20), creditLimit: "300000", balance: "120000", amountPastDue: "0", status: AccountStatus.CURRENT },
  },
};
const FURNISHERS = Object.keys(FURNISHED);
const LENDER = "bank-d";

async function consentAndReport(node: TestNode, subject: typeof BORROWER): Promise<CreditReport> {
  const now = Date.now();
  const consent = await node.client.unary("grantConsent", {
    subject,
    purpose: Purpose.LOAN_ORIGINATION,
    validFrom: new Date(now - 60_000),
    validUntil: new Date(now + 7 * DAY_MS),
    evidenceRef: `signed-authorization-${node.institutionId}-${now}`,
  });
  return node.client.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: AS_OF, deadlineMs: 5_000 });
}

const statuses = (holders: HolderOutcome[]) => Object.fromEntries(holders.map((h) => [h.institutionId, HolderStatus[h.status]]));

describe("four institutions as child processes: one unified report", () => {
  // bank-a and ecom-c furnish and lend, cfc-b only furnishes, bank-d only lends.
  const roles: Role[][] = [[Role.FURNISHER, Role.LENDER], [Role.FURNISHER], [Role.FURNISHER, Role.LENDER], [Role.LENDER]];
  const net = new TestNetwork({ nodes: 4, roles: (i) => roles[i]! });
  let report: CreditReport;
  let earlierReportId: string;

  beforeAll(async () => {
    await net.start();
    expect(net.nodes.map((n) => n.institutionId)).toEqual([...FURNISHERS, LENDER]);
    await Promise.all(
      FURNISHERS.map(async (id) => {
        const acks = await net.node(id).client.submit([{ records: FURNISHED[id]!.records }]);
        expect(acks.map((a) => [a.accepted, a.rejected])).toEqual([[FURNISHED[id]!.records.length, []]]);
      }),
    );
    // Another lender looked at the borrower first: a second inquiring institution.
    earlierReportId = (await consentAndReport(net.node("ecom-c"), BORROWER)).reportId;
    report = await consentAndReport(net.node(LENDER), BORROWER);
  });
  afterAll(() => net.stop());

  it("the lender sees every other member connected", async () => {
    const status = await net.node(LENDER).client.unary("getNodeStatus", {});
    expect(status.institutionId).toBe(LENDER);
    expect(status.peerId).toBe(net.node(LENDER).peerId);
    const members = (status.members as { institutionId: string; connected: boolean; peerId: string }[])
      .map((m) => [m.institutionId, m.connected, m.peerId])
      .sort();
    expect(members).toEqual(net.nodes.map((n) => [n.institutionId, true, n.peerId]).sort());
  });

  it("holds every furnisher's tradeline, derived from its records", () => {
    expect(report.requesterInstitutionId).toBe(LENDER);
    expect(report.asOf).toBe(AS_OF);
    expect(report.tradelines).toHaveLength(3);
    expect(report.tradelines.map((t) => t.institutionId).sort()).toEqual(FURNISHERS);
    for (const id of FURNISHERS) {
      const tl = report.tradelines.find((t) => t.institutionId === id)!;
      expect(tl, id).toMatchObject({ ...FURNISHED[id]!.expect, reportedOn: AS_OF });
      // Peers see an opaque reference, never the furnisher's account number.
      expect(tl.accountRef).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it("sums across institutions and counts the multi-lending signals", () => {
    expect(report.summary).toMatchObject({
      accounts: 3,
      openAccounts: 3,
      institutions: 3,
      totalBalance: String(800_000 + 500_000 + 120_000),
      totalLimit: String(1_200_000 + 500_000 + 300_000),
      totalPastDue: "90000",
      delinquentAccounts: 1,
      worstStatus24m: AccountStatus.PAST_DUE_30,
      // cfc-b (75 days) and ecom-c (20 days); bank-a's loan is 150 days old.
      accountsOpened90d: 2,
      institutionsOpened90d: 2,
      // ecom-c's earlier query and this one.
      inquiries30d: 2,
      inquiringInstitutions30d: 2,
    });
    // A lender's report lists only its own inquiries.
    expect(report.inquiries.map((q) => [q.inquiryId, q.requesterInstitutionId])).toEqual([[report.reportId, LENDER]]);
  });

  it("has one OK outcome per furnisher, and the lender-only node has nothing of its own", () => {
    expect(statuses(report.holders)).toEqual({ "bank-a": "OK", "bank-d": "NO_DATA", "cfc-b": "OK", "ecom-c": "OK" });
    for (const id of FURNISHERS) {
      const h = report.holders.find((x) => x.institutionId === id)!;
      expect(h.tradelines).toBe(1);
      expect(h.peerId).toBe(net.node(id).peerId);
    }
  });

  it("each holder signed an answer that records this query (and the earlier one) in its inquiry log", () => {
    const earlierRequesters = new Set<string>();
    for (const id of FURNISHERS) {
      const h = report.holders.find((x) => x.institutionId === id)!;
      expect(verifySignature(net.memberPublicKey(id)!, h.signedAnswer, h.signature), id).toBe(true);
      const answer = HolderAnswer.decode(h.signedAnswer);
      expect(answer).toMatchObject({ requestId: report.reportId, holderInstitutionId: id, requesterInstitutionId: LENDER, subjectToken: report.subjectToken });
      expect(answer.inquiries, id).toHaveLength(2);
      const mine = answer.inquiries.find((q) => q.inquiryId === report.reportId);
      expect(mine && [mine.requesterInstitutionId, mine.purpose], id).toEqual([LENDER, Purpose.LOAN_ORIGINATION]);
      const earlier = answer.inquiries.find((q) => q.inquiryId === earlierReportId);
      expect(earlier?.purpose, id).toBe(Purpose.LOAN_ORIGINATION);
      earlierRequesters.add(earlier!.requesterInstitutionId);
      expect(answer.tradelines.map((t) => t.accountRef)).toEqual(report.tradelines.filter((t) => t.institutionId === id).map((t) => t.accountRef));
    }
    // ecom-c's inquiry: every holder names its requester the same way (by id, or by the
    // pseudonym a lender sees for another institution), so distinct inquirers can be counted.
    expect(earlierRequesters.size).toBe(1);
    expect([...earlierRequesters][0]).not.toBe(LENDER);
    expect([...earlierRequesters][0]).not.toBe("");
  });

  it("verifies against the manifest's keys, and a changed amount fails naming its tradeline", () => {
    const opts = { memberPublicKey: net.memberPublicKey, verify: verifySignature };
    const good = verifyReport(report, opts);
    expect(good.failures).toEqual([]);
    expect(good.ok).toBe(true);
    expect(good.holders.filter((h) => h.verified).map((h) => h.institutionId).sort()).toEqual([...FURNISHERS, LENDER].sort());

    const tampered = CreditReport.fromPartial(report);
    const victim = tampered.tradelines.find((t) => t.institutionId === "cfc-b")!;
    victim.amountPastDue = "9000";
    const bad = verifyReport(tampered, opts);
    expect(bad.ok).toBe(false);
    const failed = bad.tradelines.filter((t) => !t.verified);
    expect(failed.map((t) => [t.institutionId, t.accountRef])).toEqual([["cfc-b", victim.accountRef]]);
    expect(failed[0]!.reason).toContain("amount_past_due");
    expect(bad.failures.some((f) => f.startsWith(`tradeline cfc-b/${victim.accountRef}:`))).toBe(true);
  });

  it("a borrower nobody knows: every holder answers NO_DATA", async () => {
    const empty = await consentAndReport(net.node(LENDER), STRANGER);
    expect(empty.subjectToken).not.toBe(report.subjectToken);
    expect(statuses(empty.holders)).toEqual({ "bank-a": "NO_DATA", "bank-d": "NO_DATA", "cfc-b": "NO_DATA", "ecom-c": "NO_DATA" });
    expect(empty.tradelines).toEqual([]);
    expect(empty.summary).toMatchObject({ accounts: 0, institutions: 0, totalBalance: "0" });
    expect(verifyReport(empty, { memberPublicKey: net.memberPublicKey, verify: verifySignature }).ok).toBe(true);
  });
});
