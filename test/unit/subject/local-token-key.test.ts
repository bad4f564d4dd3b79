import { describe, expect, it } from "vitest";
import { newLocalTokenKey } from "../../../src/config/secrets.js";
import { silentLogger } from "../../../src/logger.js";
import { nodeTokenScheme } from "../../../src/node/token-scheme.js";
import { LocalTokenKey } from "../../../src/subject/local-token-key.js";
import { Committee } from "../../../src/subject/oprf/committee.js";
import { InProcessEvaluators } from "../../../src/subject/oprf/in-process.js";
import { decodeKeyShare, encodeKeyShare, publicShareOf, ShareEvaluator } from "../../../src/subject/oprf/threshold.js";
import { ThresholdOprfTokenizer } from "../../../src/subject/oprf/tokenizer.js";
import { HmacSubjectTokenizer, tokenKeyedNameTag } from "../../../src/subject/tokenizer.js";

const SUBJECT = { idTypeName: "CN_RESIDENT_ID", normalizedId: "11010519491231002X" };

describe("LocalTokenKey (a node's committee of one)", () => {
  it("gives the token a 1-of-1 committee of the same key gives through blinded evaluation, and another key another token", async () => {
    const hex = newLocalTokenKey();
    const local = new LocalTokenKey(hex);
    const share = decodeKeyShare(Buffer.from(hex, "hex"));
    const pub = publicShareOf(share);
    const committee = new Committee({ epoch: 1, threshold: 1, publicKey: pub.bytes, members: [{ institutionId: "me", index: 1, publicShare: pub.bytes }] });
    const [viaCommittee] = await new ThresholdOprfTokenizer({ committee, evaluators: new InProcessEvaluators(new Map([["me", new ShareEvaluator(share)]]), 1) }).tokens([SUBJECT], "LOOKUP");
    expect(local.token(SUBJECT)).toBe(viaCommittee);
    expect(local.token(SUBJECT)).toMatch(/^[0-9a-f]{128}$/);
    expect(local.keyId).toBe(committee.keyId);
    expect(new LocalTokenKey(newLocalTokenKey()).token(SUBJECT)).not.toBe(local.token(SUBJECT));
  });

  it("refuses a share that is not index 1 or not a share, naming the field", () => {
    const other = Buffer.from(encodeKeyShare({ index: 2, secret: 5n })).toString("hex");
    expect(() => new LocalTokenKey(other)).toThrow(expect.objectContaining({ field: "localTokenKey" }));
    expect(() => new LocalTokenKey("00".repeat(34))).toThrow(expect.objectContaining({ field: "localTokenKey" }));
  });
});

describe("nodeTokenScheme", () => {
  const logger = silentLogger();
  const none = { committeeTokens: () => undefined, logger };
  const tokenKey = "07".repeat(32);

  it("a node alone with its own key uses it; a legacy node keeps its HMAC key, tags and pseudonyms; a member with neither refuses, naming the manifest", async () => {
    const localTokenKey = newLocalTokenKey();
    const alone = nodeTokenScheme({ secrets: { localTokenKey, tokenKey }, p2pEnabled: false, hasCommittee: false }, none);
    expect(alone.kind).toBe("local");
    expect(await alone.subjectTokens.tokens([SUBJECT], "LOOKUP")).toEqual([new LocalTokenKey(localTokenKey).token(SUBJECT)]);
    expect(alone.subjectTokens.nameTag!("ab", "Li")).toBe(tokenKeyedNameTag("ab", "Li"));

    const legacy = nodeTokenScheme({ secrets: { tokenKey }, p2pEnabled: true, hasCommittee: false }, none);
    const hmac = new HmacSubjectTokenizer(Buffer.from(tokenKey, "hex"));
    expect(legacy.kind).toBe("legacy-hmac");
    expect(await legacy.subjectTokens.tokens([SUBJECT], "LOOKUP")).toEqual([hmac.token(SUBJECT)]);
    expect(legacy.subjectTokens.nameTag!("ab", "Li")).toBe(hmac.nameTag("ab", "Li"));

    const member = nodeTokenScheme({ secrets: {}, p2pEnabled: true, hasCommittee: false, network: { networkId: "demo", version: "3" } }, none);
    expect(member.kind).toBe("none");
    await expect(member.subjectTokens.tokens([SUBJECT], "LOOKUP")).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/manifest of demo \(v3\) names no token committee/) });
  });

  it("with a committee in the manifest, asks the committee's tokenizer and keys tags by the token, even on a node that still holds the legacy key", async () => {
    let bound: { tokens: () => Promise<string[]> } | undefined;
    const scheme = nodeTokenScheme({ secrets: { tokenKey }, p2pEnabled: true, hasCommittee: true }, { committeeTokens: () => bound, logger });
    expect(scheme.kind).toBe("committee");
    await expect(scheme.subjectTokens.tokens([SUBJECT], "LOOKUP")).rejects.toMatchObject({ code: "UNAVAILABLE" });
    bound = { tokens: async () => ["t1"] };
    expect(await scheme.subjectTokens.tokens([SUBJECT], "LOOKUP")).toEqual(["t1"]);
    expect(scheme.pseudonyms.of("t1", "bank-a")).not.toBe(nodeTokenScheme({ secrets: { tokenKey }, p2pEnabled: true, hasCommittee: false }, none).pseudonyms.of("t1", "bank-a"));
  });
});
