import { describe, expect, test } from "vitest";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { signBody, verifyBody } from "../../../src/identity/envelope.js";
import { QueryRequest, Signed } from "../../../src/gen/creditmesh/v1/peer.js";
import { Purpose } from "../../../src/gen/creditmesh/v1/common.js";

describe("signed envelope", () => {
  const key = generateNodeKey();
  const request = QueryRequest.encode({
    requestId: "r-1",
    requesterInstitutionId: "bank-a",
    subjectToken: "ab".repeat(32),
    purpose: Purpose.LOAN_ORIGINATION,
    nonce: Buffer.alloc(16, 7),
    asOf: "2026-01-01",
    inquiryProof: 0,
    issuedAt: new Date("2026-01-01T00:00:00Z"),
  }).finish();

  test("verifies by the signer's peer id, also after a wire round trip", () => {
    const signed = signBody(key, request);
    expect(verifyBody(signed, key.peerId)).toBe(true);
    const wire = Signed.decode(Signed.encode(signed).finish());
    expect(verifyBody(wire, key.peerId)).toBe(true);
    expect(QueryRequest.decode(wire.body).requestId).toBe("r-1");
  });

  test("another signer, a changed body or a changed signature fails", () => {
    const signed = signBody(key, request);
    expect(verifyBody(signed, generateNodeKey().peerId)).toBe(false);
    const body = Buffer.from(signed.body);
    body[2] ^= 1;
    expect(verifyBody({ body, signature: signed.signature }, key.peerId)).toBe(false);
    const signature = Buffer.from(signed.signature);
    signature[63] ^= 1;
    expect(verifyBody({ body: signed.body, signature }, key.peerId)).toBe(false);
    expect(verifyBody({ body: signed.body, signature: Buffer.alloc(0) }, key.peerId)).toBe(false);
    expect(verifyBody(signed, "garbage")).toBe(false);
  });

  test("the envelope keeps its own copy of the body", () => {
    const bytes = Uint8Array.from(request);
    const signed = signBody(key, bytes);
    bytes[0] ^= 0xff;
    expect(verifyBody(signed, key.peerId)).toBe(true);
  });
});
