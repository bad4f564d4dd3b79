import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { CreditMeshError } from "../errors.js";

/** Marks a pseudonym; `:` never occurs in an institution id, so the two cannot be confused. */
export const INQUIRER_PSEUDONYM_PREFIX = "anon:";

const MIN_KEY_BYTES = 16;

/**
 * How a lender sees another institution's inquiry about a subject:
 * `"anon:" + hex HMAC-SHA256(network token key, "inquirer:" + subject_token + ":" + institution_id)`.
 *
 * Every member holds the token key, so every holder derives the same pseudonym
 * for one (subject, institution): a lender merging answers from several
 * holders can still count distinct inquiring institutions (the multi-lending
 * signal) without learning their names. The subject token in the input makes
 * the pseudonym differ per subject, so one lender cannot link another's
 * inquiries across borrowers by comparing pseudonyms.
 *
 * Residual risk: this hides names from a lender that only reads its reports,
 * not from one that sets out to unmask them. Any member knows the token key
 * and the member list (the manifest), so it can compute the pseudonym of
 * every member for a subject it queried and match them. Keeping names from a
 * determined member needs a key that lenders do not hold (for instance
 * pseudonyms issued through an OPRF by a party outside the requester, as for
 * subject tokens, DESIGN §4); until then the protection is against casual
 * disclosure (a report passed on, logged or shown to staff), and the audit
 * trail records who queried what.
 */
export class InquirerPseudonyms {
  readonly #key: KeyObject;

  constructor(key: Uint8Array) {
    if (key.length < MIN_KEY_BYTES) {
      throw new CreditMeshError("CONFIG_INVALID", `inquirer pseudonym key must be at least ${MIN_KEY_BYTES} bytes`);
    }
    this.#key = createSecretKey(key);
  }

  of(subjectToken: string, institutionId: string): string {
    const mac = createHmac("sha256", this.#key).update(`inquirer:${subjectToken}:${institutionId}`, "utf8").digest("hex");
    return INQUIRER_PSEUDONYM_PREFIX + mac;
  }
}

export function isInquirerPseudonym(requesterInstitutionId: string): boolean {
  return requesterInstitutionId.startsWith(INQUIRER_PSEUDONYM_PREFIX);
}
