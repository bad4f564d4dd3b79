import { describe, expect, it } from "vitest";
import { evaluationAudit } from "../../../src/audit/evaluation-audit.js";
import type { AuditAction, AuditTrail } from "../../../src/audit/trail.js";

describe("evaluationAudit", () => {
  it("records an evaluated batch and a refusal with its reason under distinct actions", async () => {
    const got: { action: AuditAction; actor: string; details: Record<string, string> }[] = [];
    const trail: AuditTrail = { append: async (action, actor, details) => void got.push({ action, actor, details }) };
    const audit = evaluationAudit(trail);
    await audit.record({ requester: "bank-a", purpose: "ONBOARD", count: 3, batchHash: "ab", requestId: "r1", outcome: "EVALUATED" });
    await audit.record({ requester: "bank-b", purpose: "BULK", count: 9, batchHash: "cd", requestId: "r2", outcome: "OPRF_REFUSAL_QUOTA_EXCEEDED", reason: "over quota" });
    expect(got).toEqual([
      { action: "TOKENS_EVALUATED", actor: "bank-a", details: { purpose: "ONBOARD", count: "3", batchHash: "ab", requestId: "r1" } },
      { action: "TOKENS_REFUSED", actor: "bank-b", details: { purpose: "BULK", count: "9", batchHash: "cd", requestId: "r2", refusal: "OPRF_REFUSAL_QUOTA_EXCEEDED", reason: "over quota" } },
    ]);
  });
});
