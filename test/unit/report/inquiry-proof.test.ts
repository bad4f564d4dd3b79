import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { QueryRequest } from "../../../src/gen/creditmesh/v1/peer.js";
import type { Inquiry } from "../../../src/gen/creditmesh/v1/report.js";
import { generateNodeKey, verifyByPeerId, type NodeKey } from "../../../src/identity/node-key.js";
import { assembleReport, type AssembleInput, type HolderResult } from "../../../src/report/assemble.js";
import { InquirerPseudonyms } from "../../../src/report/inquirer.js";
import {
  INQUIRY_PROOF_TIME_TOLERANCE_MS,
  INQUIRY_PROOF_V1,
  InquiryProofs,
  MAX_FAILED_PROOFS_PER_ANSWER,
  provenInReport,
  inquiryProofOf,
  querySignedBytes,
} from "../../../src/report/inquiry-proof.js";
import { verifyReport } from "../../../src/report/verify.js";
import { answer, AS_OF, ed25519Verify, member, signedResult } from "./fixtures.js";

const TOKEN = "ab".repeat(32);
const ISSUED = new Date("2026-03-30T09:00:00.123Z");
const keys: Record<string, NodeKey> = { "bank-a": generateNodeKey(), "lender-b": generateNodeKey(), "lender-c": generateNodeKey() };
const ids = Object.keys(keys);
const pseudonyms = new InquirerPseudonyms();

/** What a requester sends and a holder keeps: the query, its envelope signature, and the proof the holder stores. */
function sent(requester: string, over: Partial<QueryRequest> = {}) {
  const query: QueryRequest = {
    requestId: randomUUID(),
    requesterInstitutionId: requester,
    subjectToken: TOKEN,
    purpose: Purpose.LOAN_ORIGINATION,
    consent: undefined,
    issuedAt: ISSUED,
    nonce: randomBytes(16),
    asOf: "2026-03-30",
    inquiryProof: INQUIRY_PROOF_V1,
    ...over,
  };
  const body = QueryRequest.encode(query).finish();
  const signature = keys[requester]!.sign(querySignedBytes(body, query));
  return { query, body, signature, proof: inquiryProofOf(body, query, signature) };
}

/** The inquiry a holder logs for that query, as a lender other than the requester sees it (under a pseudonym). */
function logged(s: ReturnType<typeof sent>, over: Partial<Inquiry> = {}): Inquiry {
  return {
    inquiryId: s.query.requestId,
    requesterInstitutionId: pseudonyms.of(TOKEN, s.query.requesterInstitutionId),
    requesterName: "",
    purpose: s.query.purpose,
    inquiredAt: new Date(ISSUED.getTime() + 40),
    requesterProof: s.proof,
    ...over,
  };
}

const checker = (withPseudonyms = true) =>
  new InquiryProofs({
    memberIds: () => ids,
    peerIdOf: (id) => keys[id]?.peerId,
    pseudonymOf: withPseudonyms ? (token, id) => pseudonyms.of(token, id) : undefined,
    verify: verifyByPeerId,
  });

