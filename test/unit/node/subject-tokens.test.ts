import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { noAudit } from "../../../src/audit/trail.js";
import { Membership, signManifest } from "../../../src/identity/manifest.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import type { PeerComponents } from "../../../src/p2p/components.js";
import { SubjectTokenParts, type SubjectTokenDeps } from "../../../src/node/subject-tokens.js";
import { OprfAnswer, OprfRefusal, OprfRequest, TokenPurpose } from "../../../src/gen/creditmesh/v1/oprf.js";
import { Signed } from "../../../src/gen/creditmesh/v1/peer.js";
import { sealSigned } from "../../../src/p2p/signed-request.js";
import { RateLimiter } from "../../../src/rate-limit.js";
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
const stops: (() => unknown)[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await Promise.all(open.splice(0).map((s) => s.close()));
  cleanups.splice(0).forEach((c) => c());
});

const CLOCK_START = "2026-03-01T00:00:00Z";

async function parts(membership: Membership, member: number, tokenKeyShare?: string, more: Pick<SubjectTokenDeps, "rateLimiter"> = {}) {
  const tmp = tempDir("cm-tokens-");
  cleanups.push(() => tmp.remove());
  const stores = await openStores(tmp.dir, { dataKeys: [{ id: "k1", key: new Uint8Array(randomBytes(32)) }] });
  open.push(stores);
  const c = { peer: {} as PeerComponents["peer"], rpc: { request: async () => new Uint8Array() }, membership, signer: keys[member], clock: new ManualClock(CLOCK_START), logger: silentLogger() };
  const made = await SubjectTokenParts.create(membership, c, {
    institutionId: ids[member], maxClockSkewMs: 60_000, dailyTokenQuota: 200_000, evaluationDeadlineMs: 30_000, stores, audit: noAudit,
    secrets: { accountRefKey: randomBytes(32).toString("hex"), nodeKey: randomBytes(32).toString("hex"), tokenKeyShare },
    ...more,
  });
  stops.push(() => made.services[0].stop());
  return made;
}

describe("SubjectTokenParts", () => {
  it("without a committee in the manifest there is no tokenizer: the node keeps its HMAC tokenizer", async () => {
    const none = await parts(new Membership(operator.publicKey, plain), 0);
    expect(none.tokenizer).toBeUndefined();
    expect(none.evaluator).toBe(false);
  });

  it("a committee member with its share evaluates; a member outside the committee only requests", async () => {
    const evaluator = await parts(withCommittee, 1, Buffer.from(encodeKeyShare(shares[1])).toString("hex"));
    expect(evaluator.evaluator).toBe(true);
    expect(evaluator.committee?.threshold).toBe(2);
    const requester = await parts(withCommittee, 3);
    expect(requester.evaluator).toBe(false);
    expect(requester.tokenizer).toBeDefined();
  });

  it("a committee member without its share, or with another member's, does not start, naming tokenKeyShare", async () => {
    await expect(parts(withCommittee, 0)).rejects.toMatchObject({ code: "CONFIG_INVALID", field: "tokenKeyShare" });
    await expect(parts(withCommittee, 0, Buffer.from(encodeKeyShare(shares[2])).toString("hex"))).rejects.toMatchObject({ code: "CONFIG_INVALID", field: "tokenKeyShare" });
  });

  it("an evaluator holds each member to p2p.rateLimitPerPeer and remembers nonces in its nonce store", async () => {
    // Two requests per member, never refilled: the clock does not move.
    const limiter = new RateLimiter(1, 2, new ManualClock(CLOCK_START));
    const evaluator = await parts(withCommittee, 1, Buffer.from(encodeKeyShare(shares[1])).toString("hex"), { rateLimiter: limiter });
    const requester = keys[3];
    const signedRequest = () => sealSigned(OprfRequest.encode({
      requestId: randomUUID(), requesterInstitutionId: ids[3], purpose: TokenPurpose.TOKEN_PURPOSE_LOOKUP, epoch: "1",
      blindedElements: [Buffer.from(encodeElement(mulBase(randomScalar())))], nonce: randomBytes(16), issuedAt: new Date(CLOCK_START), ticket: undefined,
    }).finish(), (d) => requester.sign(d));
    const send = async (body: Uint8Array) => OprfAnswer.decode(Signed.decode(await evaluator.protocol.handleMessage(body, { peerId: requester.peerId }, AbortSignal.timeout(10_000))).body);

    const first = signedRequest();
    const answer = await send(first);
    expect([answer.refusal, answer.evaluatedElements.length]).toEqual([OprfRefusal.OPRF_REFUSAL_UNSPECIFIED, 1]);
    expect((await send(first)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_REPLAYED);
    await expect(send(signedRequest())).rejects.toMatchObject({ code: "RATE_LIMITED" });
  });

  it("a newer manifest's committee takes effect without a restart, with the share a ceremony stored, and earlier shares are deleted", async () => {
    const membership = new Membership(operator.publicKey, withCommittee.signed);
    const member = await parts(membership, 1, Buffer.from(encodeKeyShare(shares[1])).toString("hex"));
    await member.services[0].start();
    await member.shares.put({ epoch: 1, sessionId: "net/tokens/1/a", publicKey: "00", share: shares[1] });
    const next = splitSecret(key, 2, 3).map((x) => ({ index: x.index, secret: x.value }));
    await member.shares.put({ epoch: 2, sessionId: "net/tokens/2/b", publicKey: "00", share: next[1] });

    expect(membership.replace(signManifest({
      ...withCommittee.manifest, version: "3",
      tokenCommittee: {
        ...withCommittee.manifest.tokenCommittee!, epoch: "2",
        evaluators: next.map((x, k) => ({ institutionId: ids[k], index: x.index, publicShare: Buffer.from(publicShareOf(x).bytes) })),
      },
    }, operator))).toBe(true);
    await member.settled();
    expect(member.committee?.epoch).toBe(2);
    expect(member.evaluator).toBe(true);
    expect(await member.shares.epochs()).toEqual([2]);
    // It evaluates at epoch 2 only: a request for the old epoch is refused.
    const blinded = [encodeElement(mulBase(randomScalar()))];
    const self = member.committee!.members.find((m) => m.institutionId === ids[1])!;
    const answer = await member.protocol.evaluate(self, { purpose: "LOOKUP", epoch: 2, blindedElements: blinded }, AbortSignal.timeout(10_000));
    expect(answer.evaluatedElements).toHaveLength(1);
    await expect(member.protocol.evaluate(self, { purpose: "LOOKUP", epoch: 1, blindedElements: blinded }, AbortSignal.timeout(10_000)))
      .rejects.toThrow(/WRONG_EPOCH/);

    // Named at epoch 2 without holding that share: keeps running, refuses to evaluate.
    const without = await parts(new Membership(operator.publicKey, withCommittee.signed), 0, Buffer.from(encodeKeyShare(shares[0])).toString("hex"));
    await without.services[0].start();
    (without as unknown as { membership: Membership }).membership.replace(membership.signed);
    await without.settled();
    expect(without.committee?.epoch).toBe(2);
    expect(without.evaluator).toBe(false);
  });
});
