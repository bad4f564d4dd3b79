import { describe, expect, it } from "vitest";
import { CreditMeshError, invalid, isCreditMeshError } from "../../src/errors.js";

describe("CreditMeshError", () => {
  it("carries a stable code, the field, the cause and typed metadata", () => {
    const cause = new Error("disk");
    const err = new CreditMeshError<{ holder: string; attempt: number }>("UNAVAILABLE", "holder cfc-b failed", {
      cause,
      field: "institution_id",
      meta: { holder: "cfc-b", attempt: 2 },
    });
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.field).toBe("institution_id");
    expect(err.cause).toBe(cause);
    expect(err.meta.holder).toBe("cfc-b");
    expect(err.toObject()).toEqual({ holder: "cfc-b", attempt: 2, code: "UNAVAILABLE", message: "holder cfc-b failed", field: "institution_id" });
    expect(isCreditMeshError(err, "UNAVAILABLE")).toBe(true);
    expect(isCreditMeshError(err, "NOT_FOUND")).toBe(false);
  });

  it("metadata cannot overwrite the code or message in a log line", () => {
    const err = new CreditMeshError("NOT_FOUND", "no such dispute", { meta: { code: "spoofed", message: "spoofed" } });
    expect(err.toObject()).toEqual({ code: "NOT_FOUND", message: "no such dispute" });
    expect(invalid("subject.id_number", "bad check digit").toObject()).toEqual({
      code: "VALIDATION_FAILED",
      message: "subject.id_number: bad check digit",
      field: "subject.id_number",
    });
  });
});
