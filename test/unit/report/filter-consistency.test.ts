import { describe, expect, it } from "vitest";
import { HolderStatus } from "../../../src/gen/creditmesh/v1/common.js";
import { FilterConsistency, heldBeforeQuery } from "../../../src/report/filter-consistency.js";

const opts = { falsePositiveRate: 2 ** -16, claimedSlack: 2, deniedSlack: 1 };

describe("FilterConsistency", () => {
  it("counts claimed tokens a member had no data for, and flags it past the false-positive bound plus slack", () => {
    const c = new FilterConsistency(opts);
    for (let i = 0; i < 100; i++) c.record("bank-b", 7, "FILTER_MATCH", true);
    for (let i = 0; i < 2; i++) c.record("bank-b", 7, "FILTER_MATCH", false);
    expect(c.status("bank-b")).toMatchObject({ epoch: 7, routed: 102, claimed: 102, claimedNoData: 2, inflated: false });
    c.record("bank-b", 7, "FILTER_MATCH", false);
    expect(c.status("bank-b")).toMatchObject({ claimedNoData: 3, inflated: true });
    expect(c.total("bank-b")).toEqual({ claimedNoData: 3, deniedWithData: 0 });
  });

  it("allows more claimed-but-empty answers the more tokens were routed (false positives grow with them)", () => {
    const c = new FilterConsistency(opts);
    // 10M routed tokens: ~153 false positives expected from an honest 16-bit filter.
    expect(c.allowedClaimedNoData(10_000_000)).toBeGreaterThan(153 + 2);
    expect(c.allowedClaimedNoData(0)).toBe(2);
    for (let i = 0; i < 1000; i++) c.record("bank-b", 1, "SKIPPED");
    c.record("bank-b", 1, "FILTER_MATCH", false);
    expect(c.status("bank-b")).toMatchObject({ routed: 1001, claimed: 1, claimedNoData: 1, inflated: false });
  });

  it("counts probes that returned data although the filter denied the token, flagging past the slack", () => {
    const c = new FilterConsistency(opts);
    c.record("bank-c", 3, "PROBE", false);
    c.record("bank-c", 3, "PROBE", true);
    expect(c.status("bank-c")).toMatchObject({ probed: 2, deniedWithData: 1, hiding: false });
    c.record("bank-c", 3, "PROBE", true);
    expect(c.status("bank-c")).toMatchObject({ deniedWithData: 2, hiding: true });
  });

  it("ignores members asked to fail open, and answers that say nothing count only as routed", () => {
    const c = new FilterConsistency(opts);
    c.record("bank-d", 1, "DELTA_GAP", false);
    c.record("bank-d", 1, "NO_FILTER", true);
    expect(c.status("bank-d")).toBeUndefined();
    c.record("bank-d", 1, "FILTER_MATCH", undefined);
    c.record("bank-d", 1, "PROBE", undefined);
    expect(c.status("bank-d")).toMatchObject({ claimed: 1, claimedNoData: 0, probed: 1, deniedWithData: 0 });
  });

  it("restarts the counts with a new epoch, ignores answers of a superseded one, and keeps the totals", () => {
    const c = new FilterConsistency(opts);
    for (let i = 0; i < 4; i++) c.record("bank-b", 1, "FILTER_MATCH", false);
    expect(c.status("bank-b")?.inflated).toBe(true);
    c.record("bank-b", 2, "FILTER_MATCH", true);
    c.record("bank-b", 1, "FILTER_MATCH", false);
    expect(c.status("bank-b")).toMatchObject({ epoch: 2, claimed: 1, claimedNoData: 0, inflated: false });
    expect(c.total("bank-b").claimedNoData).toBe(4);
    expect(c.all().map((s) => s.institutionId)).toEqual(["bank-b"]);
  });
});

describe("heldBeforeQuery", () => {
  const inquiry = (inquiryId: string) => ({ inquiryId, requesterInstitutionId: "bank-c", requesterName: "", purpose: 1, inquiredAt: new Date() });
  const answer = (status: HolderStatus, tradelines: number, inquiryIds: string[]) => ({
    requestId: "r-1",
    status,
    tradelines: Array.from({ length: tradelines }, () => ({}) as never),
    inquiries: inquiryIds.map(inquiry),
  });

  it("is true with a tradeline or an earlier inquiry, false with only this query's own inquiry", () => {
    expect(heldBeforeQuery(answer(HolderStatus.OK, 1, ["r-1"]))).toBe(true);
    expect(heldBeforeQuery(answer(HolderStatus.NO_DATA, 0, ["r-0", "r-1"]))).toBe(true);
    expect(heldBeforeQuery(answer(HolderStatus.NO_DATA, 0, ["r-1"]))).toBe(false);
  });

  it("says nothing for a refused or failed answer", () => {
    expect(heldBeforeQuery(answer(HolderStatus.DENIED, 0, []))).toBeUndefined();
    expect(heldBeforeQuery(answer(HolderStatus.TIMEOUT, 0, []))).toBeUndefined();
  });
});
