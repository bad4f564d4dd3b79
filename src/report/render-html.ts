import { NameCheck, type CreditReport, type Score, type Summary, type Tradeline } from "../gen/creditmesh/v1/report.js";
import { answeredInFull } from "./assemble.js";
import { commonCurrency, formatMinor } from "./amounts.js";
import { addMonths } from "./dates.js";
import {
  disputeLabel,
  formatBasisPoints,
  formatTimestamp,
  HISTORY_CODE_TEXT,
  holderStatusLabel,
  nameCheckLabel,
  productLabel,
  purposeLabel,
  scoreBand,
  statusLabel,
} from "./labels.js";
import { groupInquiries, incompleteNotice, institutionLabel, institutionName, listedAccounts, maskId, partialListings, plural, type RenderOptions } from "./render-model.js";
import { SCORE_MAX, SCORE_MIN } from "./scorecard.js";
import { delinquencyLevel, HISTORY_MONTHS } from "./status-rank.js";

/**
 * One self-contained page: inline CSS and SVG, no scripts, and a content
 * security policy that forbids every fetch, so a saved report opened years
 * later shows exactly what it held and tells nobody it was opened.
 */
export function renderHtml(report: CreditReport, opts: RenderOptions = {}): string {
  const currency = commonCurrency(report.tradelines.map((t) => t.currency));
  const notice = incompleteNotice(report);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Credit report ${esc(report.reportId)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>Credit report${opts.subject ? ` · <span class="borrower">${esc(opts.subject.name)}</span> <span class="masked-id">${esc(maskId(opts.subject.idNumber))}</span>` : ""}</h1>
${report.nameCheck === NameCheck.NAME_DIFFERS ? `<p class="name-differs" role="alert" data-name-check="differs"><strong>${esc(nameCheckLabel(report))}</strong></p>` : ""}
<dl class="meta">
${dl([
  ...(opts.subject ? ([["Borrower", `${opts.subject.name} · ${maskId(opts.subject.idNumber)} (as supplied by the requester)`]] as [string, string][]) : []),
  ["As of", report.asOf],
  ["Requester", `${institutionLabel(report, report.requesterInstitutionId)} · ${purposeLabel(report.purpose)}`],
  ["Generated", formatTimestamp(report.generatedAt)],
  ["Report", report.reportId],
  ["Subject token", report.subjectToken],
  ["Name", nameCheckLabel(report)],
])}
</dl>
</header>
<main>
${notice ? `<div class="incomplete" id="incomplete" role="alert"><strong>INCOMPLETE</strong> · ${esc(notice)}. The summary and score leave out whatever the missing institutions hold.</div>` : ""}
<div class="top">
${scoreSection(report.score, notice !== undefined)}
${summarySection(report.summary, currency)}
</div>
${tradelinesSection(report)}
${inquiriesSection(report)}
${holdersSection(report)}
</main>
<footer>Amounts in minor units are shown in major units of their currency. Check this report's signatures offline with <code>creditmesh verify</code> and the network's membership manifest.</footer>
</body>
</html>
`;
}

function scoreSection(score: Score | undefined, partial: boolean): string {
  const caveat = partial ? `<p class="partial" data-partial="true">Computed on partial data: some institutions did not answer.</p>` : "";
  if (!score || !score.scorable) {
    const why = score ? score.unscorableReason : "No score in this report.";
    return `<section class="card score" id="score" aria-label="Score">
<h2>Score</h2>
${gauge(undefined)}
<p class="score-value unscorable" data-scorable="false">Not scorable</p>
<p class="unscorable-reason">${esc(why)}</p>
${caveat}
${score ? `<p class="model">Model ${esc(score.modelVersion)}</p>` : ""}
</section>`;
  }
  const reasons = score.reasons
    .map((r) => `<li class="reason" data-code="${esc(r.code)}"><span class="code">${esc(r.code)}</span> ${esc(r.text)}</li>`)
    .join("\n");
  return `<section class="card score" id="score" aria-label="Score">
<h2>Score</h2>
${gauge(score.value)}
<p class="score-value" data-score="${score.value}">${score.value}</p>
<p class="band">${esc(scoreBand(score.value))} · range ${SCORE_MIN}–${SCORE_MAX} · model ${esc(score.modelVersion)}</p>
${caveat}
${reasons ? `<h3>What lowers this score most</h3>\n<ol class="reasons">\n${reasons}\n</ol>` : `<p class="reasons-none">No factor lowered this score.</p>`}
</section>`;
}

const GAUGE_BANDS: [number, number, string][] = [
  [300, 580, "#c62828"],
  [580, 670, "#ef6c00"],
  [670, 740, "#f9a825"],
  [740, 800, "#7cb342"],
  [800, 850, "#2e7d32"],
];

/** A half dial from 300 (left) to 850 (right) with a needle at the score. */
function gauge(value: number | undefined): string {
  const cx = 110;
  const cy = 105;
  const r = 85;
  const xy = (v: number, radius: number): [string, string] => {
    const angle = Math.PI * (1 - (Math.min(SCORE_MAX, Math.max(SCORE_MIN, v)) - SCORE_MIN) / (SCORE_MAX - SCORE_MIN));
    return [(cx + radius * Math.cos(angle)).toFixed(2), (cy - radius * Math.sin(angle)).toFixed(2)];
  };
  const arcs = GAUGE_BANDS.map(([from, to, colour]) => {
    const [x1, y1] = xy(from, r);
    const [x2, y2] = xy(to, r);
    return `<path d="M ${x1} ${y1} A ${r} ${r} 0 0 1 ${x2} ${y2}" stroke="${colour}" stroke-width="18" fill="none"/>`;
  }).join("");
  let needle = "";
  if (value !== undefined) {
    const [x2, y2] = xy(value, r - 4);
    needle = `<line class="needle" x1="${cx}" y1="${cy}" x2="${x2}" y2="${y2}" stroke="#212121" stroke-width="4" stroke-linecap="round"/><circle cx="${cx}" cy="${cy}" r="7" fill="#212121"/>`;
  }
  return `<svg class="gauge" viewBox="0 0 220 125" width="260" height="148" role="img" aria-label="${value === undefined ? "no score" : `score ${value} of ${SCORE_MAX}`}">${arcs}${needle}<text x="18" y="122" font-size="11" fill="#555">${SCORE_MIN}</text><text x="184" y="122" font-size="11" fill="#555">${SCORE_MAX}</text></svg>`;
}

function summarySection(s: Summary | undefined, currency: string | undefined): string {
  if (!s) return `<section class="card summary" id="summary"><h2>Summary</h2><p>No summary.</p></section>`;
  const money = (v: string) => (currency ? formatMinor(v, currency) : `${v} (minor units, mixed currencies)`);
  const flag = (bad: boolean) => (bad ? ' class="alert"' : "");
  const rows: [string, string, boolean][] = [
    ["Accounts", `${s.accounts} (${s.openAccounts} open)`, false],
    ["Institutions", String(s.institutions), false],
    ["Total balance", money(s.totalBalance), false],
    ["Total credit limit (open)", money(s.totalLimit), false],
    ["Revolving utilization", formatBasisPoints(s.utilizationBp), s.utilizationBp >= 5000],
    ["Total past due", money(s.totalPastDue), s.totalPastDue !== "0"],
    ["Worst status, 24 months", s.accounts === 0 ? "None (no accounts)" : statusLabel(s.worstStatus24m), delinquencyLevel(s.worstStatus24m) > 0],
    ["Accounts past due now", String(s.delinquentAccounts), s.delinquentAccounts > 0],
    ["Institutions with accounts opened, 90 days", String(s.institutionsOpened90d), s.institutionsOpened90d >= 2],
    ["Accounts opened, 90 days", String(s.accountsOpened90d), s.accountsOpened90d >= 2],
    ["Inquiries, 30 days", String(s.inquiries30d), false],
    ["Inquiring institutions, 30 days", String(s.inquiringInstitutions30d), s.inquiringInstitutions30d >= 3],
  ];
  return `<section class="card summary" id="summary" aria-label="Summary">
<h2>Summary</h2>
<table class="figures">
${rows.map(([k, v, bad]) => `<tr${flag(bad)}><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join("\n")}
</table>
</section>`;
}

function tradelinesSection(report: CreditReport): string {
  const months = Array.from({ length: HISTORY_MONTHS }, (_, i) => safeMonth(report.asOf, -i));
  const body = report.tradelines.length
    ? report.tradelines.map((tl) => tradelineBlock(report, tl, months)).join("\n")
    : `<p>No tradelines.</p>`;
  const legend = ["0", "E", "1", "2", "3", "4", "5", "6", "B", "D"]
    .map((c) => `<span class="legend-item"><span class="ph ph-${c}">${c}</span> ${esc(HISTORY_CODE_TEXT[c])}</span>`)
    .join(" ");
  return `<section id="tradelines" aria-label="Tradelines">
<h2>Accounts and 24-month payment history</h2>
<p class="legend">Newest month first. ${legend}</p>
${partialListings(report)
  .map((line) => `<p class="partial-listing">${esc(line)}</p>`)
  .join("\n")}
${body}
</section>`;
}

function safeMonth(asOf: string, offset: number): string {
  try {
    return addMonths(asOf, offset).slice(0, 7);
  } catch {
    return "";
  }
}

function tradelineBlock(report: CreditReport, tl: Tradeline, months: readonly string[]): string {
  const dispute = disputeLabel(tl.dispute);
  const cells = months
    .map((month, i) => {
      const code = tl.paymentHistory[i] ?? "";
      const cls = /^[0-6BDE]$/.test(code) ? `ph-${code}` : code === "" ? "ph-none" : "ph-other";
      const title = `${month}: ${HISTORY_CODE_TEXT[code] ?? (code ? `code ${code}` : "not reported")}`;
      return `<td class="ph ${cls}" data-code="${esc(code)}" data-month="${esc(month)}" title="${esc(title)}">${esc(code)}</td>`;
    })
    .join("");
  const head = months.map((m) => `<th scope="col">${esc(m.slice(2))}</th>`).join("");
  return `<article class="tradeline" data-institution="${esc(tl.institutionId)}" data-account-ref="${esc(tl.accountRef)}">
<h3>${esc(institutionLabel(report, tl.institutionId))} · ${esc(productLabel(tl.productType))} <span class="status status-${esc(String(tl.status))}">${esc(statusLabel(tl.status))}</span>${dispute ? ` <span class="dispute">${esc(dispute)}</span>` : ""}</h3>
<p class="facts">Opened ${esc(tl.openedOn)}${tl.closedOn ? ` · closed ${esc(tl.closedOn)}` : ""} · balance ${esc(formatMinor(tl.balance, tl.currency))} · limit ${esc(formatMinor(tl.creditLimit, tl.currency))} · past due ${esc(formatMinor(tl.amountPastDue, tl.currency))}${tl.termMonths ? ` · term ${plural(tl.termMonths, "month")}` : ""} · reported ${esc(tl.reportedOn)}</p>
<p class="ref">Account ref <code>${esc(tl.accountRef)}</code></p>
<div class="grid-wrap"><table class="grid" aria-label="Payment history">
<thead><tr>${head}</tr></thead>
<tbody><tr>${cells}</tr></tbody>
</table></div>
</article>`;
}

function inquiriesSection(report: CreditReport): string {
  const rows = groupInquiries(report)
    .map(
      (g) =>
        `<tr class="inquiry" data-institution="${esc(g.institutionId)}" data-count="${g.count}"><td>${esc(g.name)}</td><td><code>${esc(g.institutionId.startsWith("anon:") ? "" : g.institutionId)}</code></td><td>${esc(purposeLabel(g.purpose))}</td><td class="num">${g.count}</td><td>${esc(formatTimestamp(g.latest))}</td></tr>`,
    )
    .join("\n");
  return `<section id="inquiries" aria-label="Inquiries">
<h2>Inquiries</h2>
${
  rows
    ? `<table class="list"><thead><tr><th>Institution</th><th>Member id</th><th>Purpose</th><th>Count</th><th>Latest</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>`
    : "<p>No inquiries shown.</p>"
}
</section>`;
}

function holdersSection(report: CreditReport): string {
  const rows = report.holders
    .map((h) => {
      const ok = answeredInFull(h.status);
      return `<tr class="holder" data-institution="${esc(h.institutionId)}"><td>${esc(institutionName(report, h.institutionId))}</td><td><code>${esc(h.institutionId)}</code></td><td><span class="badge ${ok ? "badge-ok" : "badge-bad"}">${esc(holderStatusLabel(h.status))}</span></td><td class="num">${h.latencyMs} ms</td><td class="num">${esc(listedAccounts(h))}</td><td>${h.signature.length > 0 ? "signed" : "unsigned"}</td><td>${esc(h.reason)}</td></tr>`;
    })
    .join("\n");
  return `<section id="holders" aria-label="Holders">
<h2>Institutions asked</h2>
<table class="list"><thead><tr><th>Institution</th><th>Member id</th><th>Outcome</th><th>Latency</th><th>Tradelines</th><th>Answer</th><th>Reason</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</section>`;
}

function dl(rows: [string, string][]): string {
  return rows.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join("\n");
}

function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;color:#1f2328;background:#f4f5f7}
header{background:#1d3557;color:#fff;padding:16px 28px}
header h1{margin:0 0 8px;font-size:22px}
.name-differs{margin:0 0 10px;padding:8px 12px;background:#b42318;color:#fff;border-radius:4px}
.masked-id{font:600 18px ui-monospace,monospace;opacity:.9}
.incomplete{background:#fff3cd;border:2px solid #e0a800;color:#533f03;border-radius:8px;padding:12px 16px;margin:0 0 18px;font-size:15px}
.incomplete strong{color:#8a3b00;letter-spacing:.05em}
.partial{color:#8a3b00;font-weight:600;margin:4px 0 8px}
.meta{display:flex;flex-wrap:wrap;gap:6px 28px;margin:0}
.meta div{min-width:0}
.meta dt{font-size:11px;text-transform:uppercase;opacity:.75}
.meta dd{margin:0;word-break:break-all}
main{padding:20px 28px;max-width:1200px}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:0 0 4px}
section{margin-bottom:22px}
.top{display:flex;flex-wrap:wrap;gap:20px;align-items:stretch}
.card{background:#fff;border-radius:8px;padding:16px 20px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.score{flex:0 0 340px;text-align:center}
.summary{flex:1 1 420px}
.score-value{font-size:44px;font-weight:700;margin:-6px 0 0}
.score-value.unscorable{font-size:26px;color:#6a737d}
.band{margin:2px 0 10px;color:#444}
.reasons{text-align:left;margin:0;padding-left:22px}
.reason{margin:4px 0}
.code{display:inline-block;font:12px ui-monospace,monospace;background:#eef1f5;border-radius:4px;padding:0 5px;margin-right:4px}
.figures{width:100%;border-collapse:collapse}
.figures th{text-align:left;font-weight:400;color:#444;padding:4px 8px 4px 0}
.figures td{text-align:right;font-variant-numeric:tabular-nums;padding:4px 0}
.figures tr+tr{border-top:1px solid #eee}
.figures tr.alert td{color:#b71c1c;font-weight:600}
.tradeline{background:#fff;border-radius:8px;padding:12px 16px;margin:10px 0;box-shadow:0 1px 3px rgba(0,0,0,.1)}
.facts{margin:2px 0;color:#333}
.ref{margin:2px 0 8px;color:#6a737d;font-size:12px;word-break:break-all}
.status{font-weight:600;font-size:12px;padding:1px 6px;border-radius:4px;background:#e8f5e9;color:#1b5e20}
.status-2,.status-3{background:#fff3e0;color:#e65100}
.status-4,.status-5,.status-6,.status-7,.status-8{background:#ffebee;color:#b71c1c}
.dispute{font-size:12px;color:#6a1b9a;margin-left:6px}
.grid-wrap{overflow-x:auto}
.grid{border-collapse:separate;border-spacing:2px}
.grid th{font:10px ui-monospace,monospace;color:#6a737d;font-weight:400;padding:0 1px;white-space:nowrap}
.ph{width:30px;height:24px;text-align:center;font:600 12px ui-monospace,monospace;border-radius:3px;display:inline-block;line-height:24px}
td.ph{display:table-cell}
.ph-0{background:#2e7d32;color:#fff}
.ph-E{background:#a5d6a7;color:#1b5e20}
.ph-1{background:#fdd835;color:#000}
.ph-2{background:#fb8c00;color:#000}
.ph-3{background:#e64a19;color:#fff}
.ph-4{background:#c62828;color:#fff}
.ph-5{background:#b71c1c;color:#fff}
.ph-6{background:#6d0000;color:#fff}
.ph-B{background:#eceff1;color:#90a4ae}
.ph-D{background:repeating-linear-gradient(45deg,#cfd8dc,#cfd8dc 3px,#eceff1 3px,#eceff1 6px);color:#455a64}
.ph-none,.ph-other{background:#fff;border:1px dashed #b0bec5;color:#455a64}
.legend{color:#444}
.legend-item{white-space:nowrap;margin-right:8px}
.legend .ph{width:20px;height:18px;line-height:18px;font-size:11px}
.list{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;overflow:hidden;box-shadow:0 1px 3px rgba(0,0,0,.1)}
.list th{background:#eef1f5;text-align:left;padding:6px 10px;font-size:12px;text-transform:uppercase;color:#444}
.list td{padding:6px 10px;border-top:1px solid #eee}
.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{font-size:12px;font-weight:600;padding:1px 8px;border-radius:10px}
.badge-ok{background:#e8f5e9;color:#1b5e20}
.badge-bad{background:#ffebee;color:#b71c1c}
footer{padding:10px 28px 24px;color:#6a737d;font-size:12px}
code{font:12px ui-monospace,monospace}
@media print{body{background:#fff}.card,.tradeline,.list{box-shadow:none;border:1px solid #ddd}}
`;
