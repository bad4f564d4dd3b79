import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, ProductType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { GetNodeStatusResponse } from "../../src/gen/creditmesh/v1/node.js";
import type { CreditReport, HolderOutcome } from "../../src/gen/creditmesh/v1/report.js";
import { TestNetwork, type TestNode } from "../../src/testnet/network.js";
import { eventually } from "../helpers/eventually.js";
import { account, residentId } from "../helpers/records.js";

const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const daysAgo = (n: number): string => new Date(Date.parse(AS_OF) - n * DAY_MS).toISOString().slice(0, 10);
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19880512", 321, "440305"), name: "李娜", phone: "" };
/** A new subject per readiness probe, so no probe's inquiries put it in anyone's filter beforehand. */
const stranger = (k: number) => ({ idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19770203", 100 + k, "310104"), name: "王强", phone: "" });

const NODES = 8;
/** Institution ids in node order, as the test network names them. */
let ids: string[] = [];
// Index → role in the scenario.
const [HOLDER_A, HOLDER_B, LENDER, LATE, PRIVATE_LENDER, , , WITHHELD] = [0, 1, 2, 3, 4, 5, 6, 7];
/** PRIVATE_LENDER stops asking a member without a usable filter after this long (filters.failOpenLimitMs). */
const FAIL_OPEN_LIMIT_MS = 3_000;

async function report(node: TestNode, subject: typeof BORROWER): Promise<CreditReport> {
  const now = Date.now();
  const consent = await node.client.unary("grantConsent", {
    subject,
    purpose: Purpose.LOAN_ORIGINATION,
    validFrom: new Date(now - 60_000),
    validUntil: new Date(now + DAY_MS),
    evidenceRef: `auth-${node.institutionId}-${now}-${Math.random()}`,
  });
  return node.client.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: AS_OF, deadlineMs: 10_000 });
}

const statuses = (holders: HolderOutcome[]) => Object.fromEntries(holders.map((h) => [h.institutionId, HolderStatus[h.status]]));

