import { sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AccountStatus, HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { CreditReport, HolderAnswer } from "../../../src/gen/creditmesh/v1/report.js";
import { assembleReport } from "../../../src/report/assemble.js";
import { verifyReport, type VerifyOptions } from "../../../src/report/verify.js";
import { answer, ed25519Verify, inquiry, member, scenario, signedResult } from "./fixtures.js";

function setup() {
  const s = scenario();
  const report = assembleReport(s.input);
  const opts: VerifyOptions = { memberPublicKey: (id) => s.publicKeys.get(id), verify: ed25519Verify };
  return { ...s, report, opts };
}

/** A report as `creditmesh report --format json` saves it and `verify` reads it back. */
function saved(report: CreditReport): CreditReport {
  return CreditReport.fromJSON(JSON.parse(JSON.stringify(CreditReport.toJSON(report))));
}

describe("verifyReport", () => {
  it("accepts an untouched report, also after a JSON round trip", () => {
    const { report, opts } = setup();
    for (const r of [report, saved(report)]) {
      const result = verifyReport(r, opts);
      expect(result.failures).toEqual([]);
      expect(result.ok).toBe(true);
      expect(result.tradelines.every((t) => t.verified && t.inReport)).toBe(true);
      expect(result.tradelines).toHaveLength(3);
      expect(result.inquiries).toEqual([{ inquiryId: "req-0001", verified: true, reason: expect.any(String) }]);
      expect(result.summary.verified && result.score.verified).toBe(true);
      expect(result.holders.map((h) => [h.institutionId, h.state])).toEqual([
        ["bank-a", "VERIFIED"],
        ["lender-b", "VERIFIED"],
        ["lender-c", "VERIFIED"],
        // a timeout carries nothing to verify and does not fail the report
        ["lender-d", "UNSIGNED"],
      ]);
    }
  });

  it("rejects a single changed amount, naming the tradeline and the field", () => {
    const { report, opts } = setup();
    const tampered = saved(report);
    tampered.tradelines[2] = { ...tampered.tradelines[2], amountPastDue: "6000" };
    const result = verifyReport(tampered, opts);
    expect(result.ok).toBe(false);
    const bad = result.tradelines.filter((t) => !t.verified);
    expect(bad).toEqual([
      {
        institutionId: "lender-b",
        accountRef: "b-loan",
        inReport: true,
        verified: false,
        reason: expect.stringContaining('amount_past_due signed "60000", report "6000"'),
      },
    ]);
    expect(result.failures[0]).toMatch(/^tradeline lender-b\/b-loan: differs from the holder's signed answer/);
    // the summary no longer matches the tradelines it claims to summarize either
    expect(result.summary.verified).toBe(false);
    expect(result.holders.every((h) => h.state !== "FAILED")).toBe(true);
  });

  it("rejects a report that leaves out a signed tradeline", () => {
    const { report, opts } = setup();
    const result = verifyReport({ ...report, tradelines: report.tradelines.filter((t) => t.accountRef !== "b-loan") }, opts);
    expect(result.ok).toBe(false);
    expect(result.tradelines.find((t) => !t.verified)).toMatchObject({
      institutionId: "lender-b",
      accountRef: "b-loan",
      inReport: false,
      reason: "signed by its holder but missing from the report",
    });
  });

  it("rejects a tradeline no holder signed, and a duplicated one", () => {
    const { report, opts, tradelines } = setup();
    const invented = { ...tradelines.aCard, accountRef: "a-invented" };
    const result = verifyReport({ ...report, tradelines: [...report.tradelines, invented, report.tradelines[0]] }, opts);
    expect(result.failures).toEqual(
      expect.arrayContaining([
        "tradeline bank-a/a-invented: not in its holder's signed answer",
        "tradeline bank-a/a-card: appears more than once in the report",
      ]),
    );
  });

  it("rejects a bad signature and names the holder and its tradelines", () => {
    const { report, opts } = setup();
    const tampered = saved(report);
    const b = tampered.holders.find((h) => h.institutionId === "lender-b")!;
    b.signature = Buffer.from(b.signature.map((x, i) => (i === 0 ? x ^ 1 : x)));
    const result = verifyReport(tampered, opts);
    expect(result.ok).toBe(false);
    expect(result.holders.find((h) => h.institutionId === "lender-b")).toMatchObject({
      state: "FAILED",
      reason: "signature does not match the signed answer",
    });
    expect(result.tradelines.find((t) => t.accountRef === "b-loan")?.reason).toMatch(/holder's answer is not verified/);
  });

  it("rejects an answer signed by a key the manifest does not hold", () => {
    const { report, opts } = setup();
    const result = verifyReport(report, { ...opts, memberPublicKey: (id) => (id === "lender-c" ? undefined : opts.memberPublicKey(id)) });
    expect(result.failures).toContain("holder lender-c: not a member of the manifest: no public key");
    const impostor = member("lender-b");
    const result2 = verifyReport(report, { ...opts, memberPublicKey: (id) => (id === "lender-b" ? impostor.publicKeyBytes : opts.memberPublicKey(id)) });
    expect(result2.ok).toBe(false);
  });

  it("rejects a genuine signed answer from another query or subject", () => {
    const { input, members, opts } = setup();
    const cases: [Partial<HolderAnswer>, string][] = [
      [{ subjectToken: "tok-other" }, "subject_token"],
      [{ asOf: "2026-03-01" }, "as_of"],
      [{ requestId: "req-0old" }, "request_id"],
      [{ requesterInstitutionId: "lender-b" }, "requester_institution_id"],
    ];
    for (const [fields, field] of cases) {
      const replayed = signedResult(members.c, answer({ holderInstitutionId: "lender-c", ...fields }));
      const holders = [...input.holders.filter((h) => h.outcome.institutionId !== "lender-c"), replayed];
      const result = verifyReport(assembleReport({ ...input, holders }), opts);
      expect(result.ok, field).toBe(false);
      expect(result.holders.find((h) => h.institutionId === "lender-c")?.reason).toContain(`signed answer has ${field}`);
    }
  });

  it("recomputes the summary from the inquiries the lender could take, so a report with a holder's invented ones verifies", () => {
    const { input, members, opts } = setup();
    const invented = [inquiry("req-fake", "bank-a", "2026-03-30T00:00:00Z"), { ...inquiry("req-0000", "lender-b", "2026-01-01T00:00:00Z"), purpose: Purpose.CREDIT_LIMIT_REVIEW }];
    const holders = [
      ...input.holders.filter((h) => h.outcome.institutionId !== "lender-c"),
      signedResult(members.c, answer({ holderInstitutionId: "lender-c", inquiries: invented })),
    ];
    const report = assembleReport({ ...input, holders });
    expect(report.summary).toEqual(assembleReport(input).summary);
    const result = verifyReport(report, opts);
    expect(result.failures).toEqual([]);
    // A report that counts the invented one is not what the lender assembles.
    const inflated = { ...report, summary: { ...report.summary!, inquiries30d: report.summary!.inquiries30d + 1, inquiringInstitutions30d: 3 } };
    expect(verifyReport(inflated, opts).summary.verified).toBe(false);
    const shown = { ...report, inquiries: [...report.inquiries, { ...invented[0]!, requesterName: "Bank A" }] };
    expect(verifyReport(shown, opts).failures).toEqual(["inquiry req-fake: not in any verified signed answer"]);
  });

  it("rejects a report carrying an answer its holder signed but no holder sends, naming the field; the other holders stand", () => {
    const { input, members, opts, tradelines } = setup();
    const cases: [Partial<HolderAnswer>, string][] = [
      [{ tradelines: [{ ...tradelines.bLoan, openedOn: "2025-02-30" }] }, "tradelines[0].opened_on is not a date"],
      [{ tradelines: [{ ...tradelines.bLoan, status: 99 as AccountStatus }] }, "tradelines[0].status is not a known account status"],
      [{ tradelines: [{ ...tradelines.bLoan, balance: "-350000" }] }, "tradelines[0].balance is not an amount"],
      [{ tradelines: [{ ...tradelines.bLoan, institutionId: "bank-a" }] }, "another institution's tradelines"],
      [{ tradelines: [tradelines.bLoan], inquiries: [inquiry("x", "bank-a", "2026-03-31T08:00:00Z")] }, "inquiries[0].inquiry_id is not"],
      [{ tradelines: [tradelines.bLoan], status: HolderStatus.ERROR }, "status ERROR, which a holder does not send"],
    ];
    for (const [fields, problem] of cases) {
      const garbage = signedResult(members.b, answer({ holderInstitutionId: "lender-b", ...fields }));
      // As a lender node that skipped the requester's checks would assemble it: the signature is the holder's own.
      const holders = [...input.holders.filter((h) => h.outcome.institutionId !== "lender-b"), garbage];
      const result = verifyReport(saved(assembleReport({ ...input, holders })), opts);
      expect(result.ok, problem).toBe(false);
      const b = result.holders.find((h) => h.institutionId === "lender-b")!;
      expect(b.state, problem).toBe("FAILED");
      expect(b.reason, problem).toContain(`signed answer carries what no holder sends: `);
      expect(b.reason, problem).toContain(problem);
      const others = Object.fromEntries(result.holders.filter((h) => h.institutionId !== "lender-b").map((h) => [h.institutionId, h.state]));
      expect(others).toEqual({ "bank-a": "VERIFIED", "lender-c": "VERIFIED", "lender-d": "UNSIGNED" });
    }
  });

  it("rejects an OK holder without a signed answer", () => {
    const { report, opts } = setup();
    const holders = report.holders.map((h) => (h.institutionId === "lender-c" ? { ...h, signedAnswer: Buffer.alloc(0) } : h));
    const result = verifyReport({ ...report, holders }, opts);
    expect(result.holders.find((h) => h.institutionId === "lender-c")).toMatchObject({ state: "FAILED", verified: false });
  });

  it("rejects a status the holder did not sign", () => {
    const { report, opts } = setup();
    const holders = report.holders.map((h) => (h.institutionId === "lender-c" ? { ...h, status: HolderStatus.TIMEOUT } : h));
    const result = verifyReport({ ...report, holders }, opts);
    expect(result.holders.find((h) => h.institutionId === "lender-c")?.reason).toContain("status");
    expect(result.ok).toBe(false);
  });

  it("rejects a holder's account total the holder did not sign, and takes a report without one (a node before the field)", () => {
    const { report, opts } = setup();
    const c = report.holders.find((h) => h.institutionId === "lender-c")!;
    expect(c.tradelinesTotal).toBe(c.tradelines);
    const inflated = report.holders.map((h) => (h.institutionId === "lender-c" ? { ...h, tradelinesTotal: 900 } : h));
    const result = verifyReport({ ...report, holders: inflated }, opts);
    expect(result.holders.find((h) => h.institutionId === "lender-c")?.reason).toBe(`signed answer has tradelines_total ${c.tradelines}, the report shows 900`);
    expect(result.ok).toBe(false);
    const older = report.holders.map((h) => ({ ...h, tradelinesTotal: 0 }));
    expect(verifyReport({ ...report, holders: older }, opts).ok).toBe(true);
  });

  it("rejects an altered inquiry, score or summary", () => {
    const { report, opts } = setup();
    const inquiry = { ...report.inquiries[0], inquiredAt: new Date("2026-01-01T00:00:00Z") };
    expect(verifyReport({ ...report, inquiries: [inquiry] }, opts).failures).toEqual(["inquiry req-0001: not in any verified signed answer"]);
    const score = { ...report.score!, value: report.score!.value + 40 };
    expect(verifyReport({ ...report, score }, opts).failures).toEqual([expect.stringMatching(/^score: differs from a recomputation: value/)]);
    const summary = { ...report.summary!, inquiringInstitutions30d: 1 };
    expect(verifyReport({ ...report, summary }, opts).failures).toEqual([expect.stringMatching(/^summary: .*inquiring_institutions_30d recomputed 2, report 1/)]);
  });

  it("does not check a score made by another model version", () => {
    const { report, opts } = setup();
    const result = verifyReport({ ...report, score: { ...report.score!, modelVersion: "cm-score-0.9" } }, opts);
    expect(result.ok).toBe(false);
    expect(result.score.reason).toContain("cm-score-0.9");
  });

  it("treats a verifier that throws as a failed check", () => {
    const { report, opts } = setup();
    const result = verifyReport(report, {
      ...opts,
      verify: () => {
        throw new Error("bad key encoding");
      },
    });
    expect(result.ok).toBe(false);
    expect(result.holders[0].reason).toContain("bad key encoding");
  });

  it("uses the signature exactly as produced by node:crypto", () => {
    const { members } = setup();
    const data = HolderAnswer.encode(answer({ holderInstitutionId: "bank-a" })).finish();
    expect(ed25519Verify(members.a.publicKeyBytes, data, sign(null, data, members.a.privateKey))).toBe(true);
    expect(ed25519Verify(members.b.publicKeyBytes, data, sign(null, data, members.a.privateKey))).toBe(false);
  });
});
