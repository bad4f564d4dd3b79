/**
 * One error type for the whole node. Codes are stable (tests and clients rely
 * on them); messages are for people. api/toServiceError maps codes to gRPC
 * status codes.
 */
export const ErrorCodes = [
  "VALIDATION_FAILED", // bad input; `field` names the path
  "AUTH_MISSING_KEY",
  "AUTH_UNKNOWN_KEY",
  "AUTH_EXPIRED_KEY",
  "AUTH_ROLE",
  "CONSENT_DENIED",
  "NOT_FOUND",
  "CONFLICT",
  "RATE_LIMITED",
  "REQUEST_TOO_LARGE",
  "DEADLINE_EXCEEDED",
  "UNAVAILABLE",
  "CONFIG_INVALID",
  "STORE_SCHEMA_MISMATCH",
  "STORE_CORRUPT",
  "CRYPTO_DECRYPT_FAILED",
  "SIGNATURE_INVALID",
  "MEMBERSHIP_DENIED",
  "MANIFEST_INVALID",
  "P2P_PROTOCOL",
  "P2P_TIMEOUT",
  "P2P_UNREACHABLE",
  "AUDIT_CHAIN_BROKEN",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export interface ErrorDetails {
  /** Field path of the offending input, e.g. "subject.id_number". */
  field?: string;
  cause?: unknown;
}

export class CreditMeshError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "CreditMeshError";
    this.code = code;
    this.field = details.field;
  }
}

/** A field-level validation failure; `field` is a snake_case path. */
export function invalid(field: string, reason: string): CreditMeshError {
  return new CreditMeshError("VALIDATION_FAILED", `${field}: ${reason}`, { field });
}

export function isCreditMeshError(err: unknown, code?: ErrorCode): err is CreditMeshError {
  return err instanceof CreditMeshError && (code === undefined || err.code === code);
}
