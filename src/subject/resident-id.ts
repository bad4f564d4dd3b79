import { isoDate } from "../clock.js";
import { isRealDate } from "../records/dates.js";

/**
 * PRC resident identity number (GB 11643-1999): 6-digit region, 8-digit birth
 * date, 3-digit sequence, ISO 7064 MOD 11-2 check character.
 */

// Province-level codes (GB/T 2260 first two digits), including Taiwan, Hong Kong and Macau.
const PROVINCES = new Set([
  "11", "12", "13", "14", "15",
  "21", "22", "23",
  "31", "32", "33", "34", "35", "36", "37",
  "41", "42", "43", "44", "45", "46",
  "50", "51", "52", "53", "54",
  "61", "62", "63", "64", "65",
  "71", "81", "82",
]);

// 2^(17−i) mod 11 for positions 0..16.
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = "10X98765432";

/** The check character (0-9 or X) for the first 17 digits. */
export function residentIdCheckChar(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new RangeError("expected exactly 17 digits");
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

/**
 * Why `id` is not a valid resident ID, or undefined when it is one. A lowercase
 * x check character is accepted (callers normalize it to X). The reason never
 * repeats the whole number, only the part at fault.
 */
export function residentIdProblem(id: string, today: Date = new Date()): string | undefined {
  const artefact = exportArtefact(id);
  if (artefact) return artefact;
  if (id.length !== 18) return `must be 18 characters, got ${id.length}`;
  const nonDigit = /\D/.exec(id.slice(0, 17));
  if (nonDigit) return `characters 1-17 must be digits, found a non-digit at position ${nonDigit.index + 1}`;
  const given = id[17].toUpperCase();
  if (!/^[0-9X]$/.test(given)) return "check character must be a digit or X";

  const province = id.slice(0, 2);
  if (!PROVINCES.has(province)) return `region code must start with a province-level code, got ${province}`;

  const birth = id.slice(6, 14);
  const year = Number(birth.slice(0, 4));
  if (!isRealDate(year, Number(birth.slice(4, 6)), Number(birth.slice(6, 8)))) {
    return `birth date ${birth} is not a real date`;
  }
  if (year < 1900) return `birth date ${birth} is before 1900`;
  const todayIso = isoDate(today);
  if (`${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}` > todayIso) {
    return `birth date ${birth} is after today (${todayIso})`;
  }

  const expected = residentIdCheckChar(id.slice(0, 17));
  if (given !== expected) return `check character is ${given}, expected ${expected}`;
  return undefined;
}

/**
 * The 18-digit number that replaced a first-generation (15-digit, GB
 * 11643-1989) resident ID: the century 19 goes before the two-digit birth
 * year, and the check character is appended. Every first-generation number
 * was issued to someone born in the 1900s, so both spellings are one person.
 */
export function residentIdFrom15(id15: string): string {
  if (!/^\d{15}$/.test(id15)) throw new RangeError("expected exactly 15 digits");
  const first17 = `${id15.slice(0, 6)}19${id15.slice(6)}`;
  return first17 + residentIdCheckChar(first17);
}

/**
 * What a spreadsheet or a core system's export did to the number, when that
 * is why it is wrong: the furnisher fixes the export, not the row. Never
 * repeats the digits.
 */
function exportArtefact(id: string): string | undefined {
  if (id.startsWith("'")) return "starts with an apostrophe, a spreadsheet's mark for text: export the column without it";
  if (/^\d(\.\d+)?E\+?\d+$/i.test(id)) {
    return "is in scientific notation, so a spreadsheet has rounded away its last digits: export the column as text";
  }
  const invisible = /\p{Cf}/u.exec(id);
  if (invisible) {
    const code = invisible[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return `contains an invisible character (U+${code}) at position ${[...id.slice(0, invisible.index)].length + 1}`;
  }
  return undefined;
}
