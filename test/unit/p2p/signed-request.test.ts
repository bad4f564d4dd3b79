import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { CreditMeshError, isCreditMeshError } from "../../../src/errors.js";
import { Purpose, Role } from "../../../src/gen/creditmesh/v1/common.js";
import { QueryRequest, type Member } from "../../../src/gen/creditmesh/v1/peer.js";
import type { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { openSignedAnswer, openSignedRequest, RequestRefused, sealSigned, type SignedRequestSpec } from "../../../src/p2p/signed-request.js";
import { RateLimiter } from "../../../src/rate-limit.js";
import { EMPTY_BATCH } from "../../../src/store/write-batch.js";
import type { NonceStore } from "../../../src/store/types.js";

const lender = generateNodeKey();
const furnisher = generateNodeKey();
const members: Member[] = [
  { institutionId: "bank-a", name: "Bank A", peerId: lender.peerId, roles: [Role.LENDER], addrs: [] },
  { institutionId: "cfc-b", name: "CFC B", peerId: furnisher.peerId, roles: [Role.FURNISHER], addrs: [] },
];
const membership = { byPeerId: (id: string) => members.find((m) => m.peerId === id) } as Pick<Membership, "byPeerId">;
const clock = new ManualClock("2026-03-01T12:00:00Z");
const SKEW = 60_000;

/** A nonce store that remembers in memory, as the LevelDB one does once committed. */
function memoryNonces(): NonceStore {
  const seen = new Set<string>();
  return {
    claim: (requester, nonce) => {
      const key = `${requester}/${nonce}`;
      if (seen.has(key)) return undefined;
      seen.add(key);
      return { batch: EMPTY_BATCH, settled: () => undefined };
    },
    prune: async () => 0,
  };
}

const spec = (nonces?: NonceStore): SignedRequestSpec<QueryRequest> => ({
  what: "request",
  decode: (b) => QueryRequest.decode(b),
  id: (q) => q.requestId,
  sender: { field: "requester_institution_id", of: (q) => q.requesterInstitutionId },
  issued: { field: "issued_at", of: (q) => q.issuedAt },
  role: Role.LENDER,
  nonce: nonces && { of: (q) => q.nonce, store: nonces },
  check: (q) => (q.asOf === "bad" ? { reason: "as_of is bad", field: "as_of" } : undefined),
});

const request = (over: Partial<QueryRequest> = {}, signer: NodeKey = lender) =>
  sealSigned(
    QueryRequest.encode(
      QueryRequest.fromPartial({
        requestId: "request-1",
        requesterInstitutionId: "bank-a",
        purpose: Purpose.LOAN_ORIGINATION,
        issuedAt: clock.now(),
        nonce: Buffer.alloc(16, 7),
        asOf: "2026-03-01",
        ...over,
      }),
    ).finish(),
    (d) => signer.sign(d),
  );

function refusal(fn: () => unknown): { code: string; reason?: string; field?: string } | "opened" {
  try {
    fn();
    return "opened";
  } catch (err) {
    if (err instanceof RequestRefused) return { code: err.code, reason: err.reason, field: err.field };
    if (isCreditMeshError(err)) return { code: err.code };
    throw err;
  }
}

const ctx = (rateLimiter?: RateLimiter) => ({ membership, clock, logger: silentLogger(), maxClockSkewMs: SKEW, rateLimiter });
const from = (key: NodeKey) => ({ peerId: key.peerId });

describe("openSignedRequest", () => {
  it("opens a request signed by the connection's member, naming it, with the role, fresh and new", () => {
    const opened = openSignedRequest(request(), from(lender), spec(memoryNonces()), ctx());
    expect(opened.member.institutionId).toBe("bank-a");
    expect(opened.message.requestId).toBe("request-1");
    expect(opened.nonce).toBeDefined();
  });

  it("refuses, in order: non-member, garbage, rate, signature, sender, role, skew, content, replay", () => {
    const outsider = generateNodeKey();
    expect(refusal(() => openSignedRequest(request(), from(outsider), spec(), ctx()))).toEqual({ code: "MEMBERSHIP_DENIED" });
    expect(refusal(() => openSignedRequest(Uint8Array.of(0xff, 0xff), from(lender), spec(), ctx()))).toEqual({ code: "P2P_PROTOCOL" });
    // Over its rate, a member is refused before its signature is checked: a flood costs the holder no verification.
    const spent = new RateLimiter(1, 1, clock);
    expect(refusal(() => openSignedRequest(request(), from(lender), spec(), ctx(spent)))).toBe("opened");
    expect(refusal(() => openSignedRequest(request({}, furnisher), from(lender), spec(), ctx(spent)))).toMatchObject({ code: "RATE_LIMITED" });
    expect(refusal(() => openSignedRequest(request({}, furnisher), from(lender), spec(), ctx()))).toMatchObject({
      code: "SIGNATURE_INVALID",
      reason: "request signature does not verify",
    });
    expect(refusal(() => openSignedRequest(request({ requesterInstitutionId: "cfc-b" }), from(lender), spec(), ctx()))).toMatchObject({
      code: "MEMBERSHIP_DENIED",
      reason: "requester_institution_id does not match the connection's peer",
    });
    expect(refusal(() => openSignedRequest(request({ requesterInstitutionId: "cfc-b" }, furnisher), from(furnisher), spec(), ctx()))).toMatchObject({
      code: "MEMBERSHIP_DENIED",
      reason: "requester is not a LENDER member",
    });
    const limiter = new RateLimiter(1, 1, clock);
    expect(refusal(() => openSignedRequest(request(), from(lender), spec(), ctx(limiter)))).toBe("opened");
    expect(refusal(() => openSignedRequest(request(), from(lender), spec(), ctx(limiter)))).toMatchObject({ code: "RATE_LIMITED" });
    for (const issuedAt of [new Date(clock.now().getTime() - SKEW - 1), new Date(clock.now().getTime() + SKEW + 1), undefined]) {
      expect(refusal(() => openSignedRequest(request({ issuedAt }), from(lender), spec(), ctx()))).toMatchObject({
        code: "VALIDATION_FAILED",
        field: "issued_at",
      });
    }
    expect(refusal(() => openSignedRequest(request({ issuedAt: new Date(clock.now().getTime() - SKEW) }), from(lender), spec(), ctx()))).toBe("opened");
    expect(refusal(() => openSignedRequest(request({ nonce: Buffer.alloc(4) }), from(lender), spec(memoryNonces()), ctx()))).toMatchObject({
      code: "VALIDATION_FAILED",
      field: "nonce",
    });
    expect(refusal(() => openSignedRequest(request({ asOf: "bad" }), from(lender), spec(), ctx()))).toMatchObject({
      code: "VALIDATION_FAILED",
      reason: "as_of is bad",
      field: "as_of",
    });
    const nonces = memoryNonces();
    expect(refusal(() => openSignedRequest(request(), from(lender), spec(nonces), ctx()))).toBe("opened");
    expect(refusal(() => openSignedRequest(request(), from(lender), spec(nonces), ctx()))).toMatchObject({
      code: "CONFLICT",
      reason: "replayed request (nonce seen before)",
    });
  });

  it("a refusal carries the member, the decoded request and typed metadata; its message names the field", () => {
    let err: unknown;
    try {
      openSignedRequest(request({ issuedAt: undefined }), from(lender), spec(), ctx());
    } catch (e) {
      err = e;
    }
    const refused = err as RequestRefused<QueryRequest>;
    expect(refused.member.institutionId).toBe("bank-a");
    expect(refused.request.requestId).toBe("request-1");
    expect(refused.meta).toEqual({ from: "bank-a", requestId: "request-1", reason: "request is stale or from the future" });
    expect(refused.message).toBe("issued_at: request is stale or from the future");
  });
});

describe("openSignedAnswer", () => {
  it("returns the decoded answer only when the expected peer signed it", () => {
    const answer = sealSigned(QueryRequest.encode(QueryRequest.fromPartial({ requestId: "a-1" })).finish(), (d) => furnisher.sign(d));
    expect(openSignedAnswer(answer, furnisher.peerId, (b) => QueryRequest.decode(b), "answer").requestId).toBe("a-1");
    const forged = (): unknown => openSignedAnswer(answer, lender.peerId, (b) => QueryRequest.decode(b), "answer");
    expect(forged).toThrow(CreditMeshError);
    expect(refusal(forged)).toEqual({ code: "UNAVAILABLE" });
    expect(refusal(() => openSignedAnswer(Uint8Array.of(0xff), furnisher.peerId, (b) => QueryRequest.decode(b), "answer"))).toEqual({ code: "UNAVAILABLE" });
  });
});
