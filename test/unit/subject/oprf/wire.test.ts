import { describe, expect, it } from "vitest";
import { isCreditMeshError } from "../../../../src/errors.js";
import { OprfAnswer, OprfRefusal, OprfRequest, TokenCommittee, TokenPurpose } from "../../../../src/gen/creditmesh/v1/oprf.js";
import { encodeElement, mulBase } from "../../../../src/subject/oprf/group.js";
import { splitSecret } from "../../../../src/subject/oprf/shamir.js";
import { randomScalar } from "../../../../src/subject/oprf/suite.js";
import { BlindedBatch, MAX_BATCH, ShareEvaluator } from "../../../../src/subject/oprf/threshold.js";
import { answerFromWire, committeeFromWire, purposeFromWire, purposeToWire, requestHash } from "../../../../src/subject/oprf/wire.js";

const key = randomScalar();
const evaluators = splitSecret(key, 2, 3).map((s) => new ShareEvaluator({ index: s.index, secret: s.value }));
const committeeMessage: TokenCommittee = {
  suite: "ristretto255-SHA512", epoch: "3", threshold: 2, publicKey: Buffer.from(encodeElement(mulBase(key))),
  evaluators: evaluators.map((e, k) => ({ institutionId: `inst-${k}`, index: e.public.index, publicShare: Buffer.from(e.public.bytes) })),
};

describe("/creditmesh/oprf/1.0.0 messages", () => {
  it("a committee survives encoding and is checked on the way in", () => {
    const c = committeeFromWire(TokenCommittee.decode(TokenCommittee.encode(committeeMessage).finish()));
    expect(c.threshold).toBe(2);
    expect(c.epoch).toBe(3);
    expect(c.institutionIds).toEqual(["inst-0", "inst-1", "inst-2"]);
    expect(() => committeeFromWire({ ...committeeMessage, suite: "P256-SHA256" })).toThrow(/token_committee\.suite/);
    expect(() => committeeFromWire({ ...committeeMessage, threshold: 4 })).toThrow(/token_committee\.members/);
  });

  it("a full batch request round-trips, and answers bind to its bytes", () => {
    const batch = BlindedBatch.create(Array.from({ length: MAX_BATCH }, (_, i) => new TextEncoder().encode(`passport/v1:E${i}`)));
    const request: OprfRequest = {
      requestId: "r-1", requesterInstitutionId: "inst-9", purpose: TokenPurpose.TOKEN_PURPOSE_BULK, epoch: "3",
      blindedElements: batch.blinded.map((b) => Buffer.from(b)), nonce: Buffer.alloc(16, 7), issuedAt: new Date("2026-12-03T00:00:00Z"),
    };
    const bytes = OprfRequest.encode(request).finish();
    const decoded = OprfRequest.decode(bytes);
    expect(decoded.blindedElements).toHaveLength(MAX_BATCH);
    expect(purposeFromWire(decoded.purpose)).toBe("BULK");
    expect(purposeToWire("ONBOARD")).toBe(TokenPurpose.TOKEN_PURPOSE_ONBOARD);

    const partial = evaluators[0].evaluate(decoded.blindedElements);
    const answer: OprfAnswer = {
      requestId: "r-1", evaluatorInstitutionId: "inst-0", epoch: "3", requestHash: requestHash(bytes),
      evaluatedElements: partial.evaluated.map((e) => Buffer.from(e)), proof: Buffer.from(partial.proof),
      refusal: OprfRefusal.OPRF_REFUSAL_UNSPECIFIED, refusalField: "", refusalReason: "",
    };
    const back = answerFromWire(OprfAnswer.decode(OprfAnswer.encode(answer).finish()), requestHash(bytes));
    expect(typeof batch.verify({ index: 1, evaluated: back.evaluatedElements, proof: back.proof }, evaluators[0].public)).toBe("object");

    const other = OprfRequest.encode({ ...request, nonce: Buffer.alloc(16, 8) }).finish();
    expect(() => answerFromWire(answer, requestHash(other))).toThrow(/answered another request/);
  });

  it("a refusal becomes the error its code names", () => {
    const refused = (refusal: OprfRefusal, field = "") => {
      try {
        answerFromWire({ requestId: "r", evaluatorInstitutionId: "inst-0", epoch: "3", requestHash: Buffer.alloc(0), evaluatedElements: [], proof: Buffer.alloc(0), refusal, refusalField: field, refusalReason: "" }, Buffer.alloc(32));
      } catch (err) {
        return err;
      }
      throw new Error("not refused");
    };
    expect(isCreditMeshError(refused(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED), "RATE_LIMITED")).toBe(true);
    const bad = refused(OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, "blinded_elements[3]");
    expect(isCreditMeshError(bad, "VALIDATION_FAILED") && bad.field).toBe("blinded_elements[3]");
  });
});
