import sodium from "sodium-native";
import { ed25519, ristretto255 } from "@noble/curves/ed25519.js";
import { Fn, type Scalar } from "./suite.js";

/**
 * ristretto255 group operations on libsodium's Ed25519 arithmetic.
 *
 * The installed libsodium binding has no ristretto255 functions, but a
 * ristretto255 element is a class of Edwards points that holds exactly one
 * point of the prime-order subgroup, and libsodium multiplies such points in
 * ~70 µs against ~600 µs for noble's constant-time ristretto multiply (and
 * ~320 µs for its variable-time one) on this hardware; decoding and encoding
 * stay with noble. `npm run bench -- tokens` prints both rates, and
 * group.test.ts checks that the two agree.
 *
 * An `Element` is the Edwards encoding of that prime-order representative.
 * Decoding a ristretto encoding yields a representative up to 4-torsion, so
 * the cheap form to get from the wire is four times the element (`Quad`):
 * multiplying a `Quad` by k folds the 1/4 into the scalar and yields the
 * `Element` k·P with no extra multiplication.
 */
export type Element = Uint8Array & { readonly __element: true };
export type Quad = Uint8Array & { readonly __quad: true };

const RistrettoPoint = ristretto255.Point;
type RistrettoPoint = InstanceType<typeof RistrettoPoint>;
type EdwardsPoint = InstanceType<typeof ed25519.Point>;
const INV4 = Fn.inv(4n);

/** Thrown for bytes that are not a canonical, non-identity ristretto255 encoding. */
export class InvalidElementError extends Error {}

// noble keeps the Edwards representative in a protected field; reading it saves an encode/decode round.
const edwardsOf = (p: RistrettoPoint): EdwardsPoint => (p as unknown as { ep: EdwardsPoint }).ep;

export function quadOfPoint(p: RistrettoPoint): Quad {
  return edwardsOf(p).double().double().toBytes() as Quad;
}

/** Decodes a ristretto255 encoding from the wire; the identity is refused (RFC 9497 §4.1). */
export function decodeElement(bytes: Uint8Array): Quad {
  let p: RistrettoPoint;
  try {
    p = RistrettoPoint.fromBytes(bytes);
  } catch (err) {
    throw new InvalidElementError("not a canonical ristretto255 encoding", { cause: err });
  }
  if (p.is0()) throw new InvalidElementError("the identity element is not allowed");
  return quadOfPoint(p);
}

export function encodeElement(e: Element): Uint8Array {
  return new RistrettoPoint(ed25519.Point.fromBytes(e)).toBytes();
}

const scalarBytes = (k: Scalar): Uint8Array => Fn.toBytes(k);

/** k·P for P given as a Quad. */
export function mulQuad(k: Scalar, q: Quad): Element {
  const out = new Uint8Array(32);
  sodium.crypto_scalarmult_ed25519_noclamp(out, scalarBytes(Fn.mul(k, INV4)), q);
  return out as Element;
}

export function mul(k: Scalar, e: Element): Element {
  const out = new Uint8Array(32);
  sodium.crypto_scalarmult_ed25519_noclamp(out, scalarBytes(k), e);
  return out as Element;
}

export function mulBase(k: Scalar): Element {
  const out = new Uint8Array(32);
  sodium.crypto_scalarmult_ed25519_base_noclamp(out, scalarBytes(k));
  return out as Element;
}

export function add(a: Element, b: Element): Element {
  const out = new Uint8Array(32);
  sodium.crypto_core_ed25519_add(out, a, b);
  return out as Element;
}

/** Σ k_i·P_i over Quads (variable inputs, so no shared-doubling trick is worth it here). */
export function sumMulQuad(ks: readonly Scalar[], qs: readonly Quad[]): Element {
  let acc = mulQuad(ks[0], qs[0]);
  for (let i = 1; i < qs.length; i++) acc = add(acc, mulQuad(ks[i], qs[i]));
  return acc;
}

export function sumMul(ks: readonly Scalar[], es: readonly Element[]): Element {
  let acc = mul(ks[0], es[0]);
  for (let i = 1; i < es.length; i++) acc = add(acc, mul(ks[i], es[i]));
  return acc;
}

/** The element itself from a wire encoding (one multiplication; use mulQuad when a multiply follows anyway). */
export function elementFromBytes(bytes: Uint8Array): Element {
  return mulQuad(1n, decodeElement(bytes));
}

/** Same operation on noble alone, the reference the libsodium path is checked and measured against. */
export function nobleMul(k: Scalar, bytes: Uint8Array): Uint8Array {
  return RistrettoPoint.fromBytes(bytes).multiply(k).toBytes();
}
