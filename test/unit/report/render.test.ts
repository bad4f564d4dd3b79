import { describe, expect, it } from "vitest";
import { AccountStatus, DisputeFlag } from "../../../src/gen/creditmesh/v1/common.js";
import type { CreditReport } from "../../../src/gen/creditmesh/v1/report.js";
import { formatMinor } from "../../../src/report/amounts.js";
import { assembleReport } from "../../../src/report/assemble.js";
import { renderHtml } from "../../../src/report/render-html.js";
import { renderText } from "../../../src/report/render-text.js";
import { scenario } from "./fixtures.js";

function subjectReport(): CreditReport {
  return assembleReport({ ...scenario().input, audience: "SUBJECT" });
}

describe("formatMinor", () => {
  it("renders minor units in major units with grouping and the currency", () => {
    expect(formatMinor("123456", "CNY")).toBe("1,234.56 CNY");
    expect(formatMinor("5", "CNY")).toBe("0.05 CNY");
    expect(formatMinor("0", "")).toBe("0.00 CNY");
    expect(formatMinor("-100000000", "USD")).toBe("-1,000,000.00 USD");
    expect(formatMinor("123456", "JPY")).toBe("123,456 JPY");
    expect(formatMinor("9223372036854775807", "CNY")).toBe("92,233,720,368,547,758.07 CNY");
    expect(formatMinor("12.5", "CNY")).toBe("12.5 CNY");
  });
});

