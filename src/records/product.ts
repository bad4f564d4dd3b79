import { ProductType, productTypeToJSON } from "../gen/creditmesh/v1/common.js";

export const KNOWN_PRODUCT_TYPES: readonly ProductType[] = [
  ProductType.INSTALLMENT_LOAN,
  ProductType.REVOLVING_LINE,
  ProductType.CASH_LOAN,
  ProductType.CREDIT_CARD,
  ProductType.MORTGAGE,
  ProductType.AUTO_LOAN,
];

export function isKnownProductType(value: number): value is ProductType {
  return (KNOWN_PRODUCT_TYPES as readonly number[]).includes(value);
}

/** Revolving products have statements instead of a fixed term: term 0, balance may reach zero and rise again. */
export function isRevolving(productType: ProductType): boolean {
  return productType === ProductType.REVOLVING_LINE || productType === ProductType.CREDIT_CARD;
}

export function productTypeName(productType: ProductType): string {
  return productTypeToJSON(productType);
}
