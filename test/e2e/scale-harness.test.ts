import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, Purpose, type SubjectId } from "../../src/gen/creditmesh/v1/common.js";
import type { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import { generateBorrowers, generatePortfolios, type PortfolioBorrower } from "../../src/synthetic/index.js";
import { ScaleNetwork } from "../../src/testnet/scale-network.js";
import type { NodeClient } from "../../src/testnet/node-client.js";
import { eventually } from "../helpers/eventually.js";

const MEMBERS = 12;
const PROCESSES = 3;
const DAY_MS = 86_400_000;

async function report(client: NodeClient, subject: SubjectId): Promise<CreditReport> {
  const now = Date.now();
  const consent = await client.unary("grantConsent", {
    subject,
    purpose: Purpose.LOAN_ORIGINATION,
    validFrom: new Date(now - 60_000),
    validUntil: new Date(now + DAY_MS),
    evidenceRef: `scale-e2e-${now}-${Math.random()}`,
  });
  return client.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: "", deadlineMs: 10_000 });
}

describe(`scale harness: ${MEMBERS} members in ${PROCESSES} node host processes`, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "creditmesh-scale-e2e-"));
  let net: ScaleNetwork;
  let lender: NodeClient;
  let borrowers: PortfolioBorrower[];

  beforeAll(async () => {
    // Few kept connections, so that most of the network is reached by on-demand dials and gossip relays.
    net = await ScaleNetwork.create({ dir, members: MEMBERS, processes: PROCESSES, config: { p2p: { keepConnected: 3 }, filters: { deltaIntervalMs: 1_000 } } });
    await net.start();
    const data = generatePortfolios({ members: net.ids, borrowers: 40, seed: "scale-e2e" });
    borrowers = data.borrowers;
    for (const [id, records] of data.records) {
      if (records.length > 0) expect(await net.client(id).submitRecords(records)).toBe(records.length);
    }
    lender = net.client(net.ids[0]!);
    // Ready once a report about a never-seen subject skips every other member.
    const strangers = generateBorrowers("scale-e2e-strangers", 500);
    let k = 0;
    await eventually(
      "the lender routes by every member's filter",
      async () => {
        const s = strangers[k++]!;
        const r = await report(lender, { idType: IdType.CN_RESIDENT_ID, idNumber: s.idNumber, name: s.name, phone: "" });
        return r.holders.filter((h) => h.status === HolderStatus.SKIPPED).length === MEMBERS - 1 ? true : undefined;
      },
      180_000,
      1_000,
    );
  }, 400_000);

  afterAll(async () => {
    await net?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs every member as its own node across the host processes", () => {
    expect(net.hosts).toHaveLength(PROCESSES);
    expect(net.hosts.flatMap((h) => h.nodes.map((n) => n.institutionId)).sort()).toEqual([...net.ids].sort());
    expect(new Set(net.members.map((m) => m.address)).size).toBe(MEMBERS);
  });

  it("asks exactly the holders with data: their query counters move by one, every other member's stays", async () => {
    // Borrowers with data at other members than the lender: 1–5 holders each.
    const sample = borrowers.filter((b) => b.holders.some((h) => h !== net.ids[0])).slice(0, 6);
    expect(sample.length).toBeGreaterThan(0);
    for (const b of sample) {
      // The first report about a borrower may still find a filter delta in flight; routing must settle to the holders.
      await eventually("a report whose holders all answered", async () => {
        const r = await report(lender, b.subject);
        return r.complete && r.holders.filter((h) => h.status === HolderStatus.OK).length === b.holders.length ? true : undefined;
      }, 60_000, 500);
      const before = await net.queriesAnswered();
      const r = await report(lender, b.subject);
      const after = await net.queriesAnswered();
      const holders = b.holders.filter((h) => h !== net.ids[0]).sort();
      const asked = net.ids.filter((id) => after.get(id)! !== before.get(id)!).sort();
      expect(asked).toEqual(holders);
      for (const id of holders) expect(after.get(id)! - before.get(id)!).toBe(1);
      expect(r.complete).toBe(true);
      const byStatus = (s: HolderStatus) => r.holders.filter((h) => h.status === s && h.institutionId !== net.ids[0]).map((h) => h.institutionId).sort();
      expect(byStatus(HolderStatus.OK)).toEqual(holders);
      expect(byStatus(HolderStatus.SKIPPED)).toEqual(net.ids.slice(1).filter((id) => !holders.includes(id)).sort());
      expect(r.tradelines).toHaveLength(b.holders.length);
    }
  });
});
