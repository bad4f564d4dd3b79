import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, ProductType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { account, residentId } from "../helpers/records.js";

/**
 * 600 reports at once from one lender, with child processes: bank-a lends,
 * cfc-b and ecom-c hold the borrowers' accounts (100 each, so every answer
 * is ~20 KB and 600 of them are more than one stream buffers). The lender
 * sends each holder at most 32 queries at once (p2p.maxInFlightPerHolder)
 * and reports BUSY for a query still waiting at the deadline; a holder
 * answers a query beyond the 8 it takes at once (p2p.maxConcurrentQueries)
 * with a signed BUSY. No live holder is ever UNREACHABLE or TIMEOUT, and
 * every report comes back.
 */

const REPORTS = 600;
const BORROWERS = 20;
/** Accounts per borrower at each holder: answers of ~20 KB, so that 600 of them at once are more than a stream buffers. */
const ACCOUNTS = 100;
const IN_FLIGHT = 32;
const HOLDER_CAPACITY = 8;
const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const borrower = (i: number) => ({ idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19850101", 100 + i, "110105"), name: "李娜", phone: "13900001111" });

describe("600 concurrent reports from one lender", () => {
  const roles: Role[][] = [[Role.LENDER], [Role.FURNISHER], [Role.FURNISHER]];
  const net = new TestNetwork({
    nodes: 3,
    metrics: true,
    roles: (i) => roles[i]!,
    // The flood here is concurrency, not repetition: the per-subject quota is not what is tested. The holders take
    // fewer queries at once than the lender sends each of them, so both limits act.
    config: () => ({ p2p: { subjectQueriesPerDay: 0, maxInFlightPerHolder: IN_FLIGHT, maxConcurrentQueries: HOLDER_CAPACITY } }),
  });
  const consents: Consent[] = [];

  beforeAll(async () => {
    await net.start();
    await net.waitConnected();
    for (const holder of ["cfc-b", "ecom-c"]) {
      const records = Array.from({ length: BORROWERS * ACCOUNTS }, (_, n) => {
        const i = n % BORROWERS;
        return account({ idNumber: borrower(i).idNumber, name: borrower(i).name, accountId: `ACC-${holder}-${n}`, productType: ProductType.CASH_LOAN, openedOn: "2025-01-10", creditLimit: "200000", termMonths: 6 });
      });
      const acks = await net.client(holder).submit([{ records }]);
      expect(acks[0]!.accepted).toBe(BORROWERS * ACCOUNTS);
    }
    for (let i = 0; i < BORROWERS; i++) {
      consents.push(
        await net.client("bank-a").unary("grantConsent", {
          subject: borrower(i),
          purpose: Purpose.LOAN_ORIGINATION,
          validFrom: new Date(Date.now() - 60_000),
          validUntil: new Date(Date.now() + 30 * DAY_MS),
          evidenceRef: `sha256:authorization-${i}`,
        }),
      );
    }
  }, 240_000);

  afterAll(async () => {
    await net.stop();
  });

  it("no live holder is UNREACHABLE or TIMEOUT; every report returns, complete or with its holders BUSY", async () => {
    const client = net.client("bank-a");
    const reports = await Promise.all(
      Array.from({ length: REPORTS }, (_, i) =>
        client.unary(
          "getCreditReport",
          { subject: borrower(i % BORROWERS), purpose: Purpose.LOAN_ORIGINATION, consentId: consents[i % BORROWERS]!.consentId, asOf: AS_OF, deadlineMs: 5_000 },
          120_000,
        ),
      ),
    );
    expect(reports).toHaveLength(REPORTS);
    const seen = new Map<string, number>();
    const reasons = new Set<string>();
    for (const r of reports) {
      for (const h of r.holders as { institutionId: string; status: number; reason: string }[]) {
        const key = `${h.institutionId}:${HolderStatus[h.status]}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (!["OK", "NO_DATA"].includes(HolderStatus[h.status]!)) reasons.add(`${key} ${h.reason}`);
      }
    }
    const summary = JSON.stringify({ seen: Object.fromEntries(seen), reasons: [...reasons] });
    const statuses = [...seen.keys()].map((k) => k.split(":")[1]);
    expect(statuses.filter((s) => !["OK", "NO_DATA", "BUSY"].includes(s!)), summary).toEqual([]);
    for (const r of reports) {
      const busy = (r.holders as { status: number }[]).some((h) => h.status === HolderStatus.BUSY);
      expect(r.complete).toBe(!busy);
    }
    // Both limits acted: queries waited at the lender, and holders said BUSY.
    expect(await net.metric("bank-a", "creditmesh_queries_queued_total", { holder: "cfc-b", result: "sent" }), summary).toBeGreaterThan(0);
    const holderBusy = (await net.metric("cfc-b", "creditmesh_queries_busy_total", { member: "bank-a" })) + (await net.metric("ecom-c", "creditmesh_queries_busy_total", { member: "bank-a" }));
    expect(holderBusy, summary).toBeGreaterThan(0);
  }, 300_000);
});
