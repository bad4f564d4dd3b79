import {
  AccountStatus,
  DisputeFlag,
  HolderStatus,
  ProductType,
  Purpose,
  holderStatusToJSON,
} from "../gen/creditmesh/v1/common.js";
import { NameCheck, type CreditReport } from "../gen/creditmesh/v1/report.js";

/** Plain-language names shown to lenders and borrowers; the wire names stay in JSON. */
const PRODUCT: Partial<Record<ProductType, string>> = {
  [ProductType.INSTALLMENT_LOAN]: "Installment loan",
  [ProductType.REVOLVING_LINE]: "Revolving line",
  [ProductType.CASH_LOAN]: "Cash loan",
  [ProductType.CREDIT_CARD]: "Credit card",
  [ProductType.MORTGAGE]: "Mortgage",
  [ProductType.AUTO_LOAN]: "Auto loan",
};

const STATUS: Partial<Record<AccountStatus, string>> = {
  [AccountStatus.CURRENT]: "Current",
  [AccountStatus.PAST_DUE_30]: "30 days past due",
  [AccountStatus.PAST_DUE_60]: "60 days past due",
  [AccountStatus.PAST_DUE_90]: "90 days past due",
  [AccountStatus.PAST_DUE_120]: "120 days past due",
  [AccountStatus.PAST_DUE_150]: "150 days past due",
  [AccountStatus.PAST_DUE_180_PLUS]: "180+ days past due",
  [AccountStatus.CHARGED_OFF]: "Charged off",
  [AccountStatus.PAID]: "Paid",
  [AccountStatus.CLOSED]: "Closed",
};

const PURPOSE: Partial<Record<Purpose, string>> = {
  [Purpose.LOAN_ORIGINATION]: "Loan origination",
  [Purpose.CREDIT_LIMIT_REVIEW]: "Credit limit review",
  [Purpose.POST_LOAN_MANAGEMENT]: "Post-loan management",
  [Purpose.SUBJECT_REQUEST]: "Subject's own request",
  [Purpose.FURNISHING]: "Furnishing",
};

const DISPUTE: Partial<Record<DisputeFlag, string>> = {
  [DisputeFlag.DISPUTED]: "Disputed by the subject (XB)",
  [DisputeFlag.RESOLVED_DISAGREES]: "Dispute resolved, subject disagrees (XC)",
};

// Unset and unknown values read as words too: a report never shows a wire name such as ACCOUNT_STATUS_UNSPECIFIED.
export const productLabel = (p: ProductType): string => PRODUCT[p] ?? "Other product";
export const statusLabel = (s: AccountStatus): string => STATUS[s] ?? (s === AccountStatus.ACCOUNT_STATUS_UNSPECIFIED ? "None" : "Unknown status");
export const purposeLabel = (p: Purpose): string => PURPOSE[p] ?? "Unknown purpose";

/** By wire name, so that outcomes added to the enum later still read as words. */
const HOLDER_STATUS: Readonly<Record<string, string>> = {
  OK: "Answered",
  NO_DATA: "Answered, no data",
  DENIED: "Denied",
  TIMEOUT: "Timed out",
  UNREACHABLE: "Unreachable",
  ERROR: "Error",
  SKIPPED: "Not asked (holds nothing on this borrower)",
  BUSY: "Busy",
};
export const holderStatusLabel = (s: HolderStatus): string => HOLDER_STATUS[holderStatusToJSON(s)] ?? "Unknown outcome";
export const disputeLabel = (d: DisputeFlag): string | undefined => DISPUTE[d];

export const HISTORY_CODE_TEXT: Readonly<Record<string, string>> = {
  "0": "current",
  "1": "30 days late",
  "2": "60 days late",
  "3": "90 days late",
  "4": "120 days late",
  "5": "150 days late",
  "6": "180+ days late",
  B: "before the account was opened",
  D: "no data",
  E: "zero balance",
};

export const HISTORY_LEGEND = "newest month first; 0 current, 1-6 = 30-180+ days late, B before opening, D no data, E zero balance";

/** Five bands in the usual 300-850 reading. */
export function scoreBand(value: number): string {
  if (value >= 800) return "Exceptional";
  if (value >= 740) return "Very good";
  if (value >= 670) return "Good";
  if (value >= 580) return "Fair";
  return "Poor";
}

export function formatTimestamp(d: Date | undefined): string {
  if (!d || Number.isNaN(d.getTime())) return "";
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function formatBasisPoints(bp: number): string {
  return bp < 0 ? "n/a (no revolving limit)" : `${(bp / 100).toFixed(2)} %`;
}

/** The report's name check in words; the warning comes first when the name differs from the one on file. */
export function nameCheckLabel(report: Pick<CreditReport, "nameCheck" | "nameDiffersAt">): string {
  switch (report.nameCheck) {
    case NameCheck.NAME_MATCHES:
      return "matches the name on file at every holder with accounts";
    case NameCheck.NAME_DIFFERS:
      return `WARNING: differs from the name on file at ${report.nameDiffersAt.join(", ")}: check the borrower's identity before using this report`;
    default:
      return "not checked (no name on file to compare)";
  }
}
