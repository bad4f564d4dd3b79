import { createHash, createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import type { NormalizedSubject } from "./normalize.js";
import type { TokenPurpose } from "./oprf/tokenizer.js";

/**
 * Turns a normalized identifier into the pseudonymous subject token that
 * peers see. Every member must derive the same token for the same person, so
 * the input is the canonical `idTypeName:normalizedId`, never raw input.
 */
export interface SubjectTokenizer {
  token(subject: Pick<NormalizedSubject, "idTypeName" | "normalizedId">): string;
  /** Keyed tag of a subject's name, bound to its token (absent: names are not compared). */
  nameTag?(subjectToken: string, name: string): string;
  /** The tags a stored tag of this name may be: nameTag's first, then those of earlier nodes (nameForms). */
  nameTags?(subjectToken: string, name: string): string[];
}

/**
 * What the node's services take: tokens for a batch of subjects at once, so
 * that a tokenizer asking the evaluator committee needs one round per batch.
 * `purpose` says why (the committee's quota is per purpose).
 */
export interface SubjectTokens {
  tokens(subjects: readonly Pick<NormalizedSubject, "idTypeName" | "normalizedId">[], purpose: TokenPurpose, signal?: AbortSignal): Promise<string[]>;
  nameTag?(subjectToken: string, name: string): string;
  nameTags?(subjectToken: string, name: string): string[];
}

const MIN_KEY_BYTES = 16;

/**
 * token = HMAC-SHA256(network token key, idTypeName ":" normalizedId), lowercase hex.
 *
 * Any holder of the key can brute-force the ~10^11 possible resident IDs, so
 * an OPRF tokenizer (RFC 9497, ristretto255), where members obtain tokens
 * without ever holding the key, can replace this behind the same interface.
 */
export class HmacSubjectTokenizer implements SubjectTokenizer, SubjectTokens {
  private readonly key: KeyObject;

  constructor(key: Uint8Array) {
    // A short key would make the tokens guessable by anyone, not only by members.
    if (key.length < MIN_KEY_BYTES) {
      throw new CreditMeshError("CONFIG_INVALID", `subject token key must be at least ${MIN_KEY_BYTES} bytes`);
    }
    this.key = createSecretKey(key);
  }

  token(subject: Pick<NormalizedSubject, "idTypeName" | "normalizedId">): string {
    return createHmac("sha256", this.key).update(`${subject.idTypeName}:${subject.normalizedId}`, "utf8").digest("hex");
  }

  async tokens(subjects: readonly Pick<NormalizedSubject, "idTypeName" | "normalizedId">[]): Promise<string[]> {
    return subjects.map((s) => this.token(s));
  }

  /**
   * A keyed tag of a subject's name, bound to the subject's token, for
   * comparing names across members without sending any. Ignores case, width
   * and spaces. Members hold the key, so a member can test guesses against
   * a tag it receives: tags go only to a requester holding the subject's consent.
   * Only networks still on the shared key use it (tokenKeyedNameTag otherwise).
   */
  nameTag(subjectToken: string, name: string): string {
    return this.#tag(subjectToken, normalizeName(name));
  }

  nameTags(subjectToken: string, name: string): string[] {
    return nameForms(name).map((form) => this.#tag(subjectToken, form));
  }

  #tag(subjectToken: string, normalized: string): string {
    return createHmac("sha256", this.key).update(`name:${subjectToken}:${normalized}`, "utf8").digest("hex").slice(0, 32);
  }
}

/**
 * The separators core systems put between the parts of a name, or leave out:
 * the middle dot of minority and foreign names (阿卜杜拉·买买提) and what
 * systems without it type instead (a bullet, the katakana middle dot, a full
 * stop of any width, a hyphen), as they are after NFKC.
 */
const NAME_SEPARATOR = "[\\u00B7\\u2022\\u2027\\u2219\\u22C5\\u30FB\\u3002.\\u2010-]";
const NAME_SEPARATORS = new RegExp(`${NAME_SEPARATOR}+`, "gu");
const HAS_NAME_SEPARATOR = new RegExp(NAME_SEPARATOR, "u");
/** One of each separator a stored tag may have been made with before separators were ignored (see nameForms). */
const EARLIER_SEPARATORS = ["\u00B7", "\u2022", "\u30FB", ".", "-"];

/**
 * Case, width, spaces, invisible format characters (a zero-width space or
 * joiner, a BOM, a soft hyphen that a core system's export left in) and name
 * separators (NAME_SEPARATORS) ignored: the same person's name typed at two
 * members compares equal. A name without such characters keeps the tag it
 * always had.
 */
export function normalizeName(name: string): string {
  return earlierNormalizedName(name).replace(NAME_SEPARATORS, "");
}

/** The normalization of nodes before separators were ignored: their stored tags were made from it. */
function earlierNormalizedName(name: string): string {
  return name.normalize("NFKC").replace(/[\s\p{Cf}]+/gu, "").toUpperCase();
}

/**
 * What a stored tag of this name may have been made from: the name as
 * normalized now, first; then, for a name with separators, as accounts
 * furnished before separators were ignored were tagged: with its own
 * separators, and with each usual one in their place. A tag stored then
 * for the same name with any of them still matches, until the account is
 * furnished again (its tag is then made as now). A name typed without
 * separators cannot match such a tag: where they went is unknown.
 */
export function nameForms(name: string): string[] {
  const current = normalizeName(name);
  const nfkc = name.normalize("NFKC");
  if (!HAS_NAME_SEPARATOR.test(nfkc)) return [current];
  const earlier = [nfkc, ...EARLIER_SEPARATORS.map((sep) => nfkc.replace(NAME_SEPARATORS, sep))].map(earlierNormalizedName);
  return [...new Set([current, ...earlier])];
}

/**
 * The name tag of networks without a shared token key: an HMAC keyed by the
 * subject token itself. Only committee evaluation yields a token, so only a
 * member that obtained the subject's token (as it must to furnish or query
 * the subject) can compute or test a tag; a copied secrets file gives nothing.
 */
export function tokenKeyedNameTag(subjectToken: string, name: string): string {
  return tokenKeyedTag(tokenDerivedKey("name-tag", subjectToken), normalizeName(name));
}

/** The tags a stored tag of this name may be (nameForms), the tag made now first. */
export function tokenKeyedNameTags(subjectToken: string, name: string): string[] {
  const key = tokenDerivedKey("name-tag", subjectToken);
  return nameForms(name).map((form) => tokenKeyedTag(key, form));
}

function tokenKeyedTag(key: Buffer, normalized: string): string {
  return createHmac("sha256", key).update(normalized, "utf8").digest("hex").slice(0, 32);
}

/**
 * A key bound to one subject token and one use: SHA-256 over a label, the
 * use and the token, so that a tag and a pseudonym of one subject never share a key.
 */
export function tokenDerivedKey(use: string, subjectToken: string): Buffer {
  return createHash("sha256").update(`creditmesh-token-derived-key/v1\0${use}\0${subjectToken}`, "utf8").digest();
}
