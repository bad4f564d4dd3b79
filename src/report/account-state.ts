import { AccountStatus, ProductType } from "../gen/creditmesh/v1/common.js";
import type { Tradeline } from "../gen/creditmesh/v1/report.js";
import { epochDay } from "./dates.js";

/** Open as a lender reads it: not settled, not written off, not closed by the report date. */
export function isOpen(tl: Tradeline, asOfDay: number): boolean {
  if (tl.status === AccountStatus.PAID || tl.status === AccountStatus.CLOSED) return false;
  if (tl.status === AccountStatus.CHARGED_OFF) return false;
  const closed = tl.closedOn === "" ? undefined : epochDay(tl.closedOn);
  return closed === undefined || closed > asOfDay;
}

export function isRevolving(product: ProductType): boolean {
  return product === ProductType.REVOLVING_LINE || product === ProductType.CREDIT_CARD;
}

export function isInstallment(product: ProductType): boolean {
  return (
    product === ProductType.INSTALLMENT_LOAN ||
    product === ProductType.CASH_LOAN ||
    product === ProductType.MORTGAGE ||
    product === ProductType.AUTO_LOAN
  );
}
