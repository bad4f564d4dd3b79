import { describe, expect, it } from "vitest";
import { HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { CreditReport, type Inquiry } from "../../../src/gen/creditmesh/v1/report.js";
import { assembleReport } from "../../../src/report/assemble.js";
import { scoreReport } from "../../../src/report/score.js";
import { summarize } from "../../../src/report/summary.js";
import { answer, inquiry, scenario, signedResult, tradeline } from "./fixtures.js";

const keyOf = (t: { institutionId: string; accountRef: string }) => `${t.institutionId}/${t.accountRef}`;

describe("assembleReport", () => {
  it("merges every holder's tradelines in a fixed order, with summary and score", () => {
    const { input } = scenario();
    const report = assembleReport(input);
    expect(report.tradelines.map(keyOf)).toEqual(["bank-a/a-card", "bank-a/a-loan", "lender-b/b-loan"]);
    expect(report.summary).toMatchObject({ accounts: 3, institutions: 2, totalPastDue: "60000", delinquentAccounts: 1 });
    expect(report.score?.scorable).toBe(true);
    expect(report).toMatchObject({ reportId: "req-0001", subjectToken: "tok-subject", asOf: "2026-03-31", requesterInstitutionId: "bank-a" });
  });

  it("lists holders by institution with what the report took from each", () => {
    const report = assembleReport(scenario().input);
    expect(report.holders.map((h) => [h.institutionId, HolderStatus[h.status], h.tradelines])).toEqual([
      ["bank-a", "OK", 2],
      ["lender-b", "OK", 1],
      ["lender-c", "NO_DATA", 0],
      ["lender-d", "TIMEOUT", 0],
    ]);
    expect(report.holders[0].signature.length).toBe(64);
  });

  it("drops duplicate accounts and tradelines a holder attributes to another institution", () => {
    const { input, members, tradelines } = scenario();
    const olderCopy = { ...tradelines.aCard, reportedOn: "2026-03-01", balance: "1" };
    const forged = tradeline({ institutionId: "lender-b", accountRef: "forged", balance: "99999999" });
    const holders = [
      ...input.holders.filter((h) => h.outcome.institutionId !== "bank-a"),
      signedResult(members.a, answer({ holderInstitutionId: "bank-a", tradelines: [tradelines.aCard, olderCopy, tradelines.aLoan, forged] })),
    ];
    const report = assembleReport({ ...input, holders });
    expect(report.tradelines.map(keyOf)).toEqual(["bank-a/a-card", "bank-a/a-loan", "lender-b/b-loan"]);
    expect(report.tradelines[0].balance).toBe(tradelines.aCard.balance);
  });

  it("is deterministic: holders in any order give the same bytes", () => {
    const { input } = scenario();
    const bytes = CreditReport.encode(assembleReport(input)).finish();
    const reversed = CreditReport.encode(assembleReport({ ...input, holders: [...input.holders].reverse() })).finish();
    const rotated = CreditReport.encode(assembleReport({ ...input, holders: [...input.holders.slice(2), ...input.holders.slice(0, 2)] })).finish();
    expect(Buffer.from(reversed).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(rotated).equals(Buffer.from(bytes))).toBe(true);
  });

  it("shows a lender only its own inquiries but counts everyone's", () => {
    const report = assembleReport(scenario().input);
    expect(report.inquiries.map((q) => [q.inquiryId, q.requesterInstitutionId, q.requesterName])).toEqual([
      ["req-0001", "bank-a", "Bank A"],
    ]);
    expect(report.summary?.inquiries30d).toBe(2);
    expect(report.summary?.inquiringInstitutions30d).toBe(2);
  });

  it("shows the subject every inquiry once, named from the manifest, newest first", () => {
    const { input } = scenario();
    const report = assembleReport({ ...input, audience: "SUBJECT" });
    expect(report.inquiries.map((q) => [q.inquiryId, q.requesterName])).toEqual([
      ["req-0001", "Bank A"],
      ["req-0000", "Lender B Consumer Finance"],
    ]);
    expect(report.summary).toEqual(assembleReport(input).summary);
  });

  it("keeps another holder's inquiry in the 30-day window whatever copies of it a hostile holder sends", () => {
    const { input, members } = scenario();
    const real = inquiry("req-0000", "lender-b", "2026-03-20T10:30:00Z", Purpose.LOAN_ORIGINATION);
    const logged = [inquiry("req-0001", "bank-a", "2026-03-31T08:00:00Z"), real];
    const honest = input.holders.map((h) => {
      const signer = Object.values(members).find((m) => m.institutionId === h.outcome.institutionId);
      return h.answer && signer ? signedResult(signer, answer({ ...h.answer, inquiries: logged })) : h;
    });
    const withX = (copies: Inquiry[]) => [
      ...honest.filter((h) => h.outcome.institutionId !== "lender-c"),
      // An Invalid Date cannot be encoded to sign; assembly reads the decoded answer only.
      { ...signedResult(members.c, answer({ holderInstitutionId: "lender-c" })), answer: answer({ holderInstitutionId: "lender-c", inquiries: copies }) },
    ];
    const baseline = assembleReport({ ...input, holders: withX([real]) }).summary!;
    expect(baseline).toMatchObject({ inquiries30d: 2, inquiringInstitutions30d: 2 });
    const copies: Inquiry[][] = [
      [{ ...real, inquiredAt: undefined }],
      [{ ...real, inquiredAt: new Date(Number.NaN) }],
      [{ ...real, purpose: Purpose.SUBJECT_REQUEST, inquiredAt: new Date("2025-01-01T00:00:00Z") }],
      [{ ...real, inquiredAt: new Date("2026-01-01T00:00:00Z") }],
      [{ ...real, inquiredAt: new Date("2026-04-02T00:00:00Z") }],
    ];
    for (const c of copies) {
      for (const holders of [withX(c), withX(c).reverse()]) {
        const report = assembleReport({ ...input, holders, audience: "SUBJECT" });
        expect(report.summary, JSON.stringify(c)).toMatchObject({ inquiries30d: 2, inquiringInstitutions30d: 2 });
        expect(report.inquiries.find((q) => q.inquiryId === "req-0000" && q.purpose === Purpose.LOAN_ORIGINATION)?.inquiredAt).toEqual(real.inquiredAt);
      }
    }
  });

  it("takes the lender's own inquiries from its own answer only", () => {
    const { input, members } = scenario();
    const fake = [inquiry("req-fake", "bank-a", "2026-03-30T00:00:00Z"), inquiry("req-0001", "bank-a", "2026-03-01T00:00:00Z", Purpose.POST_LOAN_MANAGEMENT)];
    const holders = [
      ...input.holders.filter((h) => h.outcome.institutionId !== "lender-c"),
      signedResult(members.c, answer({ holderInstitutionId: "lender-c", inquiries: fake })),
    ];
    const report = assembleReport({ ...input, holders });
    expect(report.inquiries.map((q) => [q.inquiryId, q.purpose])).toEqual([["req-0001", Purpose.LOAN_ORIGINATION]]);
    expect(report.summary).toEqual(assembleReport(input).summary);
    // Without the lender's own answer, nothing names it.
    const withoutOwn = assembleReport({ ...input, holders: holders.filter((h) => h.outcome.institutionId !== "bank-a") });
    expect(withoutOwn.inquiries).toEqual([]);
  });

  it("never takes a requester name from a holder", () => {
    const { input, members } = scenario();
    const spoof = { ...inquiry("req-xxxx", "lender-z", "2026-03-30T00:00:00Z"), requesterName: "Trusted Bank" };
    const holders = [...input.holders, signedResult(members.c, answer({ holderInstitutionId: "lender-c", inquiries: [spoof] }))];
    const report = assembleReport({ ...input, holders, audience: "SUBJECT" });
    expect(report.inquiries.find((q) => q.inquiryId === "req-xxxx")?.requesterName).toBe("");
  });

  it("takes nothing from holders that did not answer OK or NO_DATA", () => {
    const { input, members, tradelines } = scenario();
    const denied = signedResult(members.c, answer({ holderInstitutionId: "lender-c", tradelines: [], inquiries: [] }));
    denied.outcome.status = HolderStatus.DENIED;
    denied.answer = answer({ holderInstitutionId: "lender-c", status: HolderStatus.DENIED, tradelines: [{ ...tradelines.bLoan, institutionId: "lender-c" }] });
    const report = assembleReport({ ...input, holders: [denied] });
    expect(report.tradelines).toEqual([]);
    expect(report.summary?.accounts).toBe(0);
    expect(report.score?.scorable).toBe(false);
  });

  it("scores what it summarizes", () => {
    const { input } = scenario();
    const report = assembleReport({ ...input, audience: "SUBJECT" });
    const summary = summarize(report.tradelines, report.inquiries, report.asOf);
    expect(report.summary).toEqual(summary);
    expect(report.score).toEqual(scoreReport({ tradelines: report.tradelines, inquiries: report.inquiries, summary, asOf: report.asOf }));
  });
});

describe("assembleReport: complete", () => {
  it("is false when a member that may hold data did not answer, true when every one answered OK or NO_DATA", () => {
    const { input } = scenario();
    const partial = assembleReport(input);
    expect(partial.complete).toBe(false);
    expect(partial.institutionNames).toEqual({ "bank-a": "Bank A", "lender-b": "Lender B Consumer Finance", "lender-c": "Lender C", "lender-d": "Lender D" });
    const all = assembleReport({ ...input, holders: input.holders.filter((h) => h.outcome.institutionId !== "lender-d") });
    expect(all.complete).toBe(true);
    for (const status of [HolderStatus.DENIED, HolderStatus.ERROR, HolderStatus.UNREACHABLE, HolderStatus.TIMEOUT]) {
      const holders = input.holders.map((h) => (h.outcome.institutionId === "lender-d" ? { outcome: { ...h.outcome, status } } : h));
      expect(assembleReport({ ...input, holders }).complete, HolderStatus[status]).toBe(false);
    }
  });
});