describe(`holder filters, ${NODES} nodes as child processes`, () => {
  const net = new TestNetwork({
    nodes: NODES,
    metrics: true,
    startTimeoutMs: 120_000,
    connectTimeoutMs: 120_000,
    // Short delta interval so a new account reaches routing quickly; the withheld member publishes nothing.
    config: (i) => ({
      filters:
        i === WITHHELD
          ? { enabled: false }
          : { enabled: true, deltaIntervalMs: 1_000, silenceIntervals: 20, ...(i === PRIVATE_LENDER ? { failOpenLimitMs: FAIL_OPEN_LIMIT_MS } : {}) },
    }),
  });
  const node = (i: number) => net.node(ids[i]!);
  const queriesAnswered = async (i: number) => {
    let total = 0;
    for (const status of ["OK", "NO_DATA", "DENIED"]) total += await net.metric(ids[i]!, "creditmesh_queries_answered_total", { status });
    return total;
  };

  beforeAll(async () => {
    await net.start();
    ids = net.nodes.map((n) => n.institutionId);
    for (const [i, accountId] of [[HOLDER_A, "A-LOAN-1"], [HOLDER_B, "B-CASH-2"]] as const) {
      const acks = await node(i).client.submit([
        { records: [account({ idNumber: BORROWER.idNumber, name: BORROWER.name, accountId, productType: ProductType.CASH_LOAN, openedOn: daysAgo(40), creditLimit: "500000", termMonths: 6 })] },
      ]);
      expect(acks[0]?.rejected).toEqual([]);
    }
    // Ready once a report about a never-seen subject skips every member that publishes a filter.
    let k = 0;
    await eventually(
      "the lender routes by every published filter",
      async () => {
        const r = await report(node(LENDER), stranger(k++));
        const skipped = r.holders.filter((h) => h.status === HolderStatus.SKIPPED).length;
        return skipped === NODES - 2 ? true : undefined;
      },
      120_000,
      1_000,
    );
  }, 300_000);
  afterAll(() => net.stop());

  it("asks exactly the members holding the borrower (and the one without a filter), lists the rest as SKIPPED", async () => {
    const others = [LATE, 4, 5, 6];
    const before = await Promise.all(others.map(queriesAnswered));
    const r = await eventually("a report that found both holders' tradelines", async () => {
      const got = await report(node(LENDER), BORROWER);
      return got.tradelines.length === 2 ? got : undefined;
    }, 30_000, 1_000);
    const s = statuses(r.holders);
    expect(s[ids[HOLDER_A]!]).toBe("OK");
    expect(s[ids[HOLDER_B]!]).toBe("OK");
    expect(s[ids[WITHHELD]!]).toBe("NO_DATA");
    for (const i of others) {
      expect(s[ids[i]!]).toBe("SKIPPED");
      expect(r.holders.find((h) => h.institutionId === ids[i])?.reason).toMatch(/^not in filter epoch \d+/);
    }
    expect(r.complete).toBe(true);
    expect(await Promise.all(others.map(queriesAnswered))).toEqual(before);
  }, 120_000);

  it("the lender's node status shows each member's filter as its reports route by it", async () => {
    const status: GetNodeStatusResponse = await node(LENDER).client.unary("getNodeStatus", {});
    const filterOf = (i: number) => status.members.find((m) => m.institutionId === ids[i])?.filter;
    expect(filterOf(LENDER)).toBeUndefined();
    expect(filterOf(WITHHELD)).toMatchObject({ epoch: "0", failOpen: "NO_ANNOUNCEMENT", skippedPastLimit: false });
    for (const i of [HOLDER_A, HOLDER_B, LATE, 4, 5, 6]) {
      const f = filterOf(i);
      expect(f?.failOpen, ids[i]).toBe("");
      expect(Number(f?.epoch), ids[i]).toBeGreaterThanOrEqual(1);
      expect(f?.lastHeardAt, ids[i]).toBeInstanceOf(Date);
    }
    // The holders' answers so far matched their filters: both were asked for the borrower their filters claim, and held it.
    for (const i of [HOLDER_A, HOLDER_B]) {
      const c = filterOf(i)?.consistency;
      expect(Number(c?.claimed), ids[i]).toBeGreaterThanOrEqual(1);
      expect(c, ids[i]).toMatchObject({ claimedNoData: "0", deniedWithData: "0", inflated: false, hiding: false });
    }
    // What a holder publishes, as the lender sees it; the member with filters off publishes nothing.
    const holderStatus: GetNodeStatusResponse = await node(HOLDER_A).client.unary("getNodeStatus", {});
    expect(holderStatus.publishedFilter?.epoch).toBe(status.members.find((m) => m.institutionId === ids[HOLDER_A])?.filter?.epoch);
    expect(Number(holderStatus.publishedFilter?.count)).toBeGreaterThanOrEqual(1);
    expect(Number(holderStatus.publishedFilter?.filterBytes)).toBeGreaterThan(0);
    const withheldStatus: GetNodeStatusResponse = await node(WITHHELD).client.unary("getNodeStatus", {});
    expect(withheldStatus.publishedFilter).toBeUndefined();
  }, 30_000);

  it("a new account at a fourth member appears in a report after the delta interval", async () => {
    const acks = await node(LATE).client.submit([
      { records: [account({ idNumber: BORROWER.idNumber, name: BORROWER.name, accountId: "L-REV-3", productType: ProductType.REVOLVING_LINE, openedOn: daysAgo(3), creditLimit: "200000", termMonths: 0 })] },
    ]);
    expect(acks[0]?.rejected).toEqual([]);
    const r = await eventually("the fourth member's tradeline in a report", async () => {
      const got = await report(node(LENDER), BORROWER);
      return got.tradelines.some((t) => t.institutionId === ids[LATE]) ? got : undefined;
    }, 60_000, 1_000);
    expect(statuses(r.holders)[ids[LATE]!]).toBe("OK");
    expect(r.tradelines.map((t) => t.institutionId).sort()).toEqual([ids[HOLDER_A], ids[HOLDER_B], ids[LATE]].sort());
  }, 120_000);

  it("a lender with filters.failOpenLimitMs asks the member without a filter at first, then skips it, naming why, while it keeps withholding", async () => {
    const first = await report(node(PRIVATE_LENDER), BORROWER);
    expect(statuses(first.holders)[ids[WITHHELD]!]).toBe("NO_DATA");
    const skipped = await eventually("a report that skips the member without a filter", async () => {
      const got = await report(node(PRIVATE_LENDER), BORROWER);
      return statuses(got.holders)[ids[WITHHELD]!] === "SKIPPED" ? got : undefined;
    }, 30_000, 1_000);
    expect(skipped.holders.find((h) => h.institutionId === ids[WITHHELD])?.reason).toMatch(/^not asked: no usable filter \(NO_ANNOUNCEMENT\) for \d+ s, past filters\.failOpenLimitMs; may hold data$/);
    expect(statuses(skipped.holders)[ids[HOLDER_A]!]).toBe("OK");
    // From then on it hears nothing of this lender's reports.
    const before = await queriesAnswered(WITHHELD);
    const again = await report(node(PRIVATE_LENDER), BORROWER);
    expect(statuses(again.holders)[ids[WITHHELD]!]).toBe("SKIPPED");
    expect(await queriesAnswered(WITHHELD)).toBe(before);
    // Its status says so, and since when.
    const privateStatus: GetNodeStatusResponse = await node(PRIVATE_LENDER).client.unary("getNodeStatus", {});
    const withheld = privateStatus.members.find((m) => m.institutionId === ids[WITHHELD])?.filter;
    expect(withheld).toMatchObject({ failOpen: "NO_ANNOUNCEMENT", skippedPastLimit: true });
    expect(withheld?.failingOpenSince?.getTime()).toBeLessThan(Date.now() - FAIL_OPEN_LIMIT_MS);
    // Another lender, without the limit, still asks it.
    expect(statuses((await report(node(LENDER), BORROWER)).holders)[ids[WITHHELD]!]).toBe("NO_DATA");
  }, 120_000);
});
