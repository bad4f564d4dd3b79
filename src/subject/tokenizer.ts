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
}

/**
 * What the node's services take: tokens for a batch of subjects at once, so
 * that a tokenizer asking the evaluator committee needs one round per batch.
 * `purpose` says why (the committee's quota is per purpose).
 */
export interface SubjectTokens {
  tokens(subjects: readonly Pick<NormalizedSubject, "idTypeName" | "normalizedId">[], purpose: TokenPurpose, signal?: AbortSignal): Promise<string[]>;
  nameTag?(subjectToken: string, name: string): string;
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
    return createHmac("sha256", this.key).update(`name:${subjectToken}:${normalizeName(name)}`, "utf8").digest("hex").slice(0, 32);
  }
}

/**
 * Case, width, spaces and invisible format characters (a zero-width space or
 * joiner, a BOM, a soft hyphen that a core system's export left in) ignored:
 * the same person's name typed at two members compares equal. A name without
 * such characters keeps the tag it always had.
 */
export function normalizeName(name: string): string {
  return name.normalize("NFKC").replace(/[\s\p{Cf}]+/gu, "").toUpperCase();
}

/**
 * The name tag of networks without a shared token key: an HMAC keyed by the
 * subject token itself. Only committee evaluation yields a token, so only a
 * member that obtained the subject's token (as it must to furnish or query
 * the subject) can compute or test a tag; a copied secrets file gives nothing.
 */
export function tokenKeyedNameTag(subjectToken: string, name: string): string {
  return createHmac("sha256", tokenDerivedKey("name-tag", subjectToken)).update(normalizeName(name), "utf8").digest("hex").slice(0, 32);
}

/**
 * A key bound to one subject token and one use: SHA-256 over a label, the
 * use and the token, so that a tag and a pseudonym of one subject never share a key.
 */
export function tokenDerivedKey(use: string, subjectToken: string): Buffer {
  return createHash("sha256").update(`creditmesh-token-derived-key/v1\0${use}\0${subjectToken}`, "utf8").digest();
}
