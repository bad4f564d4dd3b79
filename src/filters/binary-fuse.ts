import { randomBytes } from "node:crypto";
import { endianness } from "node:os";
import { CreditMeshError, invalid } from "../errors.js";
import { paddedCapacity } from "./buckets.js";
import { digestToken, fmix32, type TokenKey } from "./token-digest.js";

/**
 * Binary fuse filter with 16-bit fingerprints and three hashes (Graf &
 * Lemire, "Binary Fuse Filters: Fast and Smaller Than Xor Filters", 2022):
 * about 2.25 bytes per key at a false-positive rate of 2^-16 (~0.0015 %),
 * never a false negative. Static: built once from the whole set.
 *
 * The array is sized for a padded capacity (buckets.ts), not for the exact
 * number of keys, and slots no key claims hold random values rather than
 * zeros, so neither the size nor the contents tell how many keys went in.
 */

export const FILTER_FORMAT_VERSION = 1;
export const FINGERPRINT_BITS = 16;
/** MurmurHash3-based token digest + seeded split (token-digest.ts, lanesOf below). */
export const HASH_SCHEME = 1;
const ARITY = 3;
export const HEADER_BYTES = 28;
const MAGIC = [0x43, 0x4d, 0x42, 0x46]; // "CMBF"
/** Beyond this a member's index would be better split than filtered as one. */
export const MAX_CAPACITY = 1 << 26;
const MAX_SEGMENT_LENGTH = 1 << 18;
const MAX_ATTEMPTS = 100;

/** Random bytes; injected by tests that want reproducible filters. */
export type RandomSource = (size: number) => Uint8Array;

export interface Layout {
  segmentLength: number;
  segmentCount: number;
  arrayLength: number;
}

/**
 * The array for `capacity` keys, after the reference sizing: segments of a
 * power-of-two length, and ~1.125 slots per key for large sets (more for
 * small ones, where the peeling would otherwise fail too often).
 */
export function layoutFor(capacity: number): Layout {
  let segmentLength = capacity === 0 ? 4 : 2 ** Math.floor(Math.log(capacity) / Math.log(3.33) + 2.25);
  segmentLength = Math.min(Math.max(segmentLength, 4), MAX_SEGMENT_LENGTH);
  const sizeFactor = capacity <= 1 ? 0 : Math.max(1.125, 0.875 + (0.25 * Math.log(1_000_000)) / Math.log(capacity));
  const slots = Math.round(capacity * sizeFactor);
  const segments = Math.ceil(slots / segmentLength);
  const segmentCount = segments <= ARITY - 1 ? 1 : segments - (ARITY - 1);
  return { segmentLength, segmentCount, arrayLength: (segmentCount + ARITY - 1) * segmentLength };
}

/** floor(a * b / 2^32) for 32-bit a and b, exactly (a double holds only 53 bits of the product). */
function mulhi32(a: number, b: number): number {
  const high = (a >>> 16) * b;
  const low = (a & 0xffff) * b;
  return Math.floor((high + Math.floor(low / 65536)) / 65536);
}

/**
 * Three slots and a fingerprint from a token digest and the filter seed.
 * Each lane goes through MurmurHash3's finalizer after mixing in the one
 * before, so the lanes behave as independent for keys no one can choose.
 */
function lanesOf(d0: number, d1: number, s0: number, s1: number, layout: Layout, out: Uint32Array): void {
  const a = fmix32(((d0 ^ s0) + Math.imul(d1 ^ s1, 0x9e3779b1)) | 0);
  const b = fmix32(((d1 ^ s1) + Math.imul(a, 0x85ebca77)) | 0);
  const c = fmix32((d0 ^ s1) ^ Math.imul(b, 0xc2b2ae3d));
  const d = fmix32(((d1 ^ s0) + Math.imul(c, 0x27d4eb2f)) | 0);
  const { segmentLength } = layout;
  const mask = segmentLength - 1;
  const h0 = mulhi32(a, layout.segmentCount * segmentLength);
  // h0 + L lies in the next segment at the same offset; xor-ing bits below L
  // moves it within that segment only (segments are L-aligned).
  out[0] = h0;
  out[1] = (h0 + segmentLength) ^ (b & mask);
  out[2] = (h0 + 2 * segmentLength) ^ (c & mask);
  out[3] = d & 0xffff;
}

