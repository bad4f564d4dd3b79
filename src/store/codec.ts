import { CreditMeshError } from "../errors.js";

/** Parses a stored JSON value; a value that does not parse means the database is damaged. */
export function parseStored<T>(what: string, key: string, json: string, check: (v: unknown) => v is T): T {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new CreditMeshError("STORE_CORRUPT", `${what} at ${JSON.stringify(key)} is not valid JSON`, { cause: err });
  }
  if (!check(value)) {
    throw new CreditMeshError("STORE_CORRUPT", `${what} at ${JSON.stringify(key)} has an unexpected shape`);
  }
  return value;
}

/** Decodes a stored protobuf message, mapping decoder errors to STORE_CORRUPT. */
export function decodeStored<T>(what: string, key: string, bytes: Uint8Array, decode: (b: Uint8Array) => T): T {
  try {
    return decode(bytes);
  } catch (err) {
    throw new CreditMeshError("STORE_CORRUPT", `${what} at ${JSON.stringify(key)} does not decode`, { cause: err });
  }
}

/** Parses a stored ISO timestamp. */
export function parseStoredDate(what: string, key: string, iso: string): Date {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    throw new CreditMeshError("STORE_CORRUPT", `${what} at ${JSON.stringify(key)} is not a timestamp`);
  }
  return d;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
