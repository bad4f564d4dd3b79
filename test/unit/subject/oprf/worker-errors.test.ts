import { describe, expect, it } from "vitest";
import { CreditMeshError, isCreditMeshError } from "../../../../src/errors.js";
import { fromWorkerError, toWorkerError } from "../../../../src/subject/oprf/worker-errors.js";

describe("worker errors", () => {
  it("carry a CreditMeshError's code, message and field across and back", () => {
    const back = fromWorkerError(toWorkerError(new CreditMeshError("VALIDATION_FAILED", "not a group element", { field: "blinded_elements[3]" }), "failed"));
    expect(isCreditMeshError(back, "VALIDATION_FAILED")).toBe(true);
    expect([back.message, back.field]).toEqual(["not a group element", "blinded_elements[3]"]);
  });

  it("carry any other error only as the fallback: its text may quote the identifier being worked on", () => {
    const e = toWorkerError(new Error("bad input cn-mobile/v1:13800138000"), "token arithmetic failed");
    expect(e).toEqual({ code: "INTERNAL", message: "token arithmetic failed" });
    expect(JSON.stringify(e)).not.toContain("13800138000");
  });
});
