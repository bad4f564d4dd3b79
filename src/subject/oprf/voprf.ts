import {
  add, encodeElement, mul, mulBase, mulQuad, sumMul, sumMulQuad, quadOfPoint,
  type Element, type Quad,
} from "./group.js";
import {
  finalizeHash, framed, Fn, hashToGroup, hashToScalar, i2osp2, randomScalar, scalarFromBytes, scalarToBytes,
  SCALAR_BYTES, sha512, VOPRF_TAGS, type ModeTags, type Scalar,
} from "./suite.js";

/**
 * RFC 9497 VOPRF (mode 0x01) over ristretto255-SHA512: client blinding and
 * finalization, server batch evaluation, and the batch DLEQ proof
 * (GenerateProof / VerifyProof with ComputeComposites). The threshold
 * evaluation reuses these with a key share in place of the key.
 */

/** The client's secret state for one input, and the blinded element it sends. */
export interface BlindedInput {
  input: Uint8Array;
  blind: Scalar;
  /** The blinded element itself, kept to verify proofs without decoding it again. */
  element: Element;
  /** Its ristretto255 encoding, what goes on the wire. */
  bytes: Uint8Array;
}

export function blind(input: Uint8Array, r: Scalar = randomScalar(), tags: ModeTags = VOPRF_TAGS): BlindedInput {
  const element = mulQuad(r, quadOfPoint(hashToGroup(input, tags)));
  return { input, blind: r, element, bytes: encodeElement(element) };
}

export interface BatchEvaluation {
  evaluated: Uint8Array[];
  /** c || s, two 32-byte scalars. */
  proof: Uint8Array;
}

/**
 * Evaluates decoded blinded elements with key `k` (a key or a key share) and
 * proves, in one proof for the batch, that every result used the key behind
 * `publicKey`. `blindedBytes[i]` must be the encoding `blinded[i]` came from.
 */
export function evaluateBatch(
  k: Scalar,
  publicKey: Uint8Array,
  blinded: readonly Quad[],
  blindedBytes: readonly Uint8Array[],
  proofNonce: Scalar = randomScalar(),
  tags: ModeTags = VOPRF_TAGS,
): BatchEvaluation {
  const evaluated = blinded.map((q) => encodeElement(mulQuad(k, q)));
  const d = compositeScalars(publicKey, blindedBytes, evaluated, tags);
  // ComputeCompositesFast: Z = k·M saves the second multi-scalar sum.
  const m = sumMulQuad(d, blinded);
  const z = mul(k, m);
  const t2 = mulBase(proofNonce);
  const t3 = mul(proofNonce, m);
  const c = challenge(publicKey, m, z, t2, t3, tags);
  const s = Fn.sub(proofNonce, Fn.mul(c, k));
  return { evaluated, proof: Buffer.concat([scalarToBytes(c), scalarToBytes(s)]) };
}

/**
 * VerifyProof for a batch: true when `evaluated[i] = k·blinded[i]` for every i
 * under the one k with k·G = `publicKey`. `publicKeyElement` is `publicKey`
 * decoded (callers keep it per evaluator rather than decode it per batch).
 */
export function verifyBatch(
  publicKey: Uint8Array,
  publicKeyElement: Element,
  blinded: readonly Element[],
  blindedBytes: readonly Uint8Array[],
  evaluated: readonly Quad[],
  evaluatedBytes: readonly Uint8Array[],
  proof: Uint8Array,
  tags: ModeTags = VOPRF_TAGS,
): boolean {
  if (proof.length !== 2 * SCALAR_BYTES || blinded.length !== evaluated.length || blinded.length === 0) return false;
  const c = scalarFromBytes(proof.subarray(0, SCALAR_BYTES));
  const s = scalarFromBytes(proof.subarray(SCALAR_BYTES));
  if (c === undefined || s === undefined) return false;
  const d = compositeScalars(publicKey, blindedBytes, evaluatedBytes, tags);
  const m = sumMul(d, blinded);
  const z = sumMulQuad(d, evaluated);
  const t2 = add(mulBase(s), mul(c, publicKeyElement));
  const t3 = add(mul(s, m), mul(c, z));
  return challenge(publicKey, m, z, t2, t3, tags) === c;
}

/** The per-element weights d_i of ComputeComposites, seeded by the public key. */
function compositeScalars(
  publicKey: Uint8Array,
  blindedBytes: readonly Uint8Array[],
  evaluatedBytes: readonly Uint8Array[],
  tags: ModeTags,
): Scalar[] {
  const seed = sha512Framed(publicKey, tags.seed);
  const seedPart = framed(seed);
  const d: Scalar[] = new Array(blindedBytes.length);
  for (let i = 0; i < blindedBytes.length; i++) {
    d[i] = hashToScalar([...seedPart, i2osp2(i), ...framed(blindedBytes[i], evaluatedBytes[i]), COMPOSITE], tags.hashToScalar);
  }
  return d;
}

function challenge(publicKey: Uint8Array, m: Element, z: Element, t2: Element, t3: Element, tags: ModeTags): Scalar {
  const parts = framed(publicKey, encodeElement(m), encodeElement(z), encodeElement(t2), encodeElement(t3));
  return hashToScalar([...parts, CHALLENGE], tags.hashToScalar);
}

const sha512Framed = (...parts: Uint8Array[]) => sha512(...framed(...parts));
const COMPOSITE = Buffer.from("Composite", "latin1");
const CHALLENGE = Buffer.from("Challenge", "latin1");

/** Finalize: unblind the evaluated element (decoded from the wire) and hash. */
export function finalize(b: BlindedInput, evaluated: Quad): Uint8Array {
  return finalizeHash(b.input, encodeElement(mulQuad(Fn.inv(b.blind), evaluated)));
}

/** One-key evaluation of raw input, as a holder of the whole key could compute it (tests, attack-cost figures). */
export function evaluateDirect(k: Scalar, input: Uint8Array, tags: ModeTags = VOPRF_TAGS): Uint8Array {
  return finalizeHash(input, encodeElement(mulQuad(k, quadOfPoint(hashToGroup(input, tags)))));
}

