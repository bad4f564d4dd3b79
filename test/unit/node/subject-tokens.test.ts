import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { noAudit } from "../../../src/audit/trail.js";
import { Membership, signManifest } from "../../../src/identity/manifest.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import type { PeerComponents } from "../../../src/p2p/components.js";
import { createSubjectTokenParts } from "../../../src/node/subject-tokens.js";
import { openStores, type Stores } from "../../../src/store/index.js";
import { encodeElement, mulBase } from "../../../src/subject/oprf/group.js";
import { splitSecret } from "../../../src/subject/oprf/shamir.js";
import { randomScalar } from "../../../src/subject/oprf/suite.js";
import { encodeKeyShare, publicShareOf } from "../../../src/subject/oprf/threshold.js";
import { manifestFor } from "../p2p/net-fixture.js";
import { tempDir } from "../../helpers/temp.js";

const operator = generateNodeKey();
const keys = [generateNodeKey(), generateNodeKey(), generateNodeKey(), generateNodeKey()];
const key = randomScalar();
const shares = splitSecret(key, 2, 3).map((s) => ({ index: s.index, secret: s.value }));
const plain = manifestFor(operator, keys.map((k) => ({ key: k })), 1);
const ids = new Membership(operator.publicKey, plain).members().map((m) => m.institutionId);
const body = new Membership(operator.publicKey, plain).manifest;
const withCommittee = new Membership(operator.publicKey, signManifest({
  ...body,
  tokenCommittee: {
    suite: "ristretto255-SHA512", epoch: "1", threshold: 2, publicKey: Buffer.from(encodeElement(mulBase(key))),
    evaluators: shares.map((s, k) => ({ institutionId: ids[k], index: s.index, publicShare: Buffer.from(publicShareOf(s).bytes) })),
  },
}, operator));

const open: Stores[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  cleanups.splice(0).forEach((c) => c());
});

async function parts(membership: Membership, member: number, tokenKeyShare?: string) {
  const tmp = tempDir("cm-tokens-");
  cleanups.push(() => tmp.remove());
  const stores = await openStores(tmp.dir, { dataKeys: [{ id: "k1", key: new Uint8Array(randomBytes(32)) }] });
  open.push(stores);
  const c = { peer: {} as PeerComponents["peer"], rpc: { request: async () => new Uint8Array() }, membership, signer: keys[member], clock: new ManualClock("2026-03-01T00:00:00Z"), logger: silentLogger() };
  return createSubjectTokenParts(membership, c, {
    institutionId: ids[member], maxClockSkewMs: 60_000, stores, audit: noAudit,
    secrets: { accountRefKey: randomBytes(32).toString("hex"), tokenKeyShare },
  });
}

describe("createSubjectTokenParts", () => {
  it("without a committee in the manifest there are none: the node keeps its HMAC tokenizer", async () => {
    expect(await parts(new Membership(operator.publicKey, plain), 0)).toBeUndefined();
  });

  it("a committee member with its share evaluates; a member outside the committee only requests", async () => {
    const evaluator = await parts(withCommittee, 1, Buffer.from(encodeKeyShare(shares[1])).toString("hex"));
    expect(evaluator?.evaluator).toBe(true);
    expect(evaluator?.committee.threshold).toBe(2);
    await Promise.all(evaluator!.services.map((s) => s.stop()));
    const requester = await parts(withCommittee, 3);
    expect(requester?.evaluator).toBe(false);
    expect(requester?.services).toEqual([]);
  });

  it("a committee member without its share, or with another member's, does not start, naming tokenKeyShare", async () => {
    await expect(parts(withCommittee, 0)).rejects.toMatchObject({ code: "CONFIG_INVALID", field: "tokenKeyShare" });
    await expect(parts(withCommittee, 0, Buffer.from(encodeKeyShare(shares[2])).toString("hex"))).rejects.toMatchObject({ code: "CONFIG_INVALID", field: "tokenKeyShare" });
  });
});
