import { CreditMeshError, isCreditMeshError, type ErrorCode } from "../../errors.js";

/** An error as it crosses back from a token worker thread. */
export interface WorkerError {
  code: ErrorCode;
  message: string;
  field?: string;
}

/**
 * Worker side: a CreditMeshError crosses with its code, message and field;
 * anything else only as `fallback`, because a library's message may quote the
 * bytes it was working on, and a requester's batch holds identifiers.
 */
export function toWorkerError(err: unknown, fallback: string): WorkerError {
  return isCreditMeshError(err) ? { code: err.code, message: err.message, field: err.field } : { code: "INTERNAL", message: fallback };
}

/** Main-thread side: the error again, as the caller would have seen it in process. */
export function fromWorkerError(e: WorkerError): CreditMeshError {
  return new CreditMeshError(e.code, e.message, { field: e.field });
}
