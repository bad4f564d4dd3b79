import type { CreditReport, HolderOutcome, Inquiry, Summary, Tradeline } from "../gen/creditmesh/v1/report.js";
import { commonCurrency, formatMinor } from "./amounts.js";
import {
  disputeLabel,
  formatBasisPoints,
  formatTimestamp,
  HISTORY_LEGEND,
  holderStatusLabel,
  nameCheckLabel,
  productLabel,
  purposeLabel,
  scoreBand,
  statusLabel,
} from "./labels.js";

/** A report for a terminal: plain text, fixed-width columns, no colour codes. */
export function renderText(report: CreditReport): string {
  const currency = commonCurrency(report.tradelines.map((t) => t.currency));
  const lines: string[] = [
    "CREDITMESH CREDIT REPORT",
    ...pairs([
      ["Report", report.reportId],
      ["Subject token", report.subjectToken],
      ["As of", report.asOf],
      ["Generated", formatTimestamp(report.generatedAt)],
      ["Requester", `${report.requesterInstitutionId} (${purposeLabel(report.purpose)})`],
      ["Name", nameCheckLabel(report)],
    ]),
    "",
    ...scoreSection(report),
    "",
    "SUMMARY",
    ...(report.summary ? summaryLines(report.summary, currency) : ["  (no summary)"]),
    "",
    `TRADELINES (${report.tradelines.length}; history ${HISTORY_LEGEND})`,
    ...(report.tradelines.length ? report.tradelines.flatMap(tradelineLines) : ["  (none)"]),
    "",
    `INQUIRIES (${report.inquiries.length})`,
    ...(report.inquiries.length ? report.inquiries.map(inquiryLine) : ["  (none)"]),
    "",
    "HOLDERS",
    ...table(report.holders.map(holderRow)),
  ];
  return `${lines.join("\n")}\n`;
}

function scoreSection(report: CreditReport): string[] {
  const score = report.score;
  if (!score) return ["SCORE  (none)"];
  if (!score.scorable) return [`SCORE  not scorable (model ${score.modelVersion})`, `  ${score.unscorableReason}`];
  return [
    `SCORE  ${score.value} / 850  ${scoreBand(score.value)}  (model ${score.modelVersion})`,
    ...score.reasons.map((r) => `  ${r.code}  ${r.text}`),
  ];
}

function summaryLines(s: Summary, currency: string | undefined): string[] {
  const money = (v: string) => (currency ? formatMinor(v, currency) : `${v} (minor units, mixed currencies)`);
  return pairs([
    ["Accounts", `${s.accounts} (${s.openAccounts} open) at ${s.institutions} institution(s)`],
    ["Total balance", money(s.totalBalance)],
    ["Total credit limit (open)", money(s.totalLimit)],
    ["Revolving utilization", formatBasisPoints(s.utilizationBp)],
    ["Total past due", money(s.totalPastDue)],
    ["Worst status, 24 months", statusLabel(s.worstStatus24m)],
    ["Accounts past due now", String(s.delinquentAccounts)],
    ["Opened in last 90 days", `${s.accountsOpened90d} account(s) at ${s.institutionsOpened90d} institution(s)`],
    ["Inquiries in last 30 days", `${s.inquiries30d} from ${s.inquiringInstitutions30d} institution(s)`],
  ]);
}

function tradelineLines(tl: Tradeline): string[] {
  const dispute = disputeLabel(tl.dispute);
  const closed = tl.closedOn ? `  closed ${tl.closedOn}` : "";
  return [
    `  ${tl.institutionId}  ${productLabel(tl.productType)}  opened ${tl.openedOn}${closed}  ${statusLabel(tl.status)}`,
    `    balance ${formatMinor(tl.balance, tl.currency)}  limit ${formatMinor(tl.creditLimit, tl.currency)}  past due ${formatMinor(tl.amountPastDue, tl.currency)}`,
    `    history ${tl.paymentHistory}  reported ${tl.reportedOn}${dispute ? `  ${dispute}` : ""}`,
    `    ref ${tl.accountRef}`,
  ];
}

function inquiryLine(q: Inquiry): string {
  const who = q.requesterName ? `${q.requesterName} (${q.requesterInstitutionId})` : q.requesterInstitutionId;
  return `  ${formatTimestamp(q.inquiredAt)}  ${who}  ${purposeLabel(q.purpose)}`;
}

function holderRow(h: HolderOutcome): string[] {
  const signed = h.signature.length > 0 ? "signed" : "unsigned";
  return [h.institutionId, holderStatusLabel(h.status), `${h.latencyMs} ms`, `${h.tradelines} tradeline(s)`, signed, h.reason];
}

function pairs(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}

function table(rows: string[][]): string[] {
  if (rows.length === 0) return ["  (none)"];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i])).join("  ")}`.trimEnd());
}
