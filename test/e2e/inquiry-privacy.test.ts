import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdType, ProductType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import { CreditReport, HolderAnswer, type Inquiry } from "../../src/gen/creditmesh/v1/report.js";
import { publicKeyFromPeerId, verifyByPeerId, verifySignature } from "../../src/identity/node-key.js";
import { InquirerPseudonyms } from "../../src/report/inquirer.js";
import { InquiryProofs } from "../../src/report/inquiry-proof.js";
import { verifyReport } from "../../src/report/verify.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { account, residentId } from "../helpers/records.js";

/**
 * The borrower's own file vs a lender's view of who else looked. Two lenders
 * that furnish nothing (bank-a, bank-d) and two holders (cfc-b, ecom-c) as
 * child processes. bank-d queries the borrower twice, then bank-a once.
 */

const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const daysAgo = (n: number): string => new Date(Date.parse(AS_OF) - n * DAY_MS).toISOString().slice(0, 10);
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19870921", 64, "440106"), name: "陈静", phone: "13600002222" };
const HOLDERS = ["cfc-b", "ecom-c"];
const PSEUDONYM = /^anon:[0-9a-f]{64}$/;

describe("inquiries: a lender sees counts and its own, the borrower sees every inquiry by name", () => {
  const roles: Role[][] = [[Role.LENDER], [Role.FURNISHER], [Role.FURNISHER], [Role.LENDER]];
  const net = new TestNetwork({ nodes: 4, roles: (i) => roles[i]! });
  const name = (id: string) => net.node(id).name;
  let d1: CreditReport;
  let d2: CreditReport;
  let lenderReport: CreditReport;
  let subjectReport: CreditReport;

  const consentAndReport = async (lender: string, purpose: Purpose): Promise<CreditReport> => {
    const consent = await net.client(lender).unary("grantConsent", {
      subject: BORROWER,
      purpose,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 7 * DAY_MS),
      // The SHA-256 of the signed authorization (for SUBJECT_REQUEST, of the borrower's own request).
      evidenceRef: `sha256:${createHash("sha256").update(`authorization-${lender}-${purpose}-${Date.now()}`).digest("hex")}`,
    });
    return net.client(lender).unary("getCreditReport", { subject: BORROWER, purpose, consentId: consent.consentId, asOf: AS_OF, deadlineMs: 5_000 });
  };

  /** Every holder answer in a report, checked against the manifest key and decoded. */
  const signedAnswers = (report: CreditReport): { institutionId: string; bytes: Buffer; answer: HolderAnswer }[] =>
    report.holders
      .filter((h) => HOLDERS.includes(h.institutionId))
      .map((h) => {
        expect(verifySignature(publicKeyFromPeerId(net.node(h.institutionId).peerId), h.signedAnswer, h.signature), h.institutionId).toBe(true);
        return { institutionId: h.institutionId, bytes: Buffer.from(h.signedAnswer), answer: HolderAnswer.decode(h.signedAnswer) };
      });

  const isMember = (id: string) => net.nodes.some((n) => n.institutionId === id);
  /** Inquiry proofs checked against the keys of `signers` (default every member), pseudonyms computed from the token. */
  const inquiryProofs = (signers: (id: string) => boolean = isMember) =>
    new InquiryProofs({
      memberIds: () => net.nodes.map((n) => n.institutionId),
      peerIdOf: (id) => (signers(id) ? net.node(id).peerId : undefined),
      pseudonymOf: (token, id) => new InquirerPseudonyms().of(token, id),
      verify: verifyByPeerId,
    });
  const verify = (report: CreditReport) =>
    verifyReport(report, {
      memberPublicKey: (id) => (isMember(id) ? publicKeyFromPeerId(net.node(id).peerId) : undefined),
      verify: verifySignature,
      inquiryProofs: inquiryProofs(),
    });

  beforeAll(async () => {
    await net.start();
    await net.waitConnected(["bank-a", "bank-d", ...HOLDERS]);
    for (const [i, id] of HOLDERS.entries()) {
      const acks = await net.client(id).submit([
        { records: [account({ idNumber: BORROWER.idNumber, name: BORROWER.name, accountId: `ACC-${id}`, productType: ProductType.INSTALLMENT_LOAN, openedOn: daysAgo(40 + i), creditLimit: "300000", termMonths: 3 })] },
      ]);
      expect(acks[0]!.accepted).toBe(1);
    }
    d1 = await consentAndReport("bank-d", Purpose.LOAN_ORIGINATION);
    d2 = await consentAndReport("bank-d", Purpose.CREDIT_LIMIT_REVIEW);
    lenderReport = await consentAndReport("bank-a", Purpose.LOAN_ORIGINATION);
    // The borrower asked bank-a (the institution serving them) for their own file: bank-a records that authorization.
    subjectReport = await consentAndReport("bank-a", Purpose.SUBJECT_REQUEST);
  }, 180_000);

  afterAll(() => net.stop());

  it("a lender's report lists only its own inquiry by name, and counts everyone's", () => {
    expect(lenderReport.tradelines.map((t) => t.institutionId).sort()).toEqual(HOLDERS);
    expect(lenderReport.inquiries.map((q) => [q.inquiryId, q.requesterInstitutionId, q.requesterName])).toEqual([
      [lenderReport.reportId, "bank-a", name("bank-a")],
    ]);
    // bank-d's two queries and this one; two distinct institutions.
    expect(lenderReport.summary).toMatchObject({ inquiries30d: 3, inquiringInstitutions30d: 2 });
  });

  it("neither the lender's report nor any signed answer in it names or identifies the other lender", () => {
    const json = JSON.stringify(CreditReport.toJSON(lenderReport));
    const encoded = Buffer.from(CreditReport.encode(lenderReport).finish());
    for (const secret of ["bank-d", name("bank-d"), net.node("bank-d").peerId]) {
      expect(json.includes(secret), secret).toBe(false);
      expect(encoded.includes(Buffer.from(secret, "utf8")), secret).toBe(false);
      for (const { institutionId, bytes } of signedAnswers(lenderReport)) {
        expect(bytes.includes(Buffer.from(secret, "utf8")), `${institutionId}: ${secret}`).toBe(false);
      }
    }
  });

  it("each holder shows the other lender's inquiries under one pseudonym, the same at every holder", () => {
    const seen = new Map<string, string>();
    for (const { institutionId, answer } of signedAnswers(lenderReport)) {
      const byId = new Map(answer.inquiries.map((q) => [q.inquiryId, q]));
      expect([...byId.keys()].sort(), institutionId).toEqual([d1.reportId, d2.reportId, lenderReport.reportId].sort());
      expect(byId.get(lenderReport.reportId)!.requesterInstitutionId).toBe("bank-a");
      for (const other of [d1, d2]) {
        const q = byId.get(other.reportId)!;
        expect(q.requesterInstitutionId).toMatch(PSEUDONYM);
        expect(q.requesterName).toBe("");
        seen.set(`${institutionId}/${other.reportId}`, q.requesterInstitutionId);
      }
    }
    // One institution, one pseudonym: across its two queries and across both holders.
    expect(new Set(seen.values()).size).toBe(1);
    expect(seen.size).toBe(4);
  });

  it("each of the other lender's inquiries carries that lender's own proof, which the manifest's keys check", () => {
    const signedBy = (only: string) => inquiryProofs((id) => id === only);
    for (const { institutionId, answer } of signedAnswers(lenderReport)) {
      for (const other of [d1, d2]) {
        const q = answer.inquiries.find((i) => i.inquiryId === other.reportId)!;
        expect(q.requesterProof?.signature, institutionId).toHaveLength(64);
        expect(signedBy("bank-d").proven(q, lenderReport.subjectToken), institutionId).toBe(true);
        // Only bank-d's key proves it: not the holder's that sent it, nor bank-a's.
        expect(signedBy(institutionId).proven(q, lenderReport.subjectToken)).toBe(false);
        expect(signedBy("bank-a").proven(q, lenderReport.subjectToken)).toBe(false);
      }
    }
  });

  it("still verifies offline: signatures, summary and score recomputed from the signed answers", () => {
    const result = verify(lenderReport);
    expect(result.failures).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it("the other lender's report does not name this lender either", () => {
    // bank-d's first report came before anyone else asked; its second one shows its own two.
    expect(d2.inquiries.map((q) => q.requesterInstitutionId)).toEqual(["bank-d", "bank-d"]);
    expect(d2.summary).toMatchObject({ inquiries30d: 2, inquiringInstitutions30d: 1 });
    expect(JSON.stringify(CreditReport.toJSON(d2)).includes("bank-a")).toBe(false);
  });

  it("the borrower's own report lists every inquiry with the institution's name, purpose and date", () => {
    expect(subjectReport.tradelines.map((t) => t.institutionId).sort()).toEqual(HOLDERS);
    const listed = subjectReport.inquiries.map((q: Inquiry) => [q.inquiryId, q.requesterInstitutionId, q.requesterName, q.purpose]);
    expect(listed.sort()).toEqual(
      [
        [d1.reportId, "bank-d", name("bank-d"), Purpose.LOAN_ORIGINATION],
        [d2.reportId, "bank-d", name("bank-d"), Purpose.CREDIT_LIMIT_REVIEW],
        [lenderReport.reportId, "bank-a", name("bank-a"), Purpose.LOAN_ORIGINATION],
        [subjectReport.reportId, "bank-a", name("bank-a"), Purpose.SUBJECT_REQUEST],
      ].sort(),
    );
    for (const q of subjectReport.inquiries) {
      expect(q.inquiredAt).toBeInstanceOf(Date);
      expect(q.inquiredAt!.toISOString().slice(0, 10)).toBe(AS_OF);
    }
    // Every holder gave the borrower's request the inquiries by institution, none under a pseudonym.
    for (const { answer } of signedAnswers(subjectReport)) {
      expect(answer.inquiries.every((q) => !PSEUDONYM.test(q.requesterInstitutionId))).toBe(true);
    }
    expect(verify(subjectReport).ok).toBe(true);
  });
});
