import { describe, expect, it } from "vitest";
import { signConsent } from "../../../src/consent/artefact.js";
import { ANY_PURPOSE, checkConsent, requireConsent, type ConsentCheck } from "../../../src/consent/policy.js";
import { isCreditMeshError } from "../../../src/errors.js";
import { ConsentStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import { generateNodeKey, verifyByPeerId } from "../../../src/identity/node-key.js";

const SKEW = 60_000;
const FROM = new Date("2026-03-01T00:00:00.000Z");
const UNTIL = new Date("2026-04-01T00:00:00.000Z");
const grantee = generateNodeKey();
const stranger = generateNodeKey();
const peerIds: Record<string, string> = { "bank-a": grantee.peerId, "bank-z": stranger.peerId };

function consent(over: Partial<Consent> = {}, signer = grantee): Consent {
  return signConsent(
    {
      consentId: "c-1",
      subjectToken: "ab".repeat(32),
      granteeInstitutionId: "bank-a",
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: FROM,
      validUntil: UNTIL,
      evidenceRef: "sha256:evidence",
      status: ConsentStatus.ACTIVE,
      issuedAt: FROM,
      signature: Buffer.alloc(0),
      revokedAt: undefined,
      ...over,
    },
    signer,
  );
}

function check(over: Partial<ConsentCheck> = {}): ConsentCheck {
  return {
    requesterInstitutionId: "bank-a",
    subjectToken: "ab".repeat(32),
    purpose: Purpose.LOAN_ORIGINATION,
    now: new Date(FROM.getTime() + 1_000),
    maxClockSkewMs: SKEW,
    verifyGranteeSignature: (id, data, signature) => peerIds[id] !== undefined && verifyByPeerId(peerIds[id]!, data, signature),
    ...over,
  };
}

const at = (ms: number) => new Date(ms);
const reasonOf = (c: Consent | undefined, over: Partial<ConsentCheck> = {}) => {
  const d = checkConsent(c, check(over));
  return d.ok ? "ok" : d.reason;
};

describe("the consent rule (holder side: checkConsent)", () => {
  it("allows a valid consent for the grantee, subject and purpose", () => {
    expect(reasonOf(consent())).toBe("ok");
  });

  it("refuses a missing consent", () => {
    expect(reasonOf(undefined)).toBe("no consent artefact");
  });

  it("purpose: only query purposes, and only the consent's own", () => {
    expect(reasonOf(consent({ purpose: Purpose.FURNISHING }), { purpose: Purpose.FURNISHING })).toBe("purpose FURNISHING does not allow a query");
    expect(reasonOf(consent(), { purpose: Purpose.CREDIT_LIMIT_REVIEW })).toBe("consent is for LOAN_ORIGINATION, not CREDIT_LIMIT_REVIEW");
    for (const p of [Purpose.CREDIT_LIMIT_REVIEW, Purpose.POST_LOAN_MANAGEMENT, Purpose.SUBJECT_REQUEST]) {
      expect(reasonOf(consent({ purpose: p }), { purpose: p })).toBe("ok");
    }
  });

  it("ANY_PURPOSE (a dispute filed on the borrower's behalf): any purpose, every other condition still holds", () => {
    for (const p of [Purpose.LOAN_ORIGINATION, Purpose.FURNISHING, Purpose.SUBJECT_REQUEST]) {
      expect(reasonOf(consent({ purpose: p }), { purpose: ANY_PURPOSE })).toBe("ok");
    }
    expect(reasonOf(consent(), { purpose: ANY_PURPOSE, requesterInstitutionId: "bank-z" })).toBe("consent was granted to another institution");
    expect(reasonOf(consent(), { purpose: ANY_PURPOSE, subjectToken: "cd".repeat(32) })).toBe("consent is for another subject");
    expect(reasonOf(consent({}, stranger), { purpose: ANY_PURPOSE })).toBe("consent signature does not verify");
    expect(reasonOf(consent(), { purpose: ANY_PURPOSE, revokedAt: FROM })).toBe("consent was revoked");
    expect(reasonOf(consent(), { purpose: ANY_PURPOSE, now: UNTIL })).toBe("consent has expired");
  });

  it("grantee: the requester must be the institution the consent was granted to, signed by its key", () => {
    expect(reasonOf(consent(), { requesterInstitutionId: "bank-z" })).toBe("consent was granted to another institution");
    expect(reasonOf(consent({}, stranger))).toBe("consent signature does not verify");
    // Naming another grantee while signed by the requester's key does not help.
    expect(reasonOf(consent({ granteeInstitutionId: "bank-z" }, grantee), { requesterInstitutionId: "bank-z" })).toBe("consent signature does not verify");
    const edited = { ...consent(), validUntil: new Date(UNTIL.getTime() + 86_400_000) };
    expect(reasonOf(edited)).toBe("consent signature does not verify");
  });

  it("subject: the consent must be for the subject asked about", () => {
    expect(reasonOf(consent(), { subjectToken: "cd".repeat(32) })).toBe("consent is for another subject");
  });

  it("revoked: by its status or by a revocation the holder stored", () => {
    expect(reasonOf(consent({ status: ConsentStatus.REVOKED }))).toBe("consent was revoked");
    expect(reasonOf(consent(), { revokedAt: FROM })).toBe("consent was revoked");
  });

  it("valid_from: usable from valid_from minus the allowed clock skew, not a millisecond earlier", () => {
    const from = FROM.getTime();
    expect(reasonOf(consent(), { now: at(from - SKEW - 1) })).toBe("consent is not yet valid");
    expect(reasonOf(consent(), { now: at(from - SKEW) })).toBe("ok");
    expect(reasonOf(consent(), { now: at(from - 2_000) })).toBe("ok"); // a lender clock 2 s ahead
    expect(reasonOf(consent(), { now: at(from) })).toBe("ok");
    expect(reasonOf(consent(), { now: at(from - 1), maxClockSkewMs: 0 })).toBe("consent is not yet valid");
    expect(reasonOf(consent({ validFrom: undefined }))).toBe("consent is not yet valid");
  });

  it("valid_until: the authorization ends when it says, skew or not", () => {
    const until = UNTIL.getTime();
    expect(reasonOf(consent(), { now: at(until - 1) })).toBe("ok");
    expect(reasonOf(consent(), { now: at(until) })).toBe("consent has expired");
    expect(reasonOf(consent(), { now: at(until + SKEW - 1) })).toBe("consent has expired");
    expect(reasonOf(consent({ validUntil: undefined }))).toBe("consent has expired");
  });
});

describe("the consent rule (requester side: requireConsent)", () => {
  const denied = (c: Consent | undefined, over: Partial<ConsentCheck> = {}) => {
    try {
      requireConsent(c, check({ ...over, verifyGranteeSignature: undefined }));
    } catch (err) {
      if (isCreditMeshError(err, "CONSENT_DENIED")) return { field: err.field, message: err.message };
      throw err;
    }
    return "ok";
  };

  it("is the same rule, as CONSENT_DENIED naming the field", () => {
    expect(denied(consent())).toBe("ok");
    expect(denied(consent(), { purpose: Purpose.CREDIT_LIMIT_REVIEW })).toEqual({ field: "purpose", message: "consent is for LOAN_ORIGINATION, not CREDIT_LIMIT_REVIEW" });
    expect(denied(consent(), { subjectToken: "cd".repeat(32) })).toEqual({ field: "consent_id", message: "consent is for another subject" });
    expect(denied(consent(), { requesterInstitutionId: "bank-z" })).toEqual({ field: "consent_id", message: "consent was granted to another institution" });
    expect(denied(consent(), { revokedAt: FROM })).toEqual({ field: "consent_id", message: "consent was revoked" });
    expect(denied(consent(), { now: at(FROM.getTime() - SKEW - 1) })).toEqual({ field: "consent_id", message: "consent is not yet valid" });
    expect(denied(consent(), { now: at(FROM.getTime() - SKEW) })).toBe("ok");
    expect(denied(consent(), { now: UNTIL })).toEqual({ field: "consent_id", message: "consent has expired" });
    expect(denied(undefined)).toEqual({ field: "consent_id", message: "no consent artefact" });
  });
});