describe("the requester's proof of an inquiry", () => {
  it("is the query envelope's own signature: the holder checks it as the request's, and keeps it with the inquiry", () => {
    const s = sent("lender-b");
    expect(verifyByPeerId(keys["lender-b"]!.peerId, querySignedBytes(s.body, s.query), s.signature)).toBe(true);
    // The signature does not cover the body alone: the holder must check the statement.
    expect(verifyByPeerId(keys["lender-b"]!.peerId, s.body, s.signature)).toBe(false);
    expect(s.proof).toMatchObject({ issuedAt: ISSUED });
    expect(s.proof!.queryDigest).toHaveLength(32);
    // A query that changes after signing (here its as_of) no longer verifies: the digest binds the whole body.
    const altered = QueryRequest.encode({ ...s.query, asOf: "2026-03-29" }).finish();
    expect(verifyByPeerId(keys["lender-b"]!.peerId, querySignedBytes(altered, s.query), s.signature)).toBe(false);
  });

  it("a query of the earlier kind is signed over its body and leaves no proof", () => {
    const query = { ...sent("lender-b").query, inquiryProof: 0 };
    const body = QueryRequest.encode(query).finish();
    expect(querySignedBytes(body, query)).toBe(body);
    expect(inquiryProofOf(body, query, new Uint8Array(64))).toBeUndefined();
  });

  it("proves the inquiry shown under the requester's pseudonym, or by its name", () => {
    const s = sent("lender-b");
    expect(checker().proven(logged(s), TOKEN)).toBe(true);
    expect(checker().proven(logged(s, { requesterInstitutionId: "lender-b" }), TOKEN)).toBe(true);
    // Within the tolerance either way.
    for (const shift of [-INQUIRY_PROOF_TIME_TOLERANCE_MS, INQUIRY_PROOF_TIME_TOLERANCE_MS]) {
      expect(checker().proven(logged(s, { inquiredAt: new Date(ISSUED.getTime() + shift) }), TOKEN)).toBe(true);
    }
  });

  it("proves nothing a holder changed or made up", () => {
    const s = sent("lender-b");
    const cases: [string, Inquiry, string?][] = [
      ["no proof (an inquiry logged before proofs, or invented)", logged(s, { requesterProof: undefined })],
      ["another inquiry id", logged(s, { inquiryId: randomUUID() })],
      ["another purpose", logged(s, { purpose: Purpose.CREDIT_LIMIT_REVIEW })],
      ["another subject", logged(s), "cd".repeat(32)],
      ["another member's pseudonym on lender-b's inquiry", logged(s, { requesterInstitutionId: pseudonyms.of(TOKEN, "lender-c") })],
      ["another member's name on lender-b's inquiry", logged(s, { requesterInstitutionId: "lender-c" })],
      ["a pseudonym of no member", logged(s, { requesterInstitutionId: pseudonyms.of(TOKEN, "outsider") })],
      ["moved beyond the tolerance", logged(s, { inquiredAt: new Date(ISSUED.getTime() + INQUIRY_PROOF_TIME_TOLERANCE_MS + 1) })],
      ["another signed time", logged(s, { requesterProof: { ...s.proof!, issuedAt: new Date(ISSUED.getTime() - 86_400_000) } })],
      ["another digest", logged(s, { requesterProof: { ...s.proof!, queryDigest: Buffer.alloc(32, 7) } })],
      ["a short digest", logged(s, { requesterProof: { ...s.proof!, queryDigest: Buffer.alloc(8) } })],
      ["no inquired_at", logged(s, { inquiredAt: undefined })],
    ];
    for (const [what, q, token] of cases) expect(checker().proven(q, token ?? TOKEN), what).toBe(false);
    // Only a signature that was checked and failed is BAD_SIGNATURE (what made-up proofs cost a lender).
    expect(checker().verdict(logged(s, { inquiryId: randomUUID() }), TOKEN)).toBe("BAD_SIGNATURE");
    expect(checker().verdict(logged(s, { requesterProof: undefined }), TOKEN)).toBe("UNPROVEN");
    expect(checker().verdict(logged(s, { requesterInstitutionId: pseudonyms.of(TOKEN, "outsider") }), TOKEN)).toBe("UNPROVEN");
    expect(checker().verdict(logged(s), TOKEN)).toBe("PROVEN");
    // A holder signing "lender-b's" inquiry with its own key proves nothing either.
    const forged = sent("lender-c", { requesterInstitutionId: "lender-b" });
    expect(checker().proven(logged({ ...forged, query: { ...forged.query, requesterInstitutionId: "lender-b" } }), TOKEN)).toBe(false);
  });

  it("without the pseudonym function (an offline check on an HMAC-keyed network), any member's valid signature proves it", () => {
    const s = sent("lender-c");
    expect(checker(false).proven(logged(s, { requesterInstitutionId: "anon:unknown" }), TOKEN)).toBe(true);
    expect(checker(false).proven(logged(s, { requesterInstitutionId: "anon:unknown", purpose: Purpose.POST_LOAN_MANAGEMENT }), TOKEN)).toBe(false);
  });

  it("finds the members of a changed manifest", () => {
    const members = [...ids];
    let current: readonly string[] = members.slice(0, 2);
    const proofs = new InquiryProofs({ memberIds: () => current, peerIdOf: (id) => keys[id]?.peerId, pseudonymOf: (t, id) => pseudonyms.of(t, id), verify: verifyByPeerId });
    const s = sent("lender-c");
    expect(proofs.proven(logged(s), TOKEN)).toBe(false);
    current = members;
    expect(proofs.proven(logged(s), TOKEN)).toBe(true);
  });
});

