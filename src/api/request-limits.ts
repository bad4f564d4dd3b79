import type { ServiceDefinition } from "@grpc/grpc-js";
import { CreditMeshError, invalid } from "../errors.js";
import type { Metrics } from "../metrics.js";

/** Set on what a guarded deserializer returns in place of a request it did not decode. */
const REFUSED = Symbol("refused before decoding");

type Refused = { [REFUSED]: CreditMeshError };

/** The error a guarded deserializer recorded instead of decoding the request, if it did. */
export function refusalOf(request: unknown): CreditMeshError | undefined {
  return typeof request === "object" && request !== null ? (request as Partial<Refused>)[REFUSED] : undefined;
}

export interface RequestLimits {
  /** Largest request message of every method but SubmitRecords (which has the server-wide grpc.maxMessageBytes). */
  maxRequestBytes: number;
  /** Per-method overrides by RPC name (e.g. "GetCreditReport"). */
  methodMaxRequestBytes: Record<string, number>;
  /** Records in one SubmitRecords message. */
  maxBatchRecords: number;
}

/**
 * Top-level occurrences of field 1 (`records`) in an encoded
 * SubmitRecordsRequest, counted without decoding anything, stopping past
 * `max`; undefined when the bytes are not well-formed (the real decoder then
 * reports them). An empty record is two bytes, so 16 MB of them would decode
 * into 8 million objects.
 */
export function countRecords(buf: Uint8Array, max: number): number | undefined {
  let i = 0;
  let count = 0;
  const varint = (): number | undefined => {
    let v = 0;
    for (let shift = 0; shift < 49; shift += 7) {
      if (i >= buf.length) return undefined;
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    return undefined;
  };
  while (i < buf.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const wire = tag % 8;
    if (wire === 2) {
      const len = varint();
      if (len === undefined || i + len > buf.length) return undefined;
      i += len;
      if (Math.floor(tag / 8) === 1 && ++count > max) return count;
    } else if (wire === 0) {
      if (varint() === undefined) return undefined;
    } else if (wire === 1) {
      i += 8;
    } else if (wire === 5) {
      i += 4;
    } else {
      return undefined;
    }
  }
  return i === buf.length ? count : undefined;
}

function refuse(error: CreditMeshError, reason: string, metrics: Metrics | null): Refused {
  metrics?.requestsRefusedUndecoded.inc({ reason });
  return { [REFUSED]: error };
}

/**
 * The service with every request deserializer guarded: a message over its
 * method's byte limit, or a SubmitRecords batch with more records than
 * allowed, is not decoded; the handler gets a marker (see refusalOf) and
 * answers RESOURCE_EXHAUSTED or INVALID_ARGUMENT. grpc-js itself already
 * refuses anything over grpc.maxMessageBytes before buffering it.
 */
export function guardRequests(service: ServiceDefinition, limits: RequestLimits, metrics: Metrics | null): ServiceDefinition {
  const guarded: Record<string, ServiceDefinition[string]> = {};
  for (const [key, method] of Object.entries(service)) {
    const name = method.originalName ?? key;
    const rpc = method.path.slice(method.path.lastIndexOf("/") + 1);
    const decode = method.requestDeserialize;
    if (rpc === "SubmitRecords") {
      guarded[key] = {
        ...method,
        requestDeserialize: (buf: Buffer) => {
          const n = countRecords(buf, limits.maxBatchRecords);
          if (n !== undefined && n > limits.maxBatchRecords) {
            return refuse(invalid("records", `at most ${limits.maxBatchRecords} records per batch, got more`), "too_many_records", metrics);
          }
          return decode(buf);
        },
      };
      continue;
    }
    const max = limits.methodMaxRequestBytes[rpc] ?? limits.methodMaxRequestBytes[name] ?? limits.maxRequestBytes;
    guarded[key] = {
      ...method,
      requestDeserialize: (buf: Buffer) =>
        buf.length > max
          ? refuse(new CreditMeshError("REQUEST_TOO_LARGE", `request of ${buf.length} bytes is over the ${max}-byte limit of ${rpc} (grpc.maxRequestBytes)`), "too_large", metrics)
          : decode(buf),
    };
  }
  return guarded as ServiceDefinition;
}
