import { invalid } from "../errors.js";
import { IdType, idTypeToJSON, type SubjectId } from "../gen/creditmesh/v1/common.js";
import { foldFullWidth } from "./half-width.js";
import { MOBILE_RULE, normalizeMobile } from "./mobile.js";
import { residentIdFrom15, residentIdProblem } from "./resident-id.js";

/**
 * A subject whose identifier is in canonical form: two spellings of the same
 * identity (lowercase x, full-width digits, spaces in an ID or passport
 * number, a 15-digit first-generation resident ID, +86 on a phone) must
 * produce the same subject token on every node.
 */
export interface NormalizedSubject {
  idType: IdType;
  /** Enum name (e.g. "CN_RESIDENT_ID"): the stable text that goes into the token. */
  idTypeName: string;
  normalizedId: string;
  name: string;
  /** Normalized mobile number, or "" when none was given. */
  phone: string;
}

const KNOWN_ID_TYPES: readonly IdType[] = [IdType.CN_RESIDENT_ID, IdType.PASSPORT, IdType.UNIFIED_PHONE];
const MAX_NAME_CHARS = 64;

export function normalizeSubject(subject: SubjectId | undefined, field = "subject"): NormalizedSubject {
  if (!subject) throw invalid(field, "required");
  const idType = subject.idType;
  if (!KNOWN_ID_TYPES.includes(idType)) {
    throw invalid(`${field}.id_type`, `must be one of ${KNOWN_ID_TYPES.map(idTypeToJSON).join(", ")}, got ${String(idType)}`);
  }
  const normalizedId = normalizeIdNumber(idType, subject.idNumber ?? "", `${field}.id_number`);
  const name = normalizeName(subject.name ?? "", `${field}.name`);
  const phone = normalizePhone(subject.phone ?? "", `${field}.phone`);
  return { idType, idTypeName: idTypeToJSON(idType), normalizedId, name, phone };
}

function normalizeIdNumber(idType: IdType, raw: string, field: string): string {
  if (raw.trim() === "") throw invalid(field, "required");
  switch (idType) {
    case IdType.CN_RESIDENT_ID: {
      const spelled = foldFullWidth(raw).replace(/\s/g, "").toUpperCase();
      // A first-generation number and the 18-digit one that replaced it are one person: one token.
      const id = /^\d{15}$/.test(spelled) ? residentIdFrom15(spelled) : spelled;
      const problem = residentIdProblem(id);
      if (problem) throw invalid(field, id === spelled ? problem : `a 15-digit (first-generation) number whose 18-digit form fails: ${problem}`);
      return id;
    }
    case IdType.PASSPORT: {
      const id = foldFullWidth(raw).replace(/\s/g, "").toUpperCase();
      if (!/^[A-Z0-9]{5,20}$/.test(id)) throw invalid(field, "passport number must be 5 to 20 letters or digits");
      return id;
    }
    default: {
      const id = normalizeMobile(raw);
      if (id === undefined) throw invalid(field, MOBILE_RULE);
      return id;
    }
  }
}

function normalizeName(raw: string, field: string): string {
  const name = raw.trim().normalize("NFC");
  if (name === "") throw invalid(field, "required");
  const chars = [...name].length;
  if (chars > MAX_NAME_CHARS) throw invalid(field, `must be at most ${MAX_NAME_CHARS} characters, got ${chars}`);
  if (/\p{Cc}/u.test(name)) throw invalid(field, "must not contain control characters");
  return name;
}

function normalizePhone(raw: string, field: string): string {
  if (raw.trim() === "") return "";
  const phone = normalizeMobile(raw);
  if (phone === undefined) throw invalid(field, MOBILE_RULE);
  return phone;
}
