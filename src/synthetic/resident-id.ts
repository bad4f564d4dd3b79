import { fromDay, toDay } from "../records/dates.js";
import { residentIdCheckChar } from "../subject/resident-id.js";
import type { Rng } from "./prng.js";

// Real county-level codes (GB/T 2260) spread over the provinces, so that
// generated IDs pass any region check and look like a national customer base.
export const REGION_CODES: readonly string[] = [
  "110101", "110105", "110108", "120101", "130102", "140105", "150102",
  "210102", "220102", "230102", "310104", "310115", "320102", "320505",
  "330106", "330108", "340104", "350203", "360102", "370102", "370202",
  "410105", "420111", "430104", "440106", "440305", "441900", "450103",
  "460106", "500103", "510107", "520102", "530102", "540102", "610113",
  "620102", "630104", "640104", "650102",
];

export interface ResidentIdOptions {
  /** Earliest birth date, YYYY-MM-DD; default 1960-01-01. */
  bornFrom?: string;
  /** Latest birth date, YYYY-MM-DD; default 2004-12-31. */
  bornTo?: string;
  /** A 6-digit region code; default one of REGION_CODES. */
  region?: string;
  /** The sequence's parity encodes sex (odd male, even female); default either. */
  sex?: "male" | "female";
}

/** A valid 18-character PRC resident ID: real region, real birth date, correct MOD 11-2 check character. */
export function generateResidentId(rng: Rng, opts: ResidentIdOptions = {}): string {
  const region = opts.region ?? rng.pick(REGION_CODES);
  if (!/^\d{6}$/.test(region)) throw new RangeError(`region must be 6 digits, got ${JSON.stringify(region)}`);
  const from = toDay(opts.bornFrom ?? "1960-01-01");
  const to = toDay(opts.bornTo ?? "2004-12-31");
  if (to < from) throw new RangeError("bornTo is before bornFrom");
  const birth = fromDay(rng.int(from, to)).replaceAll("-", "");
  let seq = rng.int(1, 999);
  if ((opts.sex === "male" && seq % 2 === 0) || (opts.sex === "female" && seq % 2 === 1)) seq = seq === 999 ? 998 : seq + 1;
  const first17 = `${region}${birth}${String(seq).padStart(3, "0")}`;
  return first17 + residentIdCheckChar(first17);
}
