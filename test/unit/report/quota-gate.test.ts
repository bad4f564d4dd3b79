import { describe, expect, it } from "vitest";
import { HolderStatus } from "../../../src/gen/creditmesh/v1/common.js";
import { createMetrics } from "../../../src/metrics.js";
import type { HolderResult } from "../../../src/report/assemble.js";
import { MEMBER_QUOTA_EXCEEDED, QUOTA_EXCEEDED } from "../../../src/report/holder.js";
import { QueryQuota } from "../../../src/report/query-quota.js";
import { ReportQuotaGate } from "../../../src/report/quota-gate.js";

const T0 = Date.parse("2026-03-01T10:00:00Z");

const result = (institutionId: string, status: HolderStatus, reason = ""): HolderResult => ({
  outcome: { institutionId, status, reason, latencyMs: 1, tradelines: 0, tradelinesTotal: 0, peerId: "", signedAnswer: Buffer.alloc(0), signature: Buffer.alloc(0) },
});

describe("ReportQuotaGate", () => {
  it("takes this institution's count before the fan-out and refuses with RATE_LIMITED past the quota, counting the API key", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const quota = new QueryQuota(2);
    const gate = new ReportQuotaGate({ institutionId: "bank-a" }, { quota, metrics });
    gate.admit("tok-1", "key-1", T0);
    gate.admit("tok-1", "key-2", T0);
    expect(() => gate.admit("tok-1", "key-1", T0)).toThrow(expect.objectContaining({ code: "RATE_LIMITED", message: expect.stringMatching(/subjectQueriesPerDay/) }));
    // Counted per institution, as holders count it: another subject is free, and so is the holder's count of another member.
    gate.admit("tok-2", "key-1", T0);
    expect(quota.used("bank-a", "tok-1")).toBe(2);
    expect(quota.take("ecom-c", "tok-1", T0)).toBeDefined();
    expect(await metrics.registry.getSingleMetricAsString("creditmesh_reports_over_quota_total")).toMatch(/actor="key-1",refused_by="self"} 1/);
  });

  it("turns a holder's quota refusal into RATE_LIMITED naming the holders; other outcomes pass", () => {
    const gate = new ReportQuotaGate({ institutionId: "bank-a" }, { quota: new QueryQuota(5) });
    expect(() => gate.check([result("bank-a", HolderStatus.OK), result("cfc-b", HolderStatus.DENIED, "consent is REVOKED"), result("ecom-c", HolderStatus.BUSY)], "key-1")).not.toThrow();
    expect(() => gate.check([result("bank-a", HolderStatus.OK), result("cfc-b", HolderStatus.DENIED, QUOTA_EXCEEDED), result("ecom-c", HolderStatus.DENIED, QUOTA_EXCEEDED)], "key-1")).toThrow(
      expect.objectContaining({ code: "RATE_LIMITED", message: expect.stringMatching(/cfc-b, ecom-c/) }),
    );
  });

  it("applies the institution's quota across subjects too, before the fan-out, naming memberQueriesPerDay", () => {
    const quota = new QueryQuota({ subjectPerDay: 50, memberPerDay: 2 });
    const gate = new ReportQuotaGate({ institutionId: "bank-a" }, { quota });
    gate.admit("tok-1", "key-1", T0);
    gate.admit("tok-2", "key-1", T0);
    expect(() => gate.admit("tok-3", "key-1", T0)).toThrow(
      expect.objectContaining({ code: "RATE_LIMITED", message: expect.stringMatching(/2 reports today \(p2p\.memberQueriesPerDay\)/), meta: { quota: "memberQueriesPerDay" } }),
    );
    expect(quota.usedByMember("bank-a")).toBe(2);
  });

  it("names a holder's refusal on the quota across subjects with its own setting", () => {
    const gate = new ReportQuotaGate({ institutionId: "bank-a" }, { quota: new QueryQuota(5) });
    expect(() => gate.check([result("cfc-b", HolderStatus.DENIED, MEMBER_QUOTA_EXCEEDED), result("ecom-c", HolderStatus.OK)], "key-1")).toThrow(
      expect.objectContaining({ code: "RATE_LIMITED", message: `${MEMBER_QUOTA_EXCEEDED}: refused by cfc-b (their p2p.memberQueriesPerDay)` }),
    );
  });
});