describe("renderText", () => {
  it("shows score, reasons, summary, tradelines with history, inquiries and holders", () => {
    const report = subjectReport();
    const text = renderText(report);
    expect(text).toContain(`SCORE  ${report.score!.value} / 850`);
    for (const r of report.score!.reasons) expect(text).toContain(`${r.code}  ${r.text}`);
    expect(text).toContain("Total past due             600.00 CNY");
    expect(text).toContain("balance 1,234.56 CNY  limit 20,000.00 CNY");
    expect(text).toContain("history 2100000000BBBBBBBBBBBBBB");
    expect(text).toMatch(/Lender B Consumer Finance \(lender-b\)\s+Credit limit review\s+1\s+2026-03-20 10:30 UTC/);
    expect(text).toMatch(/Lender D \(lender-d\)\s+Timed out\s+2000 ms\s+0\s+unsigned\s+no answer within 2000 ms/);
    expect(text).toContain("Bank A (bank-a)  Installment loan  Current");
    expect(text).toContain("term 24 months");
  });

  it("prints no control character or extra line a holder put in its text", () => {
    const report = subjectReport();
    report.holders = report.holders.map((h) => (h.institutionId === "lender-c" ? { ...h, reason: "a\x1b[2Jb\nc" } : h));
    report.tradelines = report.tradelines.map((t, i) => (i === 0 ? { ...t, accountRef: "ref\r\u009b31mX", openedOn: "2019\u2028-04-01", paymentHistory: `\x07${t.paymentHistory}` } : t));
    const plain = renderText({ ...report, tradelines: [] });
    const text = renderText(report);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(text).toMatch(/Lender C \(lender-c\)\s+Answered, no data\s+18 ms\s+0\s+signed\s+a\[2Jb c\n/);
    expect(text).toContain("ref ref 31mX");
    expect(text).toContain("opened 2019 -04-01");
    expect(text.split("\n").length - plain.split("\n").length).toBe(report.tradelines.length * 5 - 1);
  });

  it("puts an INCOMPLETE banner above everything when a member did not answer, and labels the score as partial", () => {
    const text = renderText(subjectReport());
    const lines = text.split("\n");
    expect(lines[1]).toBe("INCOMPLETE: 3 of 4 institutions answered; lender-d did not answer: TIMEOUT (Lender D)");
    expect(text.indexOf("INCOMPLETE")).toBeLessThan(text.indexOf("SCORE"));
    expect(text).toMatch(/SCORE {2}\d+ \/ 850 {2}\w[\w ]*\(PARTIAL DATA\)/);
    expect(text).toContain("computed on partial data");
    const complete = subjectReport();
    complete.holders = complete.holders.filter((h) => h.institutionId !== "lender-d");
    expect(renderText(complete)).not.toContain("INCOMPLETE");
    expect(renderText(complete)).not.toContain("PARTIAL");
  });

  it("heads the report with the borrower's name and masked ID as the requester supplied them", () => {
    const text = renderText(subjectReport(), { subject: { idNumber: "11010519491231002X", name: "张三" } });
    expect(text).toContain("Borrower       张三  110105********002X");
    expect(text).not.toContain("11010519491231002X");
  });

  it("groups repeated inquiries by institution and purpose, with counts", () => {
    const report = subjectReport();
    const again = report.inquiries.find((q) => q.requesterInstitutionId === "bank-a")!;
    report.inquiries = [...report.inquiries, ...Array.from({ length: 7 }, (_, i) => ({ ...again, inquiryId: `again-${i}` }))];
    const text = renderText(report);
    expect(text).toMatch(/Bank A \(bank-a\)\s+Loan origination\s+8\s+2026-03-31 08:00 UTC/);
    expect(text.split("\n").filter((l) => /Loan origination\s+\d+\s/.test(l))).toHaveLength(1);
  });

  it("shows no wire names, even for a report with no accounts", () => {
    const report = { ...subjectReport(), tradelines: [] };
    report.summary = { ...report.summary!, accounts: 0, worstStatus24m: AccountStatus.ACCOUNT_STATUS_UNSPECIFIED };
    const text = renderText(report);
    expect(text).not.toMatch(/UNSPECIFIED|[A-Z]+_[A-Z_]+/);
    expect(text).toContain("None (no accounts)");
  });

  it("colours delinquency only when asked (a terminal)", () => {
    const plain = renderText(subjectReport());
    expect(plain).not.toContain("\x1b[");
    const coloured = renderText(subjectReport(), { color: true });
    expect(coloured).toContain("\x1b[31m60 days past due\x1b[0m");
    expect(coloured).toContain("history \x1b[31m2\x1b[0m\x1b[31m1\x1b[0m00000000");
    expect(coloured).toContain("\x1b[33m\x1b[1mINCOMPLETE");
  });

  it("explains an unscorable report", () => {
    const report = { ...subjectReport(), tradelines: [], score: { scorable: false, value: 0, unscorableReason: "Thin", reasons: [], modelVersion: "m" } };
    expect(renderText(report)).toContain("SCORE  not scorable (model m)\n  Thin");
  });
});

const EXTERNAL_REF = /\b(?:src|href|action|poster|data|formaction|srcset)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?\/\//i;

describe("renderHtml", () => {
  it("is self-contained: no scripts, no external references, a CSP that forbids fetches", () => {
    const html = renderHtml(subjectReport());
    expect(html).not.toMatch(EXTERNAL_REF);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  });

  it("has a 24-cell payment grid per tradeline with a class and data attribute per code", () => {
    const report = subjectReport();
    const html = renderHtml(report);
    const cells = [...html.matchAll(/<td class="ph (ph-[0-9A-Za-z]+)" data-code="([^"]*)" data-month="(\d{4}-\d{2})"/g)];
    expect(cells).toHaveLength(24 * report.tradelines.length);
    for (const [, cls, code] of cells) expect(cls).toBe(`ph-${code}`);
    const bLoan = html.slice(html.indexOf('data-account-ref="b-loan"'));
    expect(bLoan).toContain('<td class="ph ph-2" data-code="2" data-month="2026-03"');
    expect(bLoan).toContain('<td class="ph ph-1" data-code="1" data-month="2026-02"');
    expect(html).toContain(".ph-2{background:");
  });

  it("shows the score with gauge and reasons, the inquiries and the holders", () => {
    const report = subjectReport();
    const html = renderHtml(report);
    expect(html).toContain(`<p class="score-value" data-score="${report.score!.value}">${report.score!.value}</p>`);
    expect(html).toMatch(/<svg class="gauge"[^>]*>.*<line class="needle"/s);
    for (const r of report.score!.reasons) expect(html).toContain(`data-code="${r.code}"`);
    expect(html.match(/<tr class="inquiry"/g)).toHaveLength(2);
    expect(html.match(/<tr class="holder"/g)).toHaveLength(4);
    expect(html).toContain("<td>Lender D</td><td><code>lender-d</code></td><td><span class=\"badge badge-bad\">Timed out</span>");
    expect(html).toContain("1,234.56 CNY");
  });

  it("escapes every value it prints", () => {
    const report = subjectReport();
    const evil = '<img src=x onerror="alert(1)">';
    report.tradelines[0] = { ...report.tradelines[0], institutionId: evil, accountRef: `"'><script>`, dispute: DisputeFlag.DISPUTED };
    report.inquiries[0] = { ...report.inquiries[0], requesterName: evil };
    report.holders[0] = { ...report.holders[0], reason: "</td><script>x</script>" };
    report.subjectToken = "<b>tok</b>";
    const html = renderHtml(report);
    expect(html).not.toContain("<img");
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain("<b>tok");
    expect(html).toContain("&#60;img src=x onerror=&#34;alert(1)&#34;&#62;");
    expect(html).toContain("Disputed by the subject (XB)");
  });

  it("shows an unscorable report without a needle", () => {
    const report = { ...subjectReport(), score: { scorable: false, value: 0, unscorableReason: "Not enough credit history", reasons: [], modelVersion: "m" } };
    const html = renderHtml(report);
    expect(html).toContain('<p class="score-value unscorable" data-scorable="false">Not scorable</p>');
    expect(html).toContain("Not enough credit history");
    expect(html).not.toContain('class="needle"');
  });

  it("shows the INCOMPLETE banner before the score, the partial-data label and the masked borrower", () => {
    const html = renderHtml(subjectReport(), { subject: { idNumber: "11010519491231002X", name: "张三" } });
    const banner = html.indexOf('<div class="incomplete"');
    expect(banner).toBeGreaterThan(0);
    expect(banner).toBeLessThan(html.indexOf('id="score"'));
    expect(html).toContain("3 of 4 institutions answered; lender-d did not answer: TIMEOUT (Lender D)");
    expect(html).toContain('<p class="partial" data-partial="true">');
    expect(html).toContain("110105********002X");
    expect(html).not.toContain("11010519491231002X");
  });

  it("marks statuses and flags delinquency in the summary", () => {
    const html = renderHtml(subjectReport());
    expect(html).toContain(`<span class="status status-${AccountStatus.PAST_DUE_60}">60 days past due</span>`);
    expect(html).toMatch(/<tr class="alert"><th scope="row">Total past due<\/th><td>600.00 CNY<\/td><\/tr>/);
  });
});
