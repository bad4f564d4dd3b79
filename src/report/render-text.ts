import type { CreditReport, HolderOutcome, Summary, Tradeline } from "../gen/creditmesh/v1/report.js";
import { commonCurrency, formatMinor } from "./amounts.js";
import { disputeLabel, formatBasisPoints, formatTimestamp, HISTORY_LEGEND, holderStatusLabel, nameCheckLabel, productLabel, purposeLabel, scoreBand, statusLabel } from "./labels.js";
import { groupInquiries, incompleteNotice, institutionLabel, institutionName, listedAccounts, maskId, partialListings, plural, type RenderOptions } from "./render-model.js";
import { delinquencyLevel } from "./status-rank.js";

const ANSI = { red: "\x1b[31m", yellow: "\x1b[33m", green: "\x1b[32m", bold: "\x1b[1m", reset: "\x1b[0m" };

/**
 * A report for a terminal: plain text in fixed-width columns under 100
 * characters; with `color`, delinquency in red and the incomplete banner in
 * bold yellow.
 */
export function renderText(report: CreditReport, opts: RenderOptions = {}): string {
  const paint = (style: keyof typeof ANSI, s: string) => (opts.color ? `${ANSI[style]}${s}${ANSI.reset}` : s);
  const currency = commonCurrency(report.tradelines.map((t) => t.currency));
  const notice = incompleteNotice(report);
  const lines: string[] = [
    "CREDITMESH CREDIT REPORT",
    ...(notice
      ? [paint("yellow", paint("bold", `INCOMPLETE: ${notice}`)), "  The summary and score below leave out whatever the missing institutions hold.", ""]
      : []),
    ...pairs([
      ...(opts.subject ? ([["Borrower", `${opts.subject.name}  ${maskId(opts.subject.idNumber)}  (as supplied by the requester)`]] as [string, string][]) : []),
      ["As of", report.asOf],
      ["Requester", `${institutionLabel(report, report.requesterInstitutionId)}, ${purposeLabel(report.purpose)}`],
      ["Generated", formatTimestamp(report.generatedAt)],
      ["Report", report.reportId],
      ["Subject token", report.subjectToken],
      ["Name", nameCheckLabel(report)],
    ]),
    "",
    ...scoreSection(report, notice !== undefined),
    "",
    "SUMMARY",
    ...(report.summary ? summaryLines(report.summary, currency, paint) : ["  (no summary)"]),
    "",
    `TRADELINES (${report.tradelines.length})`,
    `  history: ${HISTORY_LEGEND}`,
    ...partialListings(report).map((line) => `  ${printable(line)}`),
    ...(report.tradelines.length ? report.tradelines.flatMap((tl) => tradelineLines(report, tl, paint)) : ["  (none)"]),
    "",
    `INQUIRIES (${report.inquiries.length})`,
    ...inquiryLines(report),
    "",
    "INSTITUTIONS ASKED",
    ...table(["Institution", "Outcome", "Time", "Accounts", "Answer", "Reason"], report.holders.map((h) => holderRow(report, h))),
  ];
  return `${lines.join("\n")}\n`;
}

type Paint = (style: keyof typeof ANSI, s: string) => string;

function scoreSection(report: CreditReport, partial: boolean): string[] {
  const score = report.score;
  const caveat = partial ? ["  computed on partial data: some institutions did not answer"] : [];
  if (!score) return ["SCORE  (none)"];
  if (!score.scorable) return [`SCORE  not scorable (model ${score.modelVersion})`, `  ${score.unscorableReason}`, ...caveat];
  return [
    `SCORE  ${score.value} / 850  ${scoreBand(score.value)}${partial ? "  (PARTIAL DATA)" : ""}  (model ${score.modelVersion})`,
    ...caveat,
    ...score.reasons.map((r) => `  ${r.code}  ${r.text}`),
  ];
}

