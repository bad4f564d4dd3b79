import { describe, expect, it } from "vitest";
import { ristretto255 } from "@noble/curves/ed25519.js";
import { isCreditMeshError } from "../../../../src/errors.js";
import {
  announceRecipient, checkEchoes, dealRound1, dealRound2, echo, makeComplaint, round1Digest, signShare, verifyRound1,
  type CommitteeKey, type DkgSession, type Round1,
} from "../../../../src/subject/oprf/dkg.js";
import { interpolateAtZero } from "../../../../src/subject/oprf/shamir.js";
import {
  BlindedBatch, publicShare, ShareEvaluator, type KeyShare, type VerifiedPartial,
} from "../../../../src/subject/oprf/threshold.js";
import { evaluateDirect } from "../../../../src/subject/oprf/voprf.js";
import { members, runDkg } from "./dkg-driver.js";

const RP = ristretto255.Point;
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const inputs = ["cn-resident-id/v1:11010519491231002X", "cn-mobile/v1:13800138000"].map((s) => new TextEncoder().encode(s));

/** Tokens through the threshold protocol, proofs checked against the committee's published public shares. */
function thresholdTokens(shares: readonly KeyShare[], key: CommitteeKey): string[] {
  const batch = BlindedBatch.create(inputs);
  const partials = shares.slice(0, key.threshold).map((s) => {
    const v = batch.verify(new ShareEvaluator(s).evaluate(batch.blinded), publicShare(s.index, Buffer.from(key.publicShares[s.index], "hex")));
    if (typeof v === "string") throw new Error(`share ${s.index}: ${v}`);
    return v as VerifiedPartial;
  });
  return batch.combine(partials, key.threshold).map(toHex);
}

function expectAllSame<T>(xs: readonly T[]): T {
  for (const x of xs) expect(x).toEqual(xs[0]);
  return xs[0];
}

describe("fresh DKG, 2 of 3", () => {
  const committee = members(3);
  const out = runDkg({ id: "net/epoch-1", threshold: 2, dealers: committee, recipients: committee });

  it("gives every member the same public key and shares that fit it", () => {
    expect(out.verdicts).toEqual([]);
    const key = expectAllSame(out.keys);
    for (const s of out.shares) expect(RP.BASE.multiply(s.secret).toHex()).toBe(key.publicShares[s.index]);
    const k = interpolateAtZero(out.shares.slice(0, 2).map((s) => ({ index: s.index, value: s.secret })));
    expect(RP.BASE.multiply(k).toHex()).toBe(key.publicKey);
    expect(thresholdTokens(out.shares, key)).toEqual(inputs.map((i) => toHex(evaluateDirect(k, i))));
    expect(thresholdTokens([out.shares[2], out.shares[0]], key)).toEqual(thresholdTokens(out.shares.slice(1), key));
  });
});

describe("a cheating dealer is identified by the complaint step", () => {
  const committee = members(3);

  it("a share that does not match the commitments: dealer 1 is disqualified and the rest still agree", () => {
    const out = runDkg({
      id: "net/epoch-2", threshold: 2, dealers: committee, recipients: committee,
      tamper: {
        round2: ({ state, verified, key, shares }) => {
          if (state.index !== 1) return shares;
          const skewed = dealRound2({ ...state, coefficients: [state.coefficients[0], state.coefficients[1] + 1n] }, verified, key);
          return shares.map((s) => (s.recipient === 2 ? skewed.find((x) => x.recipient === 2)! : s));
        },
      },
    });
    expect(out.verdicts).toEqual([{ guilty: "dealer", index: 1, reason: "the share does not match the dealer's commitments" }]);
    expect(out.qualified).toEqual([2, 3]);
    const key = expectAllSame(out.keys);
    expect(thresholdTokens(out.shares, key)).toEqual(thresholdTokens([out.shares[1], out.shares[2]], key));
  });

  it("a share that does not decrypt: dealer 3 is disqualified", () => {
    const out = runDkg({
      id: "net/epoch-3", threshold: 2, dealers: committee, recipients: committee,
      tamper: {
        round2: ({ state, key, shares }) => {
          if (state.index !== 3) return shares;
          // Signed by the dealer itself, so the blame cannot be pushed onto the transport.
          return shares.map((s) => {
            if (s.recipient !== 1) return s;
            const { signature: _, ...body } = s;
            const flipped = (parseInt(body.ciphertext.slice(0, 2), 16) ^ 1).toString(16).padStart(2, "0");
            return signShare({ ...body, ciphertext: flipped + body.ciphertext.slice(2) }, key);
          });
        },
      },
    });
    expect(out.verdicts.map((v) => [v.guilty, v.index, v.reason])).toEqual([["dealer", 3, "the share does not decrypt"]]);
    expect(out.qualified).toEqual([1, 2]);
  });

  it("a member complaining about a valid share is the one blamed", () => {
    const out = runDkg({
      id: "net/epoch-4", threshold: 2, dealers: committee, recipients: committee,
      tamper: {
        complaints: ({ verified, delivered, secrets }) => {
          const share = delivered.find((s) => s.dealer === 2 && s.recipient === 3)!;
          return [makeComplaint(verified, 3, secrets.get(3)!, share, committee.keys[2])];
        },
      },
    });
    expect(out.verdicts).toEqual([{ guilty: "recipient", index: 3, reason: "the share is valid" }]);
    expect(out.qualified).toEqual([1, 2, 3]);
  });
});

