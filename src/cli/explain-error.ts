import { status as Status } from "@grpc/grpc-js";
import { CreditMeshError } from "../errors.js";

interface GrpcLikeError {
  code?: number;
  details?: string;
  metadata?: { get(k: string): unknown[] };
  message?: string;
}

function isGrpcError(err: unknown): err is GrpcLikeError & { code: number } {
  const e = err as GrpcLikeError | null;
  return typeof e?.code === "number" && typeof e.details === "string";
}

const HINTS: { [code: number]: string } = {
  [Status.UNAUTHENTICATED]: "pass --api-key, set CREDITMESH_API_KEY, or run on the node's machine with its --config",
  [Status.PERMISSION_DENIED]: "check the API key's roles (creditmesh apikey list) and the borrower's consent",
  [Status.RESOURCE_EXHAUSTED]: "wait a moment and try again",
  [Status.DEADLINE_EXCEEDED]: "the node did not answer in time; try again, or give more time with --deadline-ms where the command has it",
  [Status.NOT_FOUND]: "check the id you passed",
  [Status.INTERNAL]: "see the node's log for the cause",
  [Status.UNKNOWN]: "see the node's log for the cause",
};

/** PERMISSION_DENIED covers a role the API key lacks and a consent that does not allow the request: the error code tells them apart. */
const HINTS_BY_ERROR_CODE: { [code: string]: string } = {
  AUTH_ROLE: "check the API key's roles (creditmesh apikey list)",
  CONSENT_DENIED: "check the borrower's consent at this node (creditmesh consent list --id-number …)",
  MEMBERSHIP_DENIED: "check that this institution is a member with that role in the network's manifest",
};

function hintFor(status: number, errorCode: unknown): string | undefined {
  return (typeof errorCode === "string" ? HINTS_BY_ERROR_CODE[errorCode] : undefined) ?? HINTS[status];
}

/**
 * One line a person can act on: what went wrong and what to do. The gRPC
 * status or error code, useful for a bug report, only with `verbose`.
 */
export function explainError(err: unknown, verbose = false): string {
  if (err instanceof CreditMeshError) return verbose ? `${err.message} [${err.code}]` : err.message;
  if (isGrpcError(err)) {
    const tag = verbose ? ` [grpc ${Status[err.code] ?? err.code} (${err.code})]` : "";
    return `${grpcText(err)}${tag}`;
  }
  const sys = err as NodeJS.ErrnoException | null;
  if (sys?.code === "ENOENT" && sys.path) return `no such file: ${sys.path}${verbose ? " [ENOENT]" : ""}`;
  if (sys?.code === "EACCES" && sys.path) return `permission denied: ${sys.path}${verbose ? " [EACCES]" : ""}`;
  const text = (sys?.message ?? String(err)).split("\n")[0]!;
  return verbose && sys?.code ? `${text} [${sys.code}]` : text;
}

function grpcText(err: GrpcLikeError & { code: number }): string {
  const details = err.details ?? "";
  if (err.code === Status.UNAVAILABLE) {
    const refused = /ECONNREFUSED ([\w.:[\]-]+?)\.?(?:\s|$)/.exec(details);
    if (refused || /No connection established/.test(details)) {
      const at = refused?.[1] ?? "the configured address";
      return `no node at ${at}: is it running? (creditmesh start, or --addr)`;
    }
    return `the node is unavailable (${firstLine(details)}); check that it is running and try again`;
  }
  const field = err.metadata?.get("field")[0];
  const text = firstLine(details);
  const withField = field && !text.startsWith(String(field)) ? `${String(field)}: ${text}` : text;
  const hint = hintFor(err.code, err.metadata?.get("error-code")[0]);
  return hint ? `${withField}; ${hint}` : withField;
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.trim();
}