function summaryLines(s: Summary, currency: string | undefined, paint: Paint): string[] {
  const money = (v: string) => (currency ? formatMinor(v, currency) : `${v} (minor units, mixed currencies)`);
  const bad = (cond: boolean, v: string) => (cond ? paint("red", v) : v);
  return pairs([
    ["Accounts", `${s.accounts} (${s.openAccounts} open) at ${plural(s.institutions, "institution")}`],
    ["Total balance", money(s.totalBalance)],
    ["Total credit limit (open)", money(s.totalLimit)],
    ["Revolving utilization", formatBasisPoints(s.utilizationBp)],
    ["Total past due", bad(s.totalPastDue !== "0", money(s.totalPastDue))],
    ["Worst status, 24 months", bad(delinquencyLevel(s.worstStatus24m) > 0, s.accounts === 0 ? "None (no accounts)" : statusLabel(s.worstStatus24m))],
    ["Accounts past due now", bad(s.delinquentAccounts > 0, String(s.delinquentAccounts))],
    ["Opened in last 90 days", `${plural(s.accountsOpened90d, "account")} at ${plural(s.institutionsOpened90d, "institution")}`],
    ["Inquiries in last 30 days", `${s.inquiries30d} from ${plural(s.inquiringInstitutions30d, "institution")}`],
  ]);
}

function tradelineLines(report: CreditReport, tl: Tradeline, paint: Paint): string[] {
  const dispute = disputeLabel(tl.dispute);
  const closed = tl.closedOn ? `  closed ${printable(tl.closedOn)}` : "";
  const term = tl.termMonths ? `  term ${plural(tl.termMonths, "month")}` : "";
  const status = delinquencyLevel(tl.status) > 0 ? paint("red", statusLabel(tl.status)) : statusLabel(tl.status);
  const history = [...printable(tl.paymentHistory)].map((c) => (/[1-6]/.test(c) ? paint("red", c) : c)).join("");
  const money = (v: string) => printable(formatMinor(v, tl.currency));
  return [
    `  ${institutionLabel(report, tl.institutionId)}  ${productLabel(tl.productType)}  ${status}`,
    `    opened ${printable(tl.openedOn)}${closed}${term}  reported ${printable(tl.reportedOn)}`,
    `    balance ${money(tl.balance)}  limit ${money(tl.creditLimit)}  past due ${money(tl.amountPastDue)}`,
    `    history ${history}${dispute ? `  ${dispute}` : ""}`,
    `    ref ${printable(tl.accountRef)}`,
  ];
}

function inquiryLines(report: CreditReport): string[] {
  const groups = groupInquiries(report);
  if (groups.length === 0) return ["  (none)"];
  return table(
    ["Institution", "Purpose", "Count", "Latest"],
    groups.map((g) => [
      printable(g.name === g.institutionId || g.institutionId.startsWith("anon:") ? g.name : `${g.name} (${g.institutionId})`),
      purposeLabel(g.purpose),
      String(g.count),
      formatTimestamp(g.latest),
    ]),
  );
}

function holderRow(report: CreditReport, h: HolderOutcome): string[] {
  const name = institutionName(report, h.institutionId);
  return [
    name === h.institutionId ? name : `${name} (${h.institutionId})`,
    holderStatusLabel(h.status),
    `${h.latencyMs} ms`,
    listedAccounts(h),
    h.signature.length > 0 ? "signed" : "unsigned",
    printable(h.reason),
  ];
}

/** C0 and C1 controls (ESC, CSI, BEL, CR, LF…), DEL, and the Unicode line and paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Text a holder chose, as it may be shown on a terminal: a control sequence
 * in it could clear the screen, rewrite earlier lines or fake a line of the
 * report, so controls go; a line break becomes a space rather than join words.
 */
function printable(s: string): string {
  return s.replace(CONTROL, (c) => (c === "\n" || c === "\r" || c === "\t" || c === "\u2028" || c === "\u2029" || c === "\u0085" ? " " : ""));
}

function pairs(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}

/** Columns padded to their widest cell (counted in characters, so CJK names stay aligned enough). */
function table(header: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ["  (none)"];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? "")].length)));
  return all.map((r) => `  ${r.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join("  ")}`.trimEnd());
}
