import { createHash, randomBytes } from "node:crypto";
import { ristretto255, ristretto255_hasher } from "@noble/curves/ed25519.js";

/**
 * RFC 9497 ristretto255-SHA512, the hashing and encoding rules shared by the
 * one-key and the threshold evaluation. Hashing runs on node:crypto's SHA-512,
 * which is several times faster than a JavaScript SHA-512 on this hardware.
 */

export const SUITE_ID = "ristretto255-SHA512";
export const MODE_OPRF = 0x00;
export const MODE_VOPRF = 0x01;
/** Encoded element and scalar sizes (Ne, Ns) and the output size (Nh). */
export const ELEMENT_BYTES = 32;
export const SCALAR_BYTES = 32;
export const OUTPUT_BYTES = 64;

export const Fn = ristretto255.Point.Fn;
export type Scalar = bigint;

const ascii = (s: string): Buffer => Buffer.from(s, "latin1");

export function contextString(mode: number): Buffer {
  return Buffer.concat([ascii("OPRFV1-"), Buffer.from([mode]), ascii("-" + SUITE_ID)]);
}

/** Domain separation tags of one mode, computed once. */
export interface ModeTags {
  mode: number;
  hashToGroup: Buffer;
  hashToScalar: Buffer;
  deriveKeyPair: Buffer;
  seed: Buffer;
}

function tags(mode: number, ctx: Buffer = contextString(mode)): ModeTags {
  return {
    mode,
    hashToGroup: Buffer.concat([ascii("HashToGroup-"), ctx]),
    hashToScalar: Buffer.concat([ascii("HashToScalar-"), ctx]),
    deriveKeyPair: Buffer.concat([ascii("DeriveKeyPair"), ctx]),
    seed: Buffer.concat([ascii("Seed-"), ctx]),
  };
}

export const OPRF_TAGS = tags(MODE_OPRF);
export const VOPRF_TAGS = tags(MODE_VOPRF);

/** Tags for a proof outside RFC 9497 that reuses its DLEQ construction under its own context. */
export function privateTags(context: string): ModeTags {
  return tags(-1, ascii(context));
}

export function i2osp2(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`I2OSP(${n}, 2) out of range`);
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n);
  return b;
}

/** `I2OSP(len(x), 2) || x` for each part, the framing RFC 9497 uses in every transcript. */
export function framed(...parts: Uint8Array[]): Buffer[] {
  const out: Buffer[] = [];
  for (const p of parts) out.push(i2osp2(p.length), Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  return out;
}

export function sha512(...parts: Uint8Array[]): Buffer {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest();
}

const Z_PAD = Buffer.alloc(128);

/** RFC 9380 expand_message_xmd with SHA-512 and 64 output bytes (one block). */
function expandXmd64(msg: Uint8Array[], dst: Uint8Array): Buffer {
  const dstPrime = Buffer.concat([dst, Buffer.from([dst.length])]);
  const b0 = sha512(Z_PAD, ...msg, Buffer.from([0, 64, 0]), dstPrime);
  return sha512(b0, Buffer.from([1]), dstPrime);
}

function bytesToNumberLE(bytes: Uint8Array): bigint {
  return BigInt("0x" + (Buffer.from(bytes).reverse().toString("hex") || "0"));
}

/** HashToScalar: 64 uniform bytes, little-endian, reduced mod the group order. */
export function hashToScalar(msg: Uint8Array[], dst: Uint8Array): Scalar {
  return Fn.create(bytesToNumberLE(expandXmd64(msg, dst)));
}

/** HashToGroup: hash_to_ristretto255 (RFC 9380 Appendix B), returned as a noble point. */
export function hashToGroup(input: Uint8Array, tags: ModeTags) {
  return ristretto255_hasher.deriveToCurve!(expandXmd64([input], tags.hashToGroup));
}

export function scalarToBytes(k: Scalar): Uint8Array {
  return Fn.toBytes(k);
}

/** A canonical, non-zero scalar, or undefined. */
export function scalarFromBytes(bytes: Uint8Array): Scalar | undefined {
  if (bytes.length !== SCALAR_BYTES) return undefined;
  const k = bytesToNumberLE(bytes);
  if (k === 0n || k >= Fn.ORDER) return undefined;
  return k;
}

/** DeriveKeyPair (RFC 9497 §3.2.1): the secret scalar for `seed` and `info`. */
export function deriveSecretKey(seed: Uint8Array, info: Uint8Array, tags: ModeTags): Scalar {
  for (let counter = 0; counter < 256; counter++) {
    const k = hashToScalar([seed, ...framed(info), Buffer.from([counter])], tags.deriveKeyPair);
    if (k !== 0n) return k;
  }
  throw new Error("DeriveKeyPair: no valid scalar in 256 attempts");
}

/** Finalize's hash: Hash(len(input) || input || len(element) || element || "Finalize"). */
export function finalizeHash(input: Uint8Array, unblinded: Uint8Array): Buffer {
  return sha512(...framed(input, unblinded), FINALIZE);
}
const FINALIZE = ascii("Finalize");

/** A uniformly random non-zero scalar (for blinds, proof nonces, polynomial coefficients). */
export function randomScalar(): Scalar {
  for (;;) {
    // 64 bytes reduced mod the order: bias below 2^-250.
    const k = Fn.create(bytesToNumberLE(randomBytes(64)));
    if (k !== 0n) return k;
  }
}
