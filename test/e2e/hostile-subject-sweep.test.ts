import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { residentId } from "../helpers/records.js";

/**
 * One lender sweeps ever new borrowers, with child processes: each query
 * about a subject the holder has never seen still costs it an inquiry, an
 * audit entry and a log leaf kept for years, and a member can make up tokens,
 * so the per-subject quota does not bound it. bank-a lends and furnishes,
 * cfc-b furnishes, ecom-c lends with a larger daily budget of its own than
 * the holders give it. Every node but ecom-c allows 5 queries per member a
 * day across subjects (p2p.memberQueriesPerDay).
 *
 * - bank-a's own node refuses its sixth borrower with RESOURCE_EXHAUSTED
 *   naming the setting, before asking any holder;
 * - ecom-c is refused with RESOURCE_EXHAUSTED naming the holders that refused
 *   it, which logged nothing for it;
 * - a holder's count survives its restart.
 */

const BUDGET = 5;
const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const borrower = (i: number) => ({ idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19880214", 100 + i, "440103"), name: "李明", phone: `1380000${String(1000 + i)}` });

describe("a lender sweeping many borrowers is held to its daily budget at every holder", () => {
  const roles: Role[][] = [[Role.LENDER, Role.FURNISHER], [Role.FURNISHER], [Role.LENDER]];
  const net = new TestNetwork({
    nodes: 3,
    metrics: true,
    roles: (i) => roles[i]!,
    config: (i) => ({ p2p: { memberQueriesPerDay: i === 2 ? 100 : BUDGET } }),
  });
  /** Consents by lender, one per borrower, in borrower order. */
  const consents = new Map<string, Consent[]>();

  const report = async (lender: string, i: number): Promise<{ code: number; message?: string }> => {
    try {
      await net.client(lender).unary("getCreditReport", {
        subject: borrower(i),
        purpose: Purpose.LOAN_ORIGINATION,
        consentId: consents.get(lender)![i]!.consentId,
        asOf: AS_OF,
        deadlineMs: 10_000,
      });
      return { code: GrpcStatus.OK };
    } catch (err) {
      const e = err as { code?: number; details?: string };
      if (typeof e.code !== "number") throw err;
      return { code: e.code, message: e.details };
    }
  };
  const answered = async (holder: string, status: string): Promise<number> => net.metric(holder, "creditmesh_queries_answered_total", { status });

  beforeAll(async () => {
    await net.start();
    await net.waitConnected();
    for (const lender of ["bank-a", "ecom-c"]) {
      const granted: Consent[] = [];
      for (let i = 0; i < BUDGET + 2; i++) {
        granted.push(
          await net.client(lender).unary("grantConsent", {
            subject: borrower(i),
            purpose: Purpose.LOAN_ORIGINATION,
            validFrom: new Date(Date.now() - 60_000),
            validUntil: new Date(Date.now() + 30 * DAY_MS),
            evidenceRef: `sha256:authorization-${lender}-${i}`,
          }),
        );
      }
      consents.set(lender, granted);
    }
  }, 240_000);

  afterAll(async () => {
    await net.stop();
  });

  it(`the sweeping lender's own node refuses its borrower number ${BUDGET + 1} before asking any holder`, async () => {
    for (let i = 0; i < BUDGET; i++) expect((await report("bank-a", i)).code).toBe(GrpcStatus.OK);
    const before = await answered("cfc-b", "NO_DATA");
    const refused = await report("bank-a", BUDGET);
    expect(refused.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(refused.message).toMatch(/daily query quota for this member exceeded: this institution has made 5 reports today \(p2p\.memberQueriesPerDay\)/);
    expect(await answered("cfc-b", "NO_DATA")).toBe(before);
    expect(await net.metric("bank-a", "creditmesh_reports_over_quota_total", { refused_by: "self" })).toBe(1);
  });

  it("a lender with a larger budget of its own is refused RESOURCE_EXHAUSTED naming the holders that refused it", async () => {
    for (let i = 0; i < BUDGET; i++) expect((await report("ecom-c", i)).code).toBe(GrpcStatus.OK);
    const refused = await report("ecom-c", BUDGET);
    expect(refused.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(refused.message).toMatch(/daily query quota for this member exceeded: refused by bank-a, cfc-b \(their p2p\.memberQueriesPerDay\)/);
    for (const holder of ["bank-a", "cfc-b"]) {
      expect(await net.metric(holder, "creditmesh_queries_over_quota_total", { member: "ecom-c", quota: "member" })).toBe(1);
      expect(await answered(holder, "DENIED")).toBe(1);
    }
  });

  it("a holder's count survives its restart", async () => {
    await net.stopNode("cfc-b");
    await net.startNode("cfc-b");
    await net.waitConnected();
    const refused = await report("ecom-c", BUDGET + 1);
    expect(refused.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(refused.message).toMatch(/refused by bank-a, cfc-b/);
    expect(await net.metric("cfc-b", "creditmesh_queries_over_quota_total", { member: "ecom-c", quota: "member" })).toBe(1);
    expect(await answered("cfc-b", "NO_DATA")).toBe(0);
  }, 240_000);
});
