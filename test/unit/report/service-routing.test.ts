import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { BinaryFuse16 } from "../../../src/filters/binary-fuse.js";
import { HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import { HolderAnswer } from "../../../src/gen/creditmesh/v1/report.js";
import { silentLogger } from "../../../src/logger.js";
import { createMetrics } from "../../../src/metrics.js";
import type { HolderResult } from "../../../src/report/assemble.js";
import { FilterRouter } from "../../../src/report/filter-router.js";
import type { HolderService } from "../../../src/report/holder.js";
import type { MemberFilterView } from "../../../src/report/routing.js";
import { ReportService, type Holders } from "../../../src/report/service.js";
import { verifyReport } from "../../../src/report/verify.js";

const TOKEN = "ab".repeat(32);
const OTHER = "cd".repeat(32);
const clock = new ManualClock("2026-03-01T12:00:00Z");

function answerOf(requestId: string, institutionId: string, status: HolderStatus): HolderAnswer {
  return HolderAnswer.fromPartial({ requestId, holderInstitutionId: institutionId, subjectToken: TOKEN, status });
}

/** Members whose filters hold `holds[id]`; bank-z published none. */
function setup(holds: Record<string, string[]>, answers: Record<string, HolderStatus> = {}) {
  const asked: (readonly string[] | undefined)[] = [];
  const holders: Holders = {
    targets: () => ["bank-b", "bank-c", "bank-d", "bank-z"],
    ask: async (query, _signal, targets) => {
      asked.push(targets);
      return (targets ?? []).map(
        (id): HolderResult => ({
          outcome: { institutionId: id, status: answers[id] ?? HolderStatus.NO_DATA, reason: "", latencyMs: 1, tradelines: 0, peerId: `p-${id}`, signedAnswer: Buffer.alloc(0), signature: Buffer.alloc(0) },
          answer: answerOf(query.requestId, id, answers[id] ?? HolderStatus.NO_DATA),
        }),
      );
    },
  };
  const views = new Map<string, MemberFilterView>(
    Object.entries(holds).map(([id, tokens]) => [id, { institutionId: id, epoch: 7, filters: [BinaryFuse16.build(tokens)], deltaHead: 2, lastHeardAt: clock.now() }]),
  );
  const metrics = createMetrics({ processMetrics: false });
  const router = new FilterRouter({ maxSilenceMs: 90_000 }, { book: { view: (id) => views.get(id) ?? { institutionId: id, filters: [], deltaHead: 0, failOpen: "NO_ANNOUNCEMENT" } }, clock, metrics });
  const holder = {
    answer: async (query: { requestId: string }) => {
      const answer = answerOf(query.requestId, "bank-a", HolderStatus.NO_DATA);
      return { answer, signedAnswer: HolderAnswer.encode(answer).finish(), signature: new Uint8Array(64) };
    },
  } as unknown as HolderService;
  const service = new ReportService(
    { institutionId: "bank-a", peerId: "peer-a", defaultDeadlineMs: 60_000, maxDeadlineMs: 120_000 },
    {
      consents: { requireForQuery: async (consentId) => ({ consentId, subjectToken: TOKEN }) as Consent },
      holder,
      holders,
      router,
      memberNames: () => new Map([["bank-a", "Bank A"]]),
      clock,
      logger: silentLogger(),
    },
  );
  const generate = () => service.generate({ subjectToken: TOKEN, purpose: Purpose.LOAN_ORIGINATION, consentId: "c-1", asOf: "2026-03-01" });
  return { asked, generate, router, metrics };
}

describe("ReportService routing by published filters", () => {
  it("asks only the members whose filters match, and those without a filter; lists the rest as SKIPPED with the epoch", async () => {
    const { asked, generate } = setup({ "bank-b": [TOKEN], "bank-c": [OTHER], "bank-d": [OTHER, "ef".repeat(32)] });
    const report = await generate();
    expect(asked).toEqual([["bank-b", "bank-z"]]);
    const byId = new Map(report.holders.map((h) => [h.institutionId, h]));
    expect(byId.get("bank-c")?.status).toBe(HolderStatus.SKIPPED);
    expect(byId.get("bank-c")?.reason).toContain("epoch 7");
    expect(byId.get("bank-d")?.status).toBe(HolderStatus.SKIPPED);
    expect(byId.get("bank-b")?.status).toBe(HolderStatus.NO_DATA);
    expect(byId.get("bank-z")?.status).toBe(HolderStatus.NO_DATA);
    expect(report.complete).toBe(true);
  });

  it("a report with SKIPPED members verifies: nothing signed is expected of them", async () => {
    const { generate } = setup({ "bank-b": [OTHER], "bank-c": [OTHER], "bank-d": [OTHER] });
    const report = await generate();
    const result = verifyReport(report, { memberPublicKey: () => undefined, verify: () => false });
    const skipped = result.holders.filter((h) => h.status === "SKIPPED");
    expect(skipped.map((h) => h.institutionId)).toEqual(["bank-b", "bank-c", "bank-d"]);
    expect(skipped.every((h) => h.state === "UNSIGNED")).toBe(true);
    expect(result.failures.filter((f) => /bank-[bcd]/.test(f))).toEqual([]);
  });

  it("a SKIPPED outcome that carries a signed answer fails verification", async () => {
    const { generate } = setup({ "bank-b": [OTHER], "bank-c": [OTHER], "bank-d": [OTHER] });
    const report = await generate();
    const forged = { ...report, holders: report.holders.map((h) => (h.institutionId === "bank-c" ? { ...h, signedAnswer: Buffer.from([1]), signature: Buffer.from([2]) } : h)) };
    const result = verifyReport(forged, { memberPublicKey: () => undefined, verify: () => false });
    expect(result.failures.some((f) => f.startsWith("holder bank-c"))).toBe(true);
  });

  it("counts a member whose filter claimed the subject but which held nothing, per member", async () => {
    const { generate, router, metrics } = setup({ "bank-b": [TOKEN], "bank-c": [OTHER], "bank-d": [OTHER] });
    await generate();
    expect(router.consistency.total("bank-b").claimedNoData).toBe(1);
    expect(router.consistency.total("bank-c").claimedNoData).toBe(0);
    const text = await metrics.registry.metrics();
    expect(text).toContain('creditmesh_filter_mismatch_total{institution="bank-b",kind="claimed_no_data"} 1');
    expect(text).toContain('creditmesh_holders_skipped_total{holder="bank-c"} 1');
  });
});
