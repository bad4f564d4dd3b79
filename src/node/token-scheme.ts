import type { Secrets } from "../config/secrets.js";
import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import { InquirerPseudonyms } from "../report/inquirer.js";
import { LocalTokenKey } from "../subject/local-token-key.js";
import type { TokenPurpose } from "../subject/oprf/tokenizer.js";
import { HmacSubjectTokenizer, tokenKeyedNameTag, tokenKeyedNameTags, type SubjectTokens } from "../subject/tokenizer.js";

/**
 * Where a node's subject tokens come from:
 * - `committee`: the manifest names a token committee (threshold OPRF);
 * - `local`: the node runs alone (p2p off) with its committee of one;
 * - `legacy-hmac`: a node of a network created before committees, holding
 *   the shared `tokenKey` and no committee: it keeps running on it (warned)
 *   until the network has a committee and `tokens migrate` has run;
 * - `none`: a network member with neither: it starts (to take part in the
 *   committee's key generation) but refuses every subject call.
 */
export type TokenSchemeKind = "committee" | "local" | "legacy-hmac" | "none";

export interface NodeTokenScheme {
  kind: TokenSchemeKind;
  /** What ingest, the API and reports take (name tags included). */
  subjectTokens: SubjectTokens;
  pseudonyms: InquirerPseudonyms;
  /** The node's own key when alone (tests and `tokens migrate` read its key id). */
  local?: LocalTokenKey;
}

export interface TokenSchemeOptions {
  secrets: Pick<Secrets, "tokenKey" | "localTokenKey">;
  p2pEnabled: boolean;
  /** The manifest names a token committee. */
  hasCommittee: boolean;
  /** For the refusal of a member with neither committee nor legacy key. */
  network?: { networkId: string; version: string };
}

export function nodeTokenScheme(
  opts: TokenSchemeOptions,
  deps: { committeeTokens: () => Pick<SubjectTokens, "tokens"> | undefined; logger: Logger },
): NodeTokenScheme {
  const { secrets } = opts;
  const tokenKeyed = { nameTag: tokenKeyedNameTag, nameTags: tokenKeyedNameTags, pseudonyms: new InquirerPseudonyms() };
  if (opts.hasCommittee) {
    return {
      kind: "committee",
      subjectTokens: {
        tokens: async (subjects, purpose, signal) => {
          const committee = deps.committeeTokens();
          if (!committee) throw new CreditMeshError("UNAVAILABLE", "subject tokens unavailable: the token committee's protocol is not running");
          return committee.tokens(subjects, purpose, signal);
        },
        nameTag: tokenKeyed.nameTag,
        nameTags: tokenKeyed.nameTags,
      },
      pseudonyms: tokenKeyed.pseudonyms,
    };
  }
  if (!opts.p2pEnabled && secrets.localTokenKey) {
    const local = new LocalTokenKey(secrets.localTokenKey);
    return { kind: "local", subjectTokens: local, pseudonyms: tokenKeyed.pseudonyms, local };
  }
  if (secrets.tokenKey) {
    deps.logger.warn(
      "subject tokens from the legacy shared tokenKey: any holder of that key can compute every subject's token; " +
        "give the network a token committee and run `creditmesh tokens migrate`",
    );
    const key = Buffer.from(secrets.tokenKey, "hex");
    const hmac = new HmacSubjectTokenizer(key);
    return { kind: "legacy-hmac", subjectTokens: hmac, pseudonyms: new InquirerPseudonyms(key) };
  }
  const where = opts.network ? `the manifest of ${opts.network.networkId} (v${opts.network.version})` : "the manifest";
  // A committee made while the node runs (`tokens keygen` on live members) comes into force without a restart.
  const committeeOrRefuse: SubjectTokens["tokens"] = async (subjects, purpose, signal) => {
    const committee = deps.committeeTokens();
    if (committee) return committee.tokens(subjects, purpose, signal);
    return refuse(subjects, purpose);
  };
  const refuse = async (_s: unknown, _p: TokenPurpose): Promise<string[]> => {
    throw new CreditMeshError(
      "UNAVAILABLE",
      `subject tokens unavailable: ${where} names no token committee and this node holds no legacy tokenKey; ` +
        "the operator must create the committee (creditmesh tokens keygen) and publish the manifest",
    );
  };
  return { kind: "none", subjectTokens: { tokens: committeeOrRefuse, nameTag: tokenKeyed.nameTag, nameTags: tokenKeyed.nameTags }, pseudonyms: tokenKeyed.pseudonyms };
}
