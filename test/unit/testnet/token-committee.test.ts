import { afterEach, describe, expect, it } from "vitest";
import path from "node:path";
import { readSecrets } from "../../../src/config/secrets.js";
import { Membership, parseOperatorPublicKey, readManifestFile } from "../../../src/identity/manifest.js";
import { InProcessEvaluators } from "../../../src/subject/oprf/in-process.js";
import { decodeKeyShare, ShareEvaluator, publicShareOf } from "../../../src/subject/oprf/threshold.js";
import { ThresholdOprfTokenizer } from "../../../src/subject/oprf/tokenizer.js";
import { createNetworkLayout } from "../../../src/testnet/layout.js";
import { createLocalCommittee } from "../../../src/testnet/token-committee.js";
import { tempDir } from "../../helpers/temp.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe("createLocalCommittee", () => {
  it("gives three of four members shares of one key, signs the next manifest naming them, and their shares answer as the manifest says", async () => {
    const tmp = tempDir("cm-committee-");
    cleanups.push(() => tmp.remove());
    const layout = await createNetworkLayout({ dir: tmp.dir, nodes: 4, committee: false });
    const ids = layout.nodes.slice(0, 3).map((n) => n.institutionId);
    const made = await createLocalCommittee(tmp.dir, ids, 2);
    expect(made).toMatchObject({ members: ids, threshold: 2, epoch: 1, manifestVersion: "2" });

    const membership = new Membership(parseOperatorPublicKey(layout.operatorPublicKey), await readManifestFile(layout.manifestFile));
    const committee = membership.tokenCommittee()!;
    expect(committee.members.map((m) => m.institutionId)).toEqual(ids);
    expect(committee.keyId).toBeTruthy();
    const evaluators = new Map(committee.members.map((m) => {
      const share = decodeKeyShare(Buffer.from(readSecrets(path.join(tmp.dir, m.institutionId, "secrets.json")).tokenKeyShare!, "hex"));
      expect(Buffer.from(publicShareOf(share).bytes).equals(Buffer.from(m.publicShare))).toBe(true);
      return [m.institutionId, new ShareEvaluator(share)];
    }));
    expect(readSecrets(path.join(tmp.dir, layout.nodes[3].institutionId, "secrets.json")).tokenKeyShare).toBeUndefined();
    // Successive batches start at different members: different pairs of shares give the same tokens.
    const tokenizer = new ThresholdOprfTokenizer({ committee, evaluators: new InProcessEvaluators(evaluators, committee.epoch) });
    const subject = [{ idTypeName: "UNIFIED_PHONE", normalizedId: "13800138000" }];
    const first = await tokenizer.tokens(subject, "LOOKUP");
    expect(await tokenizer.tokens(subject, "LOOKUP")).toEqual(first);
    expect(await tokenizer.tokens(subject, "LOOKUP")).toEqual(first);

    await expect(createLocalCommittee(tmp.dir, [ids[0], "bank-nowhere"], 2)).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: "members[1]" });
    await expect(createLocalCommittee(tmp.dir, ids, 4)).rejects.toMatchObject({ field: "threshold" });
  });

  it("a test network is laid out with its first three members as a 2-of-3 committee and no token key in any secrets file", async () => {
    const tmp = tempDir("cm-committee-");
    cleanups.push(() => tmp.remove());
    const layout = await createNetworkLayout({ dir: tmp.dir, nodes: 4 });
    const ids = layout.nodes.slice(0, 3).map((n) => n.institutionId);
    expect({ committee: layout.committee, threshold: layout.committeeThreshold, tokenKey: layout.tokenKey }).toEqual({ committee: ids, threshold: 2, tokenKey: undefined });
    const membership = new Membership(parseOperatorPublicKey(layout.operatorPublicKey), await readManifestFile(layout.manifestFile));
    expect(membership.tokenCommittee()?.institutionIds).toEqual(ids);
    for (const n of layout.nodes) {
      const s = readSecrets(path.join(n.dir, "secrets.json"));
      expect({ tokenKey: s.tokenKey, localTokenKey: s.localTokenKey, share: s.tokenKeyShare !== undefined }).toEqual({ tokenKey: undefined, localTokenKey: undefined, share: ids.includes(n.institutionId) });
    }
    const legacy = await createNetworkLayout({ dir: path.join(tmp.dir, "legacy"), nodes: 2, legacyTokenKey: true });
    expect(legacy.committee).toEqual([]);
    expect(legacy.nodes.map((n) => readSecrets(path.join(n.dir, "secrets.json")).tokenKey)).toEqual([legacy.tokenKey, legacy.tokenKey]);
  });
});
