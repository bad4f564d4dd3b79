import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, ProductType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { CreditReport, HolderOutcome } from "../../src/gen/creditmesh/v1/report.js";
import { isAlive } from "../../src/testnet/processes.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { account, residentId } from "../helpers/records.js";

const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const daysAgo = (n: number): string => new Date(Date.parse(AS_OF) - n * DAY_MS).toISOString().slice(0, 10);
const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19930815", 57, "110105"), name: "陈晨", phone: "" };
const DEADLINE_MS = 1_500;

const statusOf = (report: CreditReport, id: string): string => HolderStatus[report.holders.find((h: HolderOutcome) => h.institutionId === id)?.status ?? 0];
const refsBy = (report: CreditReport): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  for (const t of report.tradelines) (out[t.institutionId] ??= []).push(t.accountRef);
  return out;
};

describe("five nodes: one killed, one frozen", () => {
  const net = new TestNetwork({ nodes: 5 });
  let consentId = "";
  let baseline: CreditReport;
  const ids = (): string[] => net.nodes.map((n) => n.institutionId);

  const report = (): Promise<CreditReport> =>
    net.nodes[0]!.client.unary(
      "getCreditReport",
      { subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION, consentId, asOf: AS_OF, deadlineMs: DEADLINE_MS },
      DEADLINE_MS + 10_000,
    );

  beforeAll(async () => {
    await net.start();
    await Promise.all(
      net.nodes.map(async (n, i) => {
        const record = account({ idNumber: SUBJECT.idNumber, name: SUBJECT.name, accountId: `${n.institutionId}-ACC-${i}`, productType: ProductType.CASH_LOAN, openedOn: daysAgo(30 + 10 * i), creditLimit: String(100_000 * (i + 1)), termMonths: 6 });
        const [ack] = await n.client.submit([{ records: [record] }]);
        expect(ack).toMatchObject({ accepted: 1, rejected: [] });
      }),
    );
    const now = Date.now();
    const consent = await net.nodes[0]!.client.unary("grantConsent", {
      subject: SUBJECT,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(now - 60_000),
      validUntil: new Date(now + DAY_MS),
      evidenceRef: `signed-authorization-${now}`,
    });
    consentId = consent.consentId;
    baseline = await report();
  });

  afterAll(async () => {
    // stop() resumes a frozen node before stopping it, and SIGKILLs what does not stop.
    await net.stop();
  });

  it("with everyone up, every node's tradeline is in the report", () => {
    // Holders are listed in institution id order.
    expect(baseline.holders.map((h) => [h.institutionId, HolderStatus[h.status]])).toEqual([...ids()].sort().map((id) => [id, "OK"]));
    expect(Object.keys(refsBy(baseline)).sort()).toEqual([...ids()].sort());
    expect(Object.values(refsBy(baseline)).every((r) => r.length === 1)).toBe(true);
  });

  it("returns within the deadline with the survivors' data; the dead node is UNREACHABLE, the frozen one TIMEOUT; it recovers after SIGCONT", async () => {
    const [killed, frozen] = [net.nodes[3]!, net.nodes[4]!];
    process.kill(killed.pid, "SIGKILL");
    while (isAlive(killed.pid)) await new Promise((r) => setTimeout(r, 20));
    process.kill(frozen.pid, "SIGSTOP");

    // "Never hangs" is shown by the outcome, not by a stopwatch: the frozen holder is cut off as TIMEOUT
    // by the report's own deadline (a report waiting on it would end in the call's DEADLINE_EXCEEDED instead).
    const degraded = await report();

    const [a, b, c] = ids();
    expect(Object.fromEntries(degraded.holders.map((h) => [h.institutionId, HolderStatus[h.status]]))).toEqual({
      [a!]: "OK",
      [b!]: "OK",
      [c!]: "OK",
      [killed.institutionId]: "UNREACHABLE",
      [frozen.institutionId]: "TIMEOUT",
    });
    const before = refsBy(baseline);
    expect(refsBy(degraded)).toEqual({ [a!]: before[a!], [b!]: before[b!], [c!]: before[c!] });
    expect(degraded.summary).toMatchObject({ accounts: 3, institutions: 3 });
    for (const id of [killed.institutionId, frozen.institutionId]) {
      const h = degraded.holders.find((x) => x.institutionId === id)!;
      expect([h.tradelines, h.signedAnswer.length], id).toEqual([0, 0]);
    }

    process.kill(frozen.pid, "SIGCONT");
    // The frozen node may have lost its connection meanwhile; give it a few seconds to come back.
    let recovered: CreditReport | undefined;
    const seen: string[] = [];
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const r = await report();
      seen.push(statusOf(r, frozen.institutionId));
      if (statusOf(r, frozen.institutionId) === "OK") {
        recovered = r;
        break;
      }
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(recovered, `frozen node after SIGCONT: ${seen.join(", ")}\n${net.logTail(frozen.institutionId)}`).toBeDefined();
    expect(statusOf(recovered!, killed.institutionId)).toBe("UNREACHABLE");
    expect(refsBy(recovered!)).toEqual({ [a!]: before[a!], [b!]: before[b!], [c!]: before[c!], [frozen.institutionId]: before[frozen.institutionId] });
  });
});