/** A token read once (BinaryFuse16.digest), valid for every filter. */
export type TokenDigest = Uint32Array;

export interface BuildOptions {
  /** The padded capacity to size for; default paddedCapacity(number of distinct tokens). */
  capacity?: number;
  random?: RandomSource;
}

export interface ParseOptions {
  /** Refuse anything larger before reading it (the caller knows the size it expects). */
  maxBytes: number;
}

export class BinaryFuse16 {
  readonly #lanes = new Uint32Array(4);
  readonly #digest = new Uint32Array(2);

  private constructor(
    readonly seed: readonly [number, number],
    /** The padded number of keys the filter was sized for: all it says about how many it holds. */
    readonly capacity: number,
    readonly layout: Layout,
    readonly fingerprints: Uint16Array,
  ) {}

  /** False means the token is certainly not in the set. */
  has(token: TokenKey): boolean {
    digestToken(token, this.#digest, 0, "subject_token");
    return this.hasDigest(this.#digest);
  }

  /**
   * The token's digest, to test it against many filters (one per member)
   * without reading the token again; VALIDATION_FAILED naming `field` if it
   * is not a token.
   */
  static digest(token: TokenKey, field = "subject_token"): TokenDigest {
    const out = new Uint32Array(2);
    digestToken(token, out, 0, field);
    return out;
  }

  hasDigest(digest: TokenDigest): boolean {
    const l = this.#lanes;
    lanesOf(digest[0], digest[1], this.seed[0], this.seed[1], this.layout, l);
    const f = this.fingerprints;
    return (l[3] ^ f[l[0]] ^ f[l[1]] ^ f[l[2]]) === 0;
  }

  get byteLength(): number {
    return HEADER_BYTES + this.fingerprints.length * 2;
  }

  /** The versioned wire form: header (format, hash, seed, sizes) then the fingerprints, little-endian. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    const view = new DataView(out.buffer);
    out.set(MAGIC, 0);
    out[4] = FILTER_FORMAT_VERSION;
    out[5] = FINGERPRINT_BITS;
    out[6] = HASH_SCHEME;
    out[7] = ARITY;
    view.setUint32(8, this.seed[0], true);
    view.setUint32(12, this.seed[1], true);
    view.setUint32(16, this.capacity, true);
    view.setUint32(20, this.layout.segmentLength, true);
    view.setUint32(24, this.layout.segmentCount, true);
    if (endianness() === "LE") {
      out.set(new Uint8Array(this.fingerprints.buffer, this.fingerprints.byteOffset, this.fingerprints.byteLength), HEADER_BYTES);
    } else {
      this.fingerprints.forEach((v, i) => view.setUint16(HEADER_BYTES + i * 2, v, true));
    }
    return out;
  }

  /**
   * Reads a filter from untrusted bytes. Every header field is checked
   * against the length actually received before anything is allocated, so
   * the allocation is bounded by `maxBytes`; any defect is a
   * VALIDATION_FAILED naming the field.
   */
  static fromBytes(bytes: Uint8Array, opts: ParseOptions): BinaryFuse16 {
    if (!(bytes instanceof Uint8Array)) throw invalid("filter", "must be bytes");
    if (bytes.length > opts.maxBytes) throw invalid("filter", `${bytes.length} bytes exceeds the limit of ${opts.maxBytes}`);
    if (bytes.length < HEADER_BYTES) throw invalid("filter", `shorter than its ${HEADER_BYTES}-byte header`);
    if (MAGIC.some((b, i) => bytes[i] !== b)) throw invalid("filter.magic", "not a binary fuse filter");
    if (bytes[4] !== FILTER_FORMAT_VERSION) throw invalid("filter.version", `unsupported version ${bytes[4]}`);
    if (bytes[5] !== FINGERPRINT_BITS) throw invalid("filter.fingerprint_bits", `unsupported width ${bytes[5]}`);
    if (bytes[6] !== HASH_SCHEME) throw invalid("filter.hash_scheme", `unsupported scheme ${bytes[6]}`);
    if (bytes[7] !== ARITY) throw invalid("filter.arity", `unsupported arity ${bytes[7]}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const seed: [number, number] = [view.getUint32(8, true), view.getUint32(12, true)];
    const capacity = view.getUint32(16, true);
    if (capacity > MAX_CAPACITY) throw invalid("filter.capacity", `exceeds ${MAX_CAPACITY}`);
    const segmentLength = view.getUint32(20, true);
    if (segmentLength < 4 || segmentLength > MAX_SEGMENT_LENGTH || (segmentLength & (segmentLength - 1)) !== 0) {
      throw invalid("filter.segment_length", `must be a power of two from 4 to ${MAX_SEGMENT_LENGTH}`);
    }
    const segmentCount = view.getUint32(24, true);
    if (segmentCount < 1) throw invalid("filter.segment_count", "must be at least 1");
    // Both factors are below 2^32 and 2^19, so the product is exact in a double.
    const arrayLength = (segmentCount + ARITY - 1) * segmentLength;
    const expected = HEADER_BYTES + arrayLength * 2;
    if (bytes.length !== expected) {
      throw invalid("filter.fingerprints", `expected ${expected - HEADER_BYTES} bytes for the header's sizes, got ${bytes.length - HEADER_BYTES}`);
    }
    const fingerprints = new Uint16Array(arrayLength);
    if (endianness() === "LE") {
      new Uint8Array(fingerprints.buffer).set(bytes.subarray(HEADER_BYTES));
    } else {
      for (let i = 0; i < arrayLength; i++) fingerprints[i] = view.getUint16(HEADER_BYTES + i * 2, true);
    }
    return new BinaryFuse16(seed, capacity, { segmentLength, segmentCount, arrayLength }, fingerprints);
  }

  /**
   * Builds the filter of `tokens` (duplicates allowed). Peeling fails for a
   * small fraction of seeds; each failure draws a new seed, up to 100 times
   * (the reference's bound: with sane sizes the odds of reaching it are nil).
   */
  static build(tokens: Iterable<TokenKey>, opts: BuildOptions = {}): BinaryFuse16 {
    const digests = new TokenDigests();
    for (const token of tokens) digests.add(token);
    return BinaryFuse16.fromDigests(digests, opts);
  }

  /** Builds from tokens already read (TokenDigests), e.g. streamed from an index without holding the tokens. */
  static fromDigests(collected: TokenDigests, opts: BuildOptions = {}): BinaryFuse16 {
    const random = opts.random ?? randomBytes;
    // A copy: deduplication rewrites the array, and the collector may be reused.
    const digests = collected.view().slice();
    let n = collected.count;
    const capacity = opts.capacity ?? paddedCapacity(n);
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > MAX_CAPACITY) {
      throw invalid("capacity", `must be an integer from 0 to ${MAX_CAPACITY}`);
    }
    if (capacity < n) throw invalid("capacity", `${capacity} is less than the ${n} tokens given`);
    const layout = layoutFor(capacity);

    let deduplicated = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const seedBytes = random(8);
      const seed: [number, number] = [readU32(seedBytes, 0), readU32(seedBytes, 4)];
      const order = peel(digests, n, seed, layout);
      if (order !== undefined) {
        return new BinaryFuse16(seed, capacity, layout, assign(digests, order, seed, layout, random));
      }
      // Two equal digests (a token given twice) can never peel: drop them once.
      if (!deduplicated) {
        n = deduplicate(digests, n);
        deduplicated = true;
      }
    }
    throw new CreditMeshError("INTERNAL", `binary fuse filter: no seed peeled ${n} tokens in ${MAX_ATTEMPTS} attempts`);
  }
}

