import { quote } from "./quote.js";

const MAX_AMOUNT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * An int64 amount in minor units, as it arrives on the wire (a decimal
 * string), to a number. Bounded by MAX_SAFE_INTEGER so that arithmetic on it
 * stays exact; 9e15 fen is far beyond any real account.
 */
export function parseAmount(value: string): { amount: number } | { problem: string } {
  if (!/^\d+$/.test(value)) {
    return { problem: `must be a non-negative integer amount in minor units, got ${quote(value)}` };
  }
  if (BigInt(value) > MAX_AMOUNT) {
    return { problem: `must be at most ${Number.MAX_SAFE_INTEGER} minor units, got ${quote(value)}` };
  }
  return { amount: Number(value) };
}