describe("round 1", () => {
  const committee = members(3);
  const session: DkgSession = { id: "net/epoch-5", threshold: 2, dealers: committee.participants, recipients: committee.participants };
  const round1 = (): Round1 => ({
    commitments: committee.participants.map((p, k) => dealRound1(session, p.index, committee.keys[k]).message),
    recipientKeys: committee.participants.map((p, k) => announceRecipient(session, p.index, committee.keys[k]).message),
  });

  it("stops when one member echoes a different round-1 set (a dealer showed it other commitments)", () => {
    const seen = round1();
    const other = { ...seen, commitments: [dealRound1(session, 1, committee.keys[0]).message, ...seen.commitments.slice(1)] };
    const digest = round1Digest(session, seen);
    const echoes = [echo(session, digest, committee.keys[0]), echo(session, digest, committee.keys[1]), echo(session, round1Digest(session, other), committee.keys[2])];
    expect(() => checkEchoes(session, digest, echoes)).toThrow(/saw another set/);
    expect(() => checkEchoes(session, digest, echoes.slice(0, 2))).toThrow(/lacks the echo/);
    expect(() => checkEchoes(session, digest, echoes.slice(0, 2).concat(echo(session, digest, committee.keys[2])))).not.toThrow();
  });

  it("disqualifies a dealer whose message is altered or whose proof of knowledge fails", () => {
    const r = round1();
    r.commitments[0] = { ...r.commitments[0], commitments: [...r.commitments[0].commitments].reverse() };
    const verified = verifyRound1(session, r);
    expect(verified.disqualified.get(1)).toBe("bad signature");
    expect([...verified.commitments.keys()]).toEqual([2, 3]);
  });

  it("refuses a recipient key signed by someone else", () => {
    const r = round1();
    r.recipientKeys[1] = announceRecipient(session, 2, committee.keys[0]).message;
    try {
      verifyRound1(session, r);
      expect.unreachable();
    } catch (err) {
      expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
    }
  });
});

describe("resharing (2,3) -> (3,5)", () => {
  const old = members(3);
  const fresh = runDkg({ id: "net/epoch-6", threshold: 2, dealers: old, recipients: old });
  const oldKey = fresh.keys[0];
  const next = members(5);
  const out = runDkg({
    id: "net/epoch-7", threshold: 3, dealers: { ...old, shares: fresh.shares }, recipients: next,
    reshare: { threshold: 2, publicKey: oldKey.publicKey, publicShares: oldKey.publicShares },
  });
  const newKey = expectAllSame(out.keys);

  it("keeps the group key and every token", () => {
    expect(newKey.publicKey).toBe(oldKey.publicKey);
    expect(newKey.threshold).toBe(3);
    const before = thresholdTokens(fresh.shares, oldKey);
    expect(thresholdTokens(out.shares, newKey)).toEqual(before);
    expect(thresholdTokens([out.shares[4], out.shares[1], out.shares[3]], newKey)).toEqual(before);
  });

  it("leaves old shares useless against the new committee", () => {
    const asScalar = (s: KeyShare) => ({ index: s.index, value: s.secret });
    const k = interpolateAtZero(out.shares.slice(0, 3).map(asScalar));
    // An old share in place of a new one of the same index interpolates to another key.
    const mixed = interpolateAtZero([asScalar(fresh.shares[0]), ...out.shares.slice(1, 3).map(asScalar)]);
    expect(mixed).not.toBe(k);
    // And an evaluator still holding its old share fails the proof against its new public share.
    const batch = BlindedBatch.create(inputs);
    const stale = new ShareEvaluator(fresh.shares[0]).evaluate(batch.blinded);
    expect(batch.verify(stale, publicShare(1, Buffer.from(newKey.publicShares[1], "hex")))).toBe("BAD_PROOF");
  });

  it("refuses an old member dealing something other than its share", () => {
    const session: DkgSession = {
      id: "net/epoch-8", threshold: 3, dealers: old.participants, recipients: next.participants,
      reshare: { threshold: 2, publicKey: oldKey.publicKey, publicShares: oldKey.publicShares },
    };
    expect(() => dealRound1(session, 1, old.keys[0], { index: 1, secret: fresh.shares[1].secret })).toThrow(/does not match the published public share/);
  });
});
