import { invalid } from "../errors.js";

const INTEGER = /^-?\d+$/;

/** An int64 minor-unit amount as carried on the wire (decimal string). */
export function minorUnits(value: string, field: string): bigint {
  if (!INTEGER.test(value)) throw invalid(field, "must be an integer amount in minor units");
  return BigInt(value);
}

/**
 * The largest amount a holder's answer may carry: 10^15 minor units (10
 * trillion CNY), five orders above the ingest ceiling (records/validate.ts)
 * and low enough that the sum of every account in a report stays far inside
 * int64. Amounts are never negative: a holder derives them from furnished
 * amounts, which are refused below 0.
 */
export const MAX_ANSWER_AMOUNT_MINOR = 1e15;

/**
 * Whether an int64 decimal string is an amount in 0..MAX_ANSWER_AMOUNT_MINOR.
 * Checked on every tradeline of every answer, so by character codes and
 * Number(), which allocate nothing, rather than a regex or BigInt.
 */
export function isAnswerAmount(value: string): boolean {
  // "1000000000000000" is the longest value in range; anything longer is not.
  if (value.length === 0 || value.length > 16) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return Number(value) <= MAX_ANSWER_AMOUNT_MINOR;
}

/** ISO 4217 currencies whose minor unit is not 1/100. */
const MINOR_DIGITS: Readonly<Record<string, number>> = {
  JPY: 0,
  KRW: 0,
  VND: 0,
  CLP: 0,
  ISK: 0,
  BHD: 3,
  KWD: 3,
  OMR: 3,
  JOD: 3,
  TND: 3,
  LYD: 3,
  IQD: 3,
};

export const DEFAULT_CURRENCY = "CNY";

/** "123456" CNY → "1,234.56 CNY"; an unparseable value is shown as it is. */
export function formatMinor(value: string | bigint, currency: string): string {
  const code = currency || DEFAULT_CURRENCY;
  const text = typeof value === "bigint" ? value.toString() : value;
  if (!INTEGER.test(text)) return `${text} ${code}`;
  const negative = text.startsWith("-");
  const digits = MINOR_DIGITS[code] ?? 2;
  const abs = (negative ? text.slice(1) : text).replace(/^0+(?=\d)/, "").padStart(digits + 1, "0");
  const whole = abs.slice(0, abs.length - digits).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = digits > 0 ? `.${abs.slice(abs.length - digits)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction} ${code}`;
}

/** The one currency of a set of accounts, or undefined when they mix currencies. */
export function commonCurrency(currencies: Iterable<string>): string | undefined {
  const set = new Set<string>();
  for (const c of currencies) set.add(c || DEFAULT_CURRENCY);
  if (set.size === 0) return DEFAULT_CURRENCY;
  return set.size === 1 ? [...set][0] : undefined;
}
