import { foldFullWidth } from "./half-width.js";

/**
 * Mainland China mobile numbers: 11 digits, 1 then 3-9. Formatting that people
 * type (full-width digits, spaces, dashes, a +86 or 0086 country prefix) is dropped so that the
 * same number always yields the same subject token.
 */
export function normalizeMobile(raw: string): string | undefined {
  const compact = foldFullWidth(raw).replace(/[\s-]/g, "").replace(/^(\+86|0086)/, "");
  return /^1[3-9]\d{9}$/.test(compact) ? compact : undefined;
}

export const MOBILE_RULE = "must be a mainland mobile number: 11 digits starting with 13-19, optionally prefixed +86";
