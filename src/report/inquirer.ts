import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import { tokenDerivedKey } from "../subject/tokenizer.js";

/** Marks a pseudonym; `:` never occurs in an institution id, so the two cannot be confused. */
export const INQUIRER_PSEUDONYM_PREFIX = "anon:";

const MIN_KEY_BYTES = 16;

/**
 * How a lender sees another institution's inquiry about a subject:
 * `"anon:" + hex HMAC-SHA256(K, institution_id)` with K a key derived from the
 * subject token alone (`tokenDerivedKey("inquirer", token)`), or, on a network
 * still running on a shared HMAC token key,
 * `"anon:" + hex HMAC-SHA256(network token key, "inquirer:" + subject_token + ":" + institution_id)`.
 *
 * Every holder answers a query under the same subject token, so every holder
 * derives the same pseudonym for one (subject, institution): a lender merging
 * answers from several holders can still count distinct inquiring
 * institutions (the multi-lending signal) without learning their names. The
 * token in the key makes the pseudonym differ per subject, so one lender
 * cannot link another's inquiries across borrowers by comparing pseudonyms.
 *
 * Residual risk: this hides names from a lender that only reads its reports,
 * not from one that sets out to unmask them. Whoever knows the subject's token
 * — every member that queried the subject, since a report carries it — and
 * the member list (the manifest) can compute every member's pseudonym for that
 * subject and match them. With tokens from the committee nobody can do this
 * for a subject whose token it never obtained; the protection is against
 * casual disclosure (a report passed on without its token, logged or shown to
 * staff), and the audit trail records who queried what. docs/privacy.md.
 */
export class InquirerPseudonyms {
  readonly #legacyKey?: KeyObject;

  /** `legacyKey`: the network's shared HMAC token key, only on a network that has no committee yet. */
  constructor(legacyKey?: Uint8Array) {
    if (legacyKey === undefined) return;
    if (legacyKey.length < MIN_KEY_BYTES) {
      throw new CreditMeshError("CONFIG_INVALID", `inquirer pseudonym key must be at least ${MIN_KEY_BYTES} bytes`);
    }
    this.#legacyKey = createSecretKey(legacyKey);
  }

  of(subjectToken: string, institutionId: string): string {
    const mac = this.#legacyKey
      ? createHmac("sha256", this.#legacyKey).update(`inquirer:${subjectToken}:${institutionId}`, "utf8").digest("hex")
      : createHmac("sha256", tokenDerivedKey("inquirer", subjectToken)).update(institutionId, "utf8").digest("hex");
    return INQUIRER_PSEUDONYM_PREFIX + mac;
  }
}

export function isInquirerPseudonym(requesterInstitutionId: string): boolean {
  return requesterInstitutionId.startsWith(INQUIRER_PSEUDONYM_PREFIX);
}
