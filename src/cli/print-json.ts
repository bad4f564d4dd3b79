import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createFileRegistry, fromBinary, ScalarType, toJson, type DescField, type DescMessage, type FileRegistry, type JsonValue } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const DESCRIPTOR_SET = fileURLToPath(new URL("../gen/descriptor.binpb", import.meta.url));

let registry: FileRegistry | undefined;

function messageDesc(typeName: string) {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR_SET)));
  const desc = registry.getMessage(typeName);
  if (!desc) throw new Error(`no message type ${typeName} in ${DESCRIPTOR_SET}`);
  return desc;
}

/** Money stays a decimal string, as the API's JSON carries it (DESIGN §4); every other 64-bit count becomes a number. */
const AMOUNT_FIELD = /amount|balance|limit|past_due/;
const INT64 = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);

function isCount(field: DescField): boolean {
  return (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")) && INT64.has(field.scalar!) && !AMOUNT_FIELD.test(field.name);
}

function asNumber(v: JsonValue): JsonValue {
  return typeof v === "string" && Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

function numbersWhereSafe(desc: DescMessage, json: JsonValue): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return json;
  const out: { [k: string]: JsonValue } = { ...json };
  for (const field of desc.fields) {
    const v = out[field.jsonName];
    if (v === undefined) continue;
    if (isCount(field)) out[field.jsonName] = Array.isArray(v) ? v.map(asNumber) : asNumber(v);
    else if (field.fieldKind === "message" && !field.message.typeName.startsWith("google.")) out[field.jsonName] = numbersWhereSafe(field.message, v);
    else if (field.fieldKind === "list" && field.listKind === "message" && Array.isArray(v)) out[field.jsonName] = v.map((e) => numbersWhereSafe(field.message, e));
  }
  return out;
}

/**
 * A message as the command line prints it: proto3 JSON with every field,
 * zeros and empty lists included (a count of 0 is an answer, not a gap), and
 * counts as JSON numbers. `encode` is the generated type's encoder.
 */
export function toPrintableJson<T>(type: { encode(message: T): { finish(): Uint8Array } }, typeName: string, message: T): JsonValue {
  const desc = messageDesc(typeName);
  const decoded = fromBinary(desc, type.encode(message).finish());
  return numbersWhereSafe(desc, toJson(desc, decoded, { alwaysEmitImplicit: true }));
}

export function printJson<T>(type: { encode(message: T): { finish(): Uint8Array } }, typeName: string, message: T): string {
  return JSON.stringify(toPrintableJson(type, typeName, message), null, 2) + "\n";
}
