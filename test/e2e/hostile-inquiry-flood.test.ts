import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, ProductType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { account, residentId } from "../helpers/records.js";

/**
 * One lender floods a borrower with 10,000 reports, with child processes:
 * bank-a (the flooder) and ecom-c lend and furnish, cfc-b furnishes, bank-d
 * lends with a larger quota of its own than the holders give it. The borrower
 * has an account at each furnisher. Every node but bank-d allows 3 queries per
 * member and subject a day.
 *
 * - bank-a's own node refuses it with RESOURCE_EXHAUSTED past its quota,
 *   before asking any holder (their answered-query counts do not move);
 * - ecom-c's report afterwards is complete, OK from every holder;
 * - bank-d, whose own quota is larger, is refused with RESOURCE_EXHAUSTED
 *   (not a report of DENIED holders) once the holders refuse it;
 * - the counts survive a restart, at the lender (its gate) and at a holder.
 */

const QUOTA = 3;
const FLOOD = 10_000;
/** Reports in flight at once during the flood: the test measures no time, this only keeps the run short. */
const FLOOD_CONCURRENCY = 16;
const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19900512", 331, "320106"), name: "王芳", phone: "13700003333" };
const HOLDERS = ["bank-a", "cfc-b", "ecom-c"];

describe("an inquiry flood by one lender does not reach other lenders' reports", () => {
  const roles: Role[][] = [[Role.LENDER, Role.FURNISHER], [Role.FURNISHER], [Role.LENDER, Role.FURNISHER], [Role.LENDER]];
  const net = new TestNetwork({
    nodes: 4,
    metrics: true,
    roles: (i) => roles[i]!,
    config: (i) => ({ p2p: { subjectQueriesPerDay: i === 3 ? 10 : QUOTA } }),
  });
  const consents = new Map<string, Consent>();

  const grant = async (lender: string): Promise<Consent> => {
    const consent = await net.client(lender).unary("grantConsent", {
      subject: BORROWER,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 30 * DAY_MS),
      evidenceRef: `sha256:authorization-${lender}-${Date.now()}`,
    });
    consents.set(lender, consent);
    return consent;
  };
  /** The report, or the gRPC status code it was refused with. */
  const report = async (lender: string): Promise<{ code: number; report?: any; message?: string }> => {
    try {
      const r = await net.client(lender).unary("getCreditReport", {
        subject: BORROWER,
        purpose: Purpose.LOAN_ORIGINATION,
        consentId: consents.get(lender)!.consentId,
        asOf: AS_OF,
        deadlineMs: 10_000,
      });
      return { code: GrpcStatus.OK, report: r };
    } catch (err) {
      const e = err as { code?: number; details?: string; message?: string };
      if (typeof e.code !== "number") throw err;
      return { code: e.code, message: e.details ?? e.message };
    }
  };
  const statuses = (r: any): Record<string, string> =>
    Object.fromEntries((r.holders as { institutionId: string; status: number }[]).map((h) => [h.institutionId, HolderStatus[h.status]!]));
  const answered = async (holder: string): Promise<number> => {
    let sum = 0;
    for (const s of ["OK", "NO_DATA", "DENIED", "BUSY"]) sum += await net.metric(holder, "creditmesh_queries_answered_total", { status: s });
    return sum;
  };

  beforeAll(async () => {
    await net.start();
    await net.waitConnected();
    for (const holder of HOLDERS) {
      const acks = await net.client(holder).submit([
        {
          records: [
            account({ idNumber: BORROWER.idNumber, name: BORROWER.name, accountId: `ACC-${holder}-1`, productType: ProductType.CASH_LOAN, openedOn: "2025-01-10", creditLimit: "200000", termMonths: 6 }),
          ],
        },
      ]);
      expect(acks[0]!.accepted).toBe(1);
    }
    for (const lender of ["bank-a", "ecom-c", "bank-d"]) await grant(lender);
  }, 240_000);

  afterAll(async () => {
    await net.stop();
  });

  it(`the flooding lender gets ${QUOTA} complete reports, then RESOURCE_EXHAUSTED at its own node for the rest of ${FLOOD}; no holder is asked past the quota`, async () => {
    for (let i = 0; i < QUOTA; i++) {
      const r = await report("bank-a");
      expect(r.code).toBe(GrpcStatus.OK);
      expect(r.report.complete).toBe(true);
    }
    const before = await Promise.all(["cfc-b", "ecom-c"].map(answered));
    const codes = new Map<number, number>();
    let next = QUOTA;
    const worker = async (): Promise<void> => {
      while (next < FLOOD) {
        next++;
        const r = await report("bank-a");
        codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
        if (r.code === GrpcStatus.RESOURCE_EXHAUSTED) expect(r.message).toMatch(/query quota for this subject exceeded.*subjectQueriesPerDay/);
      }
    };
    await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, worker));
    expect(Object.fromEntries(codes)).toEqual({ [GrpcStatus.RESOURCE_EXHAUSTED]: FLOOD - QUOTA });
    expect(await Promise.all(["cfc-b", "ecom-c"].map(answered))).toEqual(before);
    expect(await net.metric("bank-a", "creditmesh_reports_over_quota_total", { refused_by: "self" })).toBe(FLOOD - QUOTA);
  }, 600_000);

  it("another lender's report for that borrower is complete, OK from every holder, its inquiries bounded", async () => {
    const r = await report("ecom-c");
    expect(r.code).toBe(GrpcStatus.OK);
    expect(r.report.complete).toBe(true);
    expect(statuses(r.report)).toEqual({ "bank-a": "OK", "cfc-b": "OK", "ecom-c": "OK" });
    expect(r.report.tradelines).toHaveLength(3);
    // The flood shows as one inquiry per lender, purpose and day, whatever its size.
    expect(r.report.inquiries.length).toBeLessThanOrEqual(2 * HOLDERS.length);
  });

  it("a lender whose own quota is larger is refused with RESOURCE_EXHAUSTED, naming the holders, once they refuse it", async () => {
    for (let i = 0; i < QUOTA; i++) expect((await report("bank-d")).code).toBe(GrpcStatus.OK);
    const refused = await report("bank-d");
    expect(refused.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(refused.message).toMatch(/refused by .*cfc-b/);
    expect(await net.metric("bank-d", "creditmesh_reports_over_quota_total", { refused_by: "holders" })).toBe(1);
  });

  it("the counts survive a restart: the lender's node still refuses before asking anyone, and a holder still refuses", async () => {
    await net.stopNode("bank-a");
    await net.stopNode("cfc-b");
    await net.startNode("bank-a");
    await net.startNode("cfc-b");
    await net.waitConnected();

    const before = await Promise.all(["cfc-b", "ecom-c"].map(answered));
    expect((await report("bank-a")).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(await net.metric("bank-a", "creditmesh_reports_over_quota_total", { refused_by: "self" })).toBe(1);
    expect(await Promise.all(["cfc-b", "ecom-c"].map(answered))).toEqual(before);

    expect((await report("bank-d")).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(await net.metric("cfc-b", "creditmesh_queries_over_quota_total", { member: "bank-d" })).toBe(1);
  }, 240_000);
});
