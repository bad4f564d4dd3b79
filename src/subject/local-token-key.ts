import { CreditMeshError } from "../errors.js";
import type { NormalizedSubject } from "./normalize.js";
import { oprfInput } from "./oprf/input.js";
import { decodeKeyShare, publicShareOf, type KeyShare } from "./oprf/threshold.js";
import { evaluateDirect } from "./oprf/voprf.js";
import { tokenKeyedNameTag, tokenKeyedNameTags, type SubjectTokens } from "./tokenizer.js";

/**
 * The subject tokens of a node that runs alone (p2p off): the RFC 9497 VOPRF
 * output under a key only this node holds — its committee of one, a 1-of-1
 * share (`localTokenKey` in the secrets file). The tokens are the ones a
 * 1-of-1 committee would give, so nothing is shared with anyone and the
 * node's data can be re-indexed for a network committee with `tokens migrate`.
 */
export class LocalTokenKey implements SubjectTokens {
  readonly #share: KeyShare;
  /** Names the key, as a committee's public key does (hex k·G). */
  readonly keyId: string;

  constructor(hexShare: string, field = "localTokenKey") {
    const share = decodeKeyShare(Buffer.from(hexShare, "hex"), field);
    if (share.index !== 1) throw new CreditMeshError("CONFIG_INVALID", `${field}: must be a share of index 1 (a committee of one)`, { field });
    this.#share = share;
    this.keyId = Buffer.from(publicShareOf(share).bytes).toString("hex");
  }

  token(subject: Pick<NormalizedSubject, "idTypeName" | "normalizedId">): string {
    return Buffer.from(evaluateDirect(this.#share.secret, oprfInput(subject))).toString("hex");
  }

  async tokens(subjects: readonly Pick<NormalizedSubject, "idTypeName" | "normalizedId">[]): Promise<string[]> {
    return subjects.map((s) => this.token(s));
  }

  nameTag(subjectToken: string, name: string): string {
    return tokenKeyedNameTag(subjectToken, name);
  }

  nameTags(subjectToken: string, name: string): string[] {
    return tokenKeyedNameTags(subjectToken, name);
  }
}