/** Digests of tokens, 8 bytes each, gathered one by one (from a sync or async source). */
export class TokenDigests {
  private digests = new Uint32Array(2 * 1024);
  count = 0;

  add(token: TokenKey): void {
    if (2 * this.count === this.digests.length) {
      if (this.count >= MAX_CAPACITY) throw invalid("tokens", `more than ${MAX_CAPACITY} tokens`);
      const grown = new Uint32Array(this.digests.length * 2);
      grown.set(this.digests);
      this.digests = grown;
    }
    digestToken(token, this.digests, 2 * this.count, `tokens[${this.count}]`);
    this.count++;
  }

  view(): Uint32Array {
    return this.digests.subarray(0, 2 * this.count);
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0);
}

/** Removes repeated digest pairs in place; returns how many distinct ones remain. */
function deduplicate(digests: Uint32Array, n: number): number {
  const combined = new BigUint64Array(n);
  for (let i = 0; i < n; i++) combined[i] = (BigInt(digests[2 * i]) << 32n) | BigInt(digests[2 * i + 1]);
  combined.sort();
  let m = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0 && combined[i] === combined[i - 1]) continue;
    digests[2 * m] = Number(combined[i] >> 32n);
    digests[2 * m + 1] = Number(combined[i] & 0xffffffffn);
    m++;
  }
  return m;
}

