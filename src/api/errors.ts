import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { CreditMeshError, type ErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";

const STATUS_BY_CODE: Partial<Record<ErrorCode, status>> = {
  VALIDATION_FAILED: status.INVALID_ARGUMENT,
  AUTH_MISSING_KEY: status.UNAUTHENTICATED,
  AUTH_UNKNOWN_KEY: status.UNAUTHENTICATED,
  AUTH_EXPIRED_KEY: status.UNAUTHENTICATED,
  AUTH_ROLE: status.PERMISSION_DENIED,
  CONSENT_DENIED: status.PERMISSION_DENIED,
  MEMBERSHIP_DENIED: status.PERMISSION_DENIED,
  NOT_FOUND: status.NOT_FOUND,
  CONFLICT: status.FAILED_PRECONDITION,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  REQUEST_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNAVAILABLE: status.UNAVAILABLE,
  P2P_UNREACHABLE: status.UNAVAILABLE,
  P2P_TIMEOUT: status.DEADLINE_EXCEEDED,
};

/**
 * The one mapping from domain errors to gRPC status. Known codes keep their
 * message and carry `field` and `error-code` in trailing metadata; anything
 * else becomes INTERNAL with a generic message (and is logged here).
 */
export function toServiceError(err: unknown, logger?: Logger): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err instanceof CreditMeshError) {
    const code = STATUS_BY_CODE[err.code];
    if (code !== undefined) {
      metadata.set("error-code", err.code);
      if (err.field) metadata.set("field", err.field);
      return { code, details: err.message, metadata };
    }
  }
  logger?.error({ err: err instanceof Error ? { message: err.message, stack: err.stack, code: (err as CreditMeshError).code } : String(err) }, "internal error");
  return { code: status.INTERNAL, details: "internal error", metadata };
}