/** bank-a's report about TOKEN from these holders' answers, taking other holders' inquiries by `inquiryProven`. */
function reportInput(holders: HolderResult[], inquiryProven: AssembleInput["inquiryProven"]) {
  return {
    reportId: "req-0001",
    requesterInstitutionId: "bank-a",
    purpose: Purpose.LOAN_ORIGINATION,
    subjectToken: TOKEN,
    asOf: AS_OF,
    generatedAt: new Date("2026-03-31T08:00:02Z"),
    holders,
    memberNames: new Map<string, string>(),
    audience: "SUBJECT" as const,
    inquiryProven,
  };
}

describe("assembleReport with inquiry proofs", () => {
  it("counts another holder's inquiries only with their requester's proof; the lender's own holder's are its own", () => {
    const proofs = checker();
    const honest = sent("lender-c");
    const invented = logged(sent("lender-c"), { inquiryId: randomUUID() });
    const unproven = logged(honest, { inquiryId: randomUUID(), requesterProof: undefined, requesterInstitutionId: pseudonyms.of(TOKEN, "lender-b") });
    // What bank-a's own holder logged when lender-c asked it (it checked the signature then), with no proof kept.
    const ownLogged = logged(sent("lender-c"), { requesterProof: undefined });
    const hostile = member("lender-b");
    const own = member("bank-a");
    const input = reportInput(
      [
        signedResult(hostile, answer({ holderInstitutionId: "lender-b", subjectToken: TOKEN, inquiries: [logged(honest), invented, unproven] })),
        signedResult(own, answer({ holderInstitutionId: "bank-a", subjectToken: TOKEN, inquiries: [ownLogged] })),
      ],
      (q: Inquiry) => proofs.proven(q, TOKEN),
    );
    const report = assembleReport(input);
    expect(report.inquiries.map((q) => q.inquiryId).sort()).toEqual([honest.query.requestId, ownLogged.inquiryId].sort());
    expect(report.summary).toMatchObject({ inquiries30d: 2 });
    // Unchecked, the hostile holder's two would have counted.
    expect(assembleReport({ ...input, inquiryProven: undefined }).summary).toMatchObject({ inquiries30d: 4 });

    // An offline check applies the same rule: the report verifies with proofs checked, and the unchecked one does not.
    const holderKeys = new Map([hostile, own].map((m) => [m.institutionId, m.publicKeyBytes]));
    const verifyOpts = { memberPublicKey: (id: string) => holderKeys.get(id), verify: ed25519Verify, inquiryProofs: proofs };
    expect(verifyReport(report, verifyOpts).failures).toEqual([]);
    const unchecked = verifyReport(assembleReport({ ...input, inquiryProven: undefined }), verifyOpts);
    expect(unchecked.ok).toBe(false);
    expect(unchecked.failures.join("\n")).toMatch(/inquiry .*|summary/);
  });

  it("a lender and verify stop checking one holder's proofs at the same point, so a report whose holder sent four bad ones first still verifies", () => {
    const proofs = checker();
    const bad = Array.from({ length: MAX_FAILED_PROOFS_PER_ANSWER }, () => logged(sent("lender-c"), { inquiryId: randomUUID() }));
    const honest = logged(sent("lender-c"));
    const hostile = member("lender-b");
    const input = reportInput(
      [signedResult(hostile, answer({ holderInstitutionId: "lender-b", subjectToken: TOKEN, inquiries: [...bad, honest] }))],
      provenInReport(proofs, TOKEN),
    );
    const report = assembleReport(input);
    // The valid fifth one is refused unverified, after four failures.
    expect(report.inquiries).toEqual([]);
    const verified = verifyReport(report, { memberPublicKey: () => hostile.publicKeyBytes, verify: ed25519Verify, inquiryProofs: proofs });
    expect(verified.failures).toEqual([]);
  });
});
