import { invalid } from "../../errors.js";
import type { NormalizedSubject } from "../normalize.js";

/**
 * The OPRF input of a subject: a versioned label per identifier type and the
 * normalized identifier. The label is part of what every member hashes, so
 * changing a normalization rule means a new version (and a re-index), never
 * a silent change of tokens.
 */
const INPUT_LABELS: Readonly<Record<string, string>> = {
  CN_RESIDENT_ID: "cn-resident-id/v1:",
  PASSPORT: "passport/v1:",
  UNIFIED_PHONE: "cn-mobile/v1:",
};

const encoder = new TextEncoder();

export function oprfInput(subject: Pick<NormalizedSubject, "idTypeName" | "normalizedId">, field = "subject"): Uint8Array {
  const label = Object.hasOwn(INPUT_LABELS, subject.idTypeName) ? INPUT_LABELS[subject.idTypeName] : undefined;
  if (label === undefined) throw invalid(`${field}.id_type`, `has no token input encoding: ${subject.idTypeName}`);
  if (subject.normalizedId === "") throw invalid(`${field}.id_number`, "required");
  return encoder.encode(label + subject.normalizedId);
}
