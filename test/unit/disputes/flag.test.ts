import { describe, expect, it } from "vitest";
import { tradelineDisputeState, WITHHELD } from "../../../src/disputes/flag.js";
import { DisputeFlag, DisputeOutcome, DisputeStatus } from "../../../src/gen/creditmesh/v1/common.js";
import type { Dispute } from "../../../src/gen/creditmesh/v1/dispute.js";

const NOW = new Date("2026-03-15T00:00:00Z");

const d = (over: Partial<Dispute>): Dispute => ({
  disputeId: "d-00000001",
  subjectToken: "ab".repeat(32),
  institutionId: "cfc-b",
  accountRef: "0123456789abcdef",
  reason: "why",
  status: DisputeStatus.OPEN,
  outcome: DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED,
  note: "",
  filedAt: new Date("2026-03-01T00:00:00Z"),
  respondBy: new Date("2026-03-31T00:00:00Z"),
  resolvedAt: undefined,
  filedViaInstitutionId: "bank-a",
  ...over,
});

const resolved = (outcome: DisputeOutcome, at: string): Dispute =>
  d({ status: DisputeStatus.RESOLVED, outcome, resolvedAt: new Date(at), disputeId: `r-${at}` });

describe("tradelineDisputeState", () => {
  it("NONE without disputes", () => {
    expect(tradelineDisputeState([], "cfc-b", NOW)).toBe(DisputeFlag.NONE);
  });

  it("DISPUTED while open up to respond_by, WITHHELD strictly after it", () => {
    const open = d({});
    expect(tradelineDisputeState([open], "cfc-b", NOW)).toBe(DisputeFlag.DISPUTED);
    expect(tradelineDisputeState([open], "cfc-b", open.respondBy!)).toBe(DisputeFlag.DISPUTED);
    expect(tradelineDisputeState([open], "cfc-b", new Date(open.respondBy!.getTime() + 1))).toBe(WITHHELD);
  });

  it("one overdue open dispute withholds even when another is within its deadline or resolved", () => {
    const overdue = d({ disputeId: "late", respondBy: new Date("2026-03-10T00:00:00Z") });
    expect(tradelineDisputeState([resolved(DisputeOutcome.CORRECTED, "2026-03-02T00:00:00Z"), d({}), overdue], "cfc-b", NOW)).toBe(WITHHELD);
  });

  it("an open dispute outweighs resolved ones", () => {
    expect(tradelineDisputeState([resolved(DisputeOutcome.VERIFIED_ACCURATE, "2026-03-02T00:00:00Z"), d({})], "cfc-b", NOW)).toBe(
      DisputeFlag.DISPUTED,
    );
  });

  it("the latest resolution decides: VERIFIED_ACCURATE → RESOLVED_DISAGREES, CORRECTED or DELETED → NONE", () => {
    const va = resolved(DisputeOutcome.VERIFIED_ACCURATE, "2026-03-05T00:00:00Z");
    const corrected = resolved(DisputeOutcome.CORRECTED, "2026-03-06T00:00:00Z");
    expect(tradelineDisputeState([va], "cfc-b", NOW)).toBe(DisputeFlag.RESOLVED_DISAGREES);
    expect(tradelineDisputeState([corrected], "cfc-b", NOW)).toBe(DisputeFlag.NONE);
    expect(tradelineDisputeState([va, corrected], "cfc-b", NOW)).toBe(DisputeFlag.NONE);
    expect(tradelineDisputeState([corrected, resolved(DisputeOutcome.VERIFIED_ACCURATE, "2026-03-07T00:00:00Z")], "cfc-b", NOW)).toBe(
      DisputeFlag.RESOLVED_DISAGREES,
    );
    expect(tradelineDisputeState([resolved(DisputeOutcome.DELETED, "2026-03-05T00:00:00Z")], "cfc-b", NOW)).toBe(DisputeFlag.NONE);
  });

  it("ignores copies of disputes held by other institutions", () => {
    expect(tradelineDisputeState([d({ institutionId: "ecom-c", respondBy: new Date("2026-03-02T00:00:00Z") })], "cfc-b", NOW)).toBe(
      DisputeFlag.NONE,
    );
  });
});
