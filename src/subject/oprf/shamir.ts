import { Fn, randomScalar, type Scalar } from "./suite.js";

/**
 * Shamir sharing over the ristretto255 scalar field. Participants are
 * numbered 1..n (index 0 would be the secret itself).
 */

export const MAX_PARTICIPANTS = 255;

/** Coefficients a_0..a_{t-1} of a random polynomial of degree t-1 with a_0 = `constant`. */
export function randomPolynomial(constant: Scalar, threshold: number): Scalar[] {
  checkThreshold(threshold);
  const coefficients = [Fn.create(constant)];
  for (let i = 1; i < threshold; i++) coefficients.push(randomScalar());
  return coefficients;
}

export function evaluatePolynomial(coefficients: readonly Scalar[], x: number): Scalar {
  const xs = BigInt(x);
  let acc = 0n;
  for (let i = coefficients.length - 1; i >= 0; i--) acc = Fn.add(Fn.mul(acc, xs), coefficients[i]);
  return acc;
}

/** Lagrange coefficients at 0 for the given distinct indices, in their order. */
export function lagrangeAtZero(indices: readonly number[]): Scalar[] {
  return lagrangeAt(0, indices);
}

/** Lagrange coefficients at x (0 recovers the secret; an index j recovers share j). */
export function lagrangeAt(x: number, indices: readonly number[]): Scalar[] {
  if (new Set(indices).size !== indices.length) throw new RangeError("participant indices must be distinct");
  for (const i of indices) checkIndex(i);
  return indices.map((i) => {
    let num = 1n;
    let den = 1n;
    for (const j of indices) {
      if (j === i) continue;
      num = Fn.mul(num, Fn.sub(BigInt(j), BigInt(x)));
      den = Fn.mul(den, Fn.sub(BigInt(j), BigInt(i)));
    }
    return Fn.div(num, den);
  });
}

export interface ScalarShare {
  index: number;
  value: Scalar;
}

/** Dealer-side split; the DKG replaces this in production, tests use it as the reference. */
export function splitSecret(secret: Scalar, threshold: number, participants: number): ScalarShare[] {
  if (participants < threshold || participants > MAX_PARTICIPANTS) {
    throw new RangeError(`participants must be between the threshold (${threshold}) and ${MAX_PARTICIPANTS}, got ${participants}`);
  }
  const poly = randomPolynomial(secret, threshold);
  return Array.from({ length: participants }, (_, k) => ({ index: k + 1, value: evaluatePolynomial(poly, k + 1) }));
}

/** The secret from shares (interpolation at 0); with fewer than t shares the result is unrelated to it. */
export function interpolateAtZero(shares: readonly ScalarShare[]): Scalar {
  const lambdas = lagrangeAtZero(shares.map((s) => s.index));
  return shares.reduce((acc, s, k) => Fn.add(acc, Fn.mul(lambdas[k], s.value)), 0n);
}

export function checkThreshold(threshold: number): void {
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > MAX_PARTICIPANTS) {
    throw new RangeError(`threshold must be an integer from 1 to ${MAX_PARTICIPANTS}, got ${threshold}`);
  }
}

function checkIndex(i: number): void {
  if (!Number.isInteger(i) || i < 1 || i > MAX_PARTICIPANTS) {
    throw new RangeError(`participant index must be an integer from 1 to ${MAX_PARTICIPANTS}, got ${i}`);
  }
}