/**
 * The peeling order of the 3-hypergraph, or undefined when this seed leaves
 * a core. Each slot keeps how many keys touch it (×4) with, in the low two
 * bits, the xor of which of their three hashes it is, and the xor of their
 * key indexes: a slot touched once names its key and that key's hash.
 */
function peel(digests: Uint32Array, n: number, seed: [number, number], layout: Layout): Uint32Array | undefined {
  const size = layout.arrayLength;
  const count = new Uint8Array(size);
  const keyXor = new Uint32Array(size);
  const slots = new Uint32Array(3 * n);
  const lanes = new Uint32Array(4);
  for (let k = 0; k < n; k++) {
    lanesOf(digests[2 * k], digests[2 * k + 1], seed[0], seed[1], layout, lanes);
    const h0 = lanes[0];
    const h1 = lanes[1];
    const h2 = lanes[2];
    slots[3 * k] = h0;
    slots[3 * k + 1] = h1;
    slots[3 * k + 2] = h2;
    count[h0] += 4;
    keyXor[h0] ^= k;
    count[h1] = (count[h1] + 4) ^ 1;
    keyXor[h1] ^= k;
    count[h2] = (count[h2] + 4) ^ 2;
    keyXor[h2] ^= k;
    // A slot touched by 64 keys wraps the counter; such a seed is hopeless anyway.
    if (count[h0] < 4 || count[h1] < 4 || count[h2] < 4) return undefined;
  }
  const queue = new Uint32Array(size);
  let queued = 0;
  for (let i = 0; i < size; i++) if (count[i] >> 2 === 1) queue[queued++] = i;
  // order[2j] = key, order[2j+1] = which of its hashes is its own slot.
  const order = new Uint32Array(2 * n);
  let peeled = 0;
  while (queued > 0) {
    const slot = queue[--queued];
    if (count[slot] >> 2 !== 1) continue;
    const k = keyXor[slot];
    const found = count[slot] & 3;
    order[2 * peeled] = k;
    order[2 * peeled + 1] = found;
    peeled++;
    for (let j = 1; j <= 2; j++) {
      const which = (found + j) % 3;
      const other = slots[3 * k + which];
      count[other] = (count[other] - 4) ^ which;
      keyXor[other] ^= k;
      if (count[other] >> 2 === 1) queue[queued++] = other;
    }
    count[slot] = 0;
  }
  return peeled === n ? order : undefined;
}

/** Fingerprints in reverse peeling order; slots no key claims keep random values. */
function assign(digests: Uint32Array, order: Uint32Array, seed: [number, number], layout: Layout, random: RandomSource): Uint16Array {
  const filler = random(layout.arrayLength * 2);
  const fingerprints = new Uint16Array(layout.arrayLength);
  for (let i = 0; i < fingerprints.length; i++) fingerprints[i] = filler[2 * i] | (filler[2 * i + 1] << 8);
  const lanes = new Uint32Array(4);
  for (let j = order.length / 2 - 1; j >= 0; j--) {
    const k = order[2 * j];
    const found = order[2 * j + 1];
    lanesOf(digests[2 * k], digests[2 * k + 1], seed[0], seed[1], layout, lanes);
    const mine = lanes[found];
    fingerprints[mine] = lanes[3] ^ fingerprints[lanes[(found + 1) % 3]] ^ fingerprints[lanes[(found + 2) % 3]];
  }
  return fingerprints;
}
