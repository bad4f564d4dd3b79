import { invalid } from "../errors.js";
import { residentIdProblem } from "./resident-id.js";

/** What a piece of free text was found to carry. */
export type PiiKind = "resident ID number" | "mobile number" | "the subject's name";

export interface ScreenOptions {
  /** Names of the subject the text is about, when the caller knows them. */
  names?: readonly (string | undefined)[];
  /** For the birth-date check of resident IDs; defaults to now. */
  today?: Date;
}

/**
 * Separators people put inside numbers ("138 0013 8000", "138-0013-8000",
 * "1101.0519…"). Dropped before matching, so a number split by them is still
 * found; letters and CJK characters stay, and a number next to them is still
 * a number ("身份证110105…").
 */
const SEPARATORS = /[\s\-‐‑‒–—―.·・_/]+/gu;
/** 18 characters: 17 digits and a check character, not inside a longer run of digits. */
const RESIDENT_ID = /(?<!\d)\d{17}[\dX](?![\dX])/g;
/** 11 digits from 13-19, optionally after +86 / 0086 / 86, not inside a longer run of digits. */
const MOBILE = /(?<!\d)(?:\+?86|0086)?1[3-9]\d{9}(?!\d)/;
/** Runs of letters, digits and dashes: the words a hash or UUID can be part of. */
const WORDS = /[0-9A-Z-]+/g;
const HEX = /^[0-9A-F]+$/;

/**
 * A hash or UUID: 16+ hex characters (in dash-separated parts, as a UUID)
 * with a letter between two digits somewhere. Random hex holds digit runs
 * that look like a phone number about once in 400 SHA-256 digests, so numbers
 * are not searched inside one. A number that only touches a word
 * ("paid13800138000") has no letter between digits and is still searched.
 */
function isHexRun(parts: readonly string[]): boolean {
  if (parts.reduce((n, p) => n + p.length, 0) < 16) return false;
  let digit = false;
  let letterAfterDigit = false;
  for (const c of parts.join("")) {
    if (c <= "9") {
      if (letterAfterDigit) return true;
      digit = true;
    } else if (digit) letterAfterDigit = true;
  }
  return false;
}

/** The word with every hash or UUID in it replaced by "#" (linear in its length). */
function maskHex(word: string): string {
  const out: string[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length > 0) out.push(isHexRun(run) ? "#" : run.join("-"));
    run = [];
  };
  for (const part of word.split("-")) {
    if (part !== "" && HEX.test(part)) {
      run.push(part);
    } else {
      flush();
      out.push(part);
    }
  }
  flush();
  return out.join("-");
}

/** Shorter names would match too much ordinary text. */
const MIN_NAME_CHARS = 2;

function upper(text: string): string {
  // NFKC folds full-width digits and letters (１３８…, Ｘ) into ASCII.
  return text.normalize("NFKC").toUpperCase();
}

const compact = (text: string) => upper(text).replace(SEPARATORS, "");

/**
 * The first kind of personal data `text` appears to carry, or undefined.
 * A resident ID counts only with a real birth date, a province code and the
 * right check character, and numbers are not searched inside hex hashes
 * or UUIDs; mobile numbers are the mainland pattern. A name matches ignoring case,
 * spaces and width.
 */
export function piiIn(text: string, opts: ScreenOptions = {}): PiiKind | undefined {
  const flat = compact(text);
  const numbers = upper(text)
    .replace(WORDS, maskHex)
    .replace(SEPARATORS, "");
  for (const m of numbers.matchAll(RESIDENT_ID)) {
    if (residentIdProblem(m[0], opts.today ?? new Date()) === undefined) return "resident ID number";
  }
  if (MOBILE.test(numbers)) return "mobile number";
  for (const name of opts.names ?? []) {
    const n = compact(name ?? "");
    if ([...n].length >= MIN_NAME_CHARS && flat.includes(n)) return "the subject's name";
  }
  return undefined;
}

/**
 * Refuses free text that would carry personal data out of this node (dispute
 * reasons and notes, evidence and furnishing references travel to peers or
 * are kept in plain text). The error names the field and the kind, never the
 * value found.
 */
export function screenFreeText(text: string, field: string, opts: ScreenOptions = {}): void {
  const kind = piiIn(text, opts);
  if (kind) {
    throw invalid(field, `must not contain personal data: it appears to hold ${kind === "the subject's name" ? kind : `a ${kind}`}; refer to documents by a reference or hash instead`);
  }
}
