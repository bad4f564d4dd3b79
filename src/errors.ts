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

/** Values an error carries for logs and for the peer that caused it: no personal data, ever. */
export type ErrorMeta = Readonly<Record<string, string | number | boolean | undefined>>;

export interface ErrorDetails<M extends ErrorMeta = ErrorMeta> {
  /** Field path of the offending input, e.g. "subject.id_number". */
  field?: string;
  cause?: unknown;
  /** Typed facts about the failure (ids, limits, counts), logged as they are. */
  meta?: M;
}

export class CreditMeshError<M extends ErrorMeta = ErrorMeta> extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly meta: M;

  constructor(code: ErrorCode, message: string, details: ErrorDetails<M> = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "CreditMeshError";
    this.code = code;
    this.field = details.field;
    this.meta = details.meta ?? ({} as M);
  }

  /** Code, field and metadata, for a structured log line. */
  toObject(): { code: ErrorCode; message: string; field?: string } & M {
    return { ...this.meta, code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) };
  }
}

/** A field-level validation failure; `field` is a snake_case path. */
export function invalid(field: string, reason: string): CreditMeshError {
  return new CreditMeshError("VALIDATION_FAILED", `${field}: ${reason}`, { field });
}

export function isCreditMeshError(err: unknown, code?: ErrorCode): err is CreditMeshError {
  return err instanceof CreditMeshError && (code === undefined || err.code === code);
}
