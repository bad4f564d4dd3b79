import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { explainError } from "../../../src/cli/explain-error.js";
import { invalid } from "../../../src/errors.js";

function grpcError(code: number, details: string, field?: string, errorCode?: string) {
  const metadata = new Metadata();
  if (field) metadata.set("field", field);
  if (errorCode) metadata.set("error-code", errorCode);
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata });
}

describe("explainError", () => {
  it("turns a refused connection into where no node is and what to do", () => {
    const err = grpcError(status.UNAVAILABLE, "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:50051. Resolution note: ");
    expect(explainError(err)).toBe("no node at 127.0.0.1:50051: is it running? (creditmesh start, or --addr)");
    expect(explainError(err, true)).toBe("no node at 127.0.0.1:50051: is it running? (creditmesh start, or --addr) [grpc UNAVAILABLE (14)]");
  });

  it("keeps the field of a refused request, adds what to do, and shows the code only when verbose", () => {
    expect(explainError(grpcError(status.INVALID_ARGUMENT, "must be 18 characters", "subject.id_number"))).toBe("subject.id_number: must be 18 characters");
    expect(explainError(grpcError(status.UNAUTHENTICATED, "unknown API key"))).toBe(
      "unknown API key; pass --api-key, set CREDITMESH_API_KEY, or run on the node's machine with its --config",
    );
    expect(explainError(invalid("batch_size", "an integer from 1 to 100000"))).toBe("batch_size: an integer from 1 to 100000");
    expect(explainError(invalid("batch_size", "x"), true)).toBe("batch_size: x [VALIDATION_FAILED]");
  });

  it("tells a consent that does not allow the request from a role the API key lacks", () => {
    expect(explainError(grpcError(status.PERMISSION_DENIED, "consent is for LOAN_ORIGINATION, not CREDIT_LIMIT_REVIEW", "purpose", "CONSENT_DENIED"))).toBe(
      "purpose: consent is for LOAN_ORIGINATION, not CREDIT_LIMIT_REVIEW; check the borrower's consent at this node (creditmesh consent list --id-number …)",
    );
    expect(explainError(grpcError(status.PERMISSION_DENIED, "this API key lacks the LENDER role", undefined, "AUTH_ROLE"))).toBe(
      "this API key lacks the LENDER role; check the API key's roles (creditmesh apikey list)",
    );
    // A node that sends no error code: the general hint.
    expect(explainError(grpcError(status.PERMISSION_DENIED, "denied"))).toBe("denied; check the API key's roles (creditmesh apikey list) and the borrower's consent");
  });

  it("is always one line", () => {
    const multi = grpcError(status.INTERNAL, "first\nsecond\nthird");
    expect(explainError(multi)).not.toContain("\n");
    expect(explainError(new Error("a\nb"))).toBe("a");
  });
});
