import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { BinaryFuse16 } from "../../../src/filters/binary-fuse.js";
import { HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import { HolderAnswer } from "../../../src/gen/creditmesh/v1/report.js";
import { silentLogger, type Logger } from "../../../src/logger.js";
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
function setup(holds: Record<string, string[]>, answers: Record<string, HolderStatus> = {}, failOpenLimitMs?: number, logger?: Pick<Logger, "warn">) {
  const asked: (readonly string[] | undefined)[] = [];
  const holders: Holders = {
    targets: () => ["bank-b", "bank-c", "bank-d", "bank-z"],
    ask: async (query, _signal, targets) => {
      asked.push(targets);
      return (targets ?? []).map(
        (id): HolderResult => ({
          outcome: { institutionId: id, status: answers[id] ?? HolderStatus.NO_DATA, reason: "", latencyMs: 1, tradelines: 0, tradelinesTotal: 0, peerId: `p-${id}`, signedAnswer: Buffer.alloc(0), signature: Buffer.alloc(0) },
          answer: answerOf(query.requestId, id, answers[id] ?? HolderStatus.NO_DATA),
        }),
      );
    },
  };
  const views = new Map<string, MemberFilterView>(
    Object.entries(holds).map(([id, tokens]) => [id, { institutionId: id, epoch: 7, filters: [BinaryFuse16.build(tokens)], deltaHead: 2 }]),
  );
  const metrics = createMetrics({ processMetrics: false });
  // A member with a view was heard from just now, unless the view says when.
  const view = (id: string): MemberFilterView => {
    const v = views.get(id);
    return v ? { lastHeardAt: clock.now(), ...v } : { institutionId: id, filters: [], deltaHead: 0, failOpen: "NO_ANNOUNCEMENT" };
  };
  const router = new FilterRouter({ maxSilenceMs: 90_000, failOpenLimitMs }, { book: { view }, clock, metrics, logger });
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
  return { asked, generate, router, metrics, views };
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

  it("shows in a member's standing whether its answers match its filter, and warns once per epoch when they stop matching", async () => {
    const warnings: [object, string][] = [];
    // bank-b's filter claims the subject; it answers NO_DATA every time (an inflated filter).
    const { generate, router, views } = setup({ "bank-b": [TOKEN], "bank-c": [OTHER] }, {}, undefined, { warn: ((obj: object, msg: string) => void warnings.push([obj, msg])) as Logger["warn"] });
    expect(router.standing("bank-b").consistency).toBeUndefined();
    for (let i = 0; i < 5; i++) await generate();
    expect(router.standing("bank-b").consistency).toMatchObject({ epoch: 7, routed: 5, claimed: 5, claimedNoData: 5, inflated: false, hiding: false });
    expect(router.standing("bank-c").consistency).toMatchObject({ epoch: 7, routed: 5, claimed: 0, inflated: false });
    expect(warnings).toEqual([]);
    for (let i = 0; i < 3; i++) await generate();
    expect(router.standing("bank-b").consistency).toMatchObject({ claimedNoData: 8, inflated: true });
    expect(warnings).toEqual([[{ member: "bank-b", epoch: 7, routed: 6, claimedNoData: 6 }, "member's filter claims subjects it answers it does not hold"]]);
    // A new epoch starts the count again, and a warning with it once it is crossed again.
    views.set("bank-b", { ...views.get("bank-b")!, epoch: 8 });
    for (let i = 0; i < 6; i++) await generate();
    expect(router.standing("bank-b").consistency).toMatchObject({ epoch: 8, claimedNoData: 6, inflated: true });
    expect(warnings.map(([obj]) => (obj as { epoch: number }).epoch)).toEqual([7, 8]);
  });

  describe("with filters.failOpenLimitMs", () => {
    const LIMIT = 10 * 60_000;
    const statusOf = (report: Awaited<ReturnType<ReturnType<typeof setup>["generate"]>>, id: string) => report.holders.find((h) => h.institutionId === id);

    it("asks a member without a usable filter until it has been so for the limit, then skips it, naming why, and asks it again once its filter is usable", async () => {
      const { asked, generate, views, metrics } = setup({ "bank-b": [TOKEN], "bank-c": [OTHER], "bank-d": [OTHER] }, {}, LIMIT);
      await generate();
      clock.advance(LIMIT);
      const atLimit = await generate();
      expect(statusOf(atLimit, "bank-z")?.status).toBe(HolderStatus.NO_DATA);
      clock.advance(1);
      const past = await generate();
      expect(asked).toEqual([["bank-b", "bank-z"], ["bank-b", "bank-z"], ["bank-b"]]);
      expect(statusOf(past, "bank-z")).toMatchObject({ status: HolderStatus.SKIPPED, reason: "not asked: no usable filter (NO_ANNOUNCEMENT) for 10 min, past filters.failOpenLimitMs; may hold data" });
      // Skipped by this node's choice, like a filter's: the report is not incomplete, and the skip is counted.
      expect(past.complete).toBe(true);
      expect(await metrics.registry.metrics()).toContain('creditmesh_holders_skipped_total{holder="bank-z"} 1');
      // Its filter arrives and routes normally; should it fail again, the limit counts from then.
      views.set("bank-z", { institutionId: "bank-z", epoch: 1, filters: [BinaryFuse16.build([TOKEN])], deltaHead: 0 });
      await generate();
      views.delete("bank-z");
      await generate();
      expect(asked.slice(3)).toEqual([["bank-b", "bank-z"], ["bank-b", "bank-z"]]);
    });

    it("counts silence as no usable filter too, and leaves members whose filters match or exclude the subject as they are", async () => {
      const { asked, generate, views } = setup({ "bank-b": [TOKEN], "bank-c": [OTHER] }, {}, LIMIT);
      // bank-c's filter goes silent: asked (SILENT), then skipped once the limit has passed.
      views.set("bank-c", { ...views.get("bank-c")!, lastHeardAt: new Date(clock.now().getTime() - 100_000) });
      await generate();
      clock.advance(LIMIT + 1);
      const report = await generate();
      expect(asked).toEqual([["bank-b", "bank-c", "bank-d", "bank-z"], ["bank-b"]]);
      expect(statusOf(report, "bank-c")?.reason).toMatch(/no usable filter \(SILENT\)/);
    });

    it("says in a member's standing why it is asked anyway, since when, and once it is skipped for it", async () => {
      const { generate, router, views } = setup({ "bank-b": [TOKEN], "bank-c": [OTHER] }, {}, LIMIT);
      expect(router.standing("bank-b")).toEqual({ epoch: 7, deltaHead: 2, failOpen: undefined, lastHeardAt: clock.now(), failingOpenSince: undefined, skippedPastLimit: false });
      const start = clock.now();
      await generate();
      expect(router.standing("bank-z")).toMatchObject({ epoch: 0, failOpen: "NO_ANNOUNCEMENT", failingOpenSince: start, skippedPastLimit: false });
      clock.advance(LIMIT + 1);
      expect(router.standing("bank-z")).toMatchObject({ failOpen: "NO_ANNOUNCEMENT", failingOpenSince: start, skippedPastLimit: true });
      // A filter heard too long ago no longer routes: SILENT, as a report would treat it.
      views.set("bank-c", { ...views.get("bank-c")!, lastHeardAt: new Date(clock.now().getTime() - 100_000) });
      expect(router.standing("bank-c")).toMatchObject({ epoch: 7, failOpen: "SILENT", failingOpenSince: undefined, skippedPastLimit: false });
    });

    it("without the limit (the default) asks a member without a usable filter for as long as it lasts", async () => {
      const { asked, generate } = setup({ "bank-b": [TOKEN], "bank-c": [OTHER], "bank-d": [OTHER] });
      await generate();
      clock.advance(365 * 86_400_000);
      await generate();
      expect(asked).toEqual([["bank-b", "bank-z"], ["bank-b", "bank-z"]]);
    });
  });
});
