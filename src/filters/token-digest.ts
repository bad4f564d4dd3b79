import { invalid } from "../errors.js";

/**
 * A subject token as the filters take it: an HMAC token (32 bytes) or an OPRF
 * token (64 bytes, RFC 9497's SHA-512 output), in hex or as bytes.
 */
export type TokenKey = string | Uint8Array;

/** The bytes of a token the digest reads: the first 32 (an OPRF token's every byte is uniform, so its first half spreads as well). */
export const TOKEN_BYTES = 32;
const TOKEN_LENGTHS = [32, 64];

const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[65 + i] = 10 + i;
  NIBBLE[97 + i] = 10 + i;
}

const WORDS = new Uint32Array(TOKEN_BYTES / 4);

function isHex(key: string, from: number): boolean {
  for (let i = from; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code >= 128 || NIBBLE[code] < 0) return false;
  }
  return true;
}

/**
 * Reads the token's first 32 bytes into WORDS (big-endian words, the same for
 * both spellings); false if it is not 32 or 64 bytes, in hex or as bytes.
 * Parsing hex by hand both validates and avoids a Buffer per key, which
 * matters at a million keys.
 */
function loadWords(key: TokenKey): boolean {
  if (typeof key === "string") {
    if (!TOKEN_LENGTHS.includes(key.length / 2)) return false;
    for (let w = 0; w < WORDS.length; w++) {
      let word = 0;
      for (let c = 0; c < 8; c++) {
        const code = key.charCodeAt(w * 8 + c);
        const nibble = code < 128 ? NIBBLE[code] : -1;
        if (nibble < 0) return false;
        word = (word << 4) | nibble;
      }
      WORDS[w] = word;
    }
    return isHex(key, TOKEN_BYTES * 2);
  }
  if (!(key instanceof Uint8Array) || !TOKEN_LENGTHS.includes(key.length)) return false;
  for (let w = 0; w < WORDS.length; w++) {
    const i = w * 4;
    WORDS[w] = (key[i] << 24) | (key[i + 1] << 16) | (key[i + 2] << 8) | key[i + 3];
  }
  return true;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function murmurWord(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = rotl(k, 15);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = rotl(h, 13);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * A 64-bit digest of a token, as two 32-bit halves written to `out[at]`,
 * `out[at + 1]`. Tokens are HMAC or OPRF outputs that no one can choose, so
 * the digest needs spread, not collision resistance: MurmurHash3's body,
 * once forward and once backward with another seed, so that the halves do
 * not collide together. The filter's seed is applied later, per build
 * attempt, so a retry does not re-read the tokens.
 */
export function digestToken(key: TokenKey, out: Uint32Array, at: number, field: string): void {
  if (!loadWords(key)) throw invalid(field, "must be a subject token: 32 or 64 bytes, in hex or as bytes");
  let a = 0x3c6ef372;
  let b = 0x9747b28c;
  const n = WORDS.length;
  for (let i = 0; i < n; i++) {
    a = murmurWord(a, WORDS[i]);
    b = murmurWord(b, WORDS[n - 1 - i]);
  }
  out[at] = fmix32(a ^ TOKEN_BYTES);
  out[at + 1] = fmix32(b ^ (TOKEN_BYTES * 3));
}
