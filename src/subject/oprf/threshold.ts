import { CreditMeshError, invalid } from "../../errors.js";
import {
  add, decodeElement, elementFromBytes, encodeElement, InvalidElementError, mulBase, mulQuad, type Element, type Quad,
} from "./group.js";
import { lagrangeAtZero } from "./shamir.js";
import { ELEMENT_BYTES, finalizeHash, Fn, scalarFromBytes, scalarToBytes, type Scalar } from "./suite.js";
import { blind, evaluateBatch, verifyBatch, type BlindedInput } from "./voprf.js";

/**
 * Threshold VOPRF: the key k is Shamir-shared; evaluator i answers with
 * k_i·B for each blinded element B and one batch DLEQ proof against its
 * public share k_i·G; the requester checks every proof, then interpolates in
 * the exponent, k·B = Σ λ_i·(k_i·B), folding λ_i and the unblinding 1/r into
 * one multiplication per evaluator and element.
 */

/** Most blinded elements in one request (the wire limit of /creditmesh/oprf/1.0.0). */
export const MAX_BATCH = 1024;

export interface KeyShare {
  /** Shamir index, 1..n. */
  index: number;
  secret: Scalar;
}

const SHARE_FORMAT = 1;

/** A key share as the evaluator's secrets file keeps it: format byte, index byte, 32-byte scalar. */
export function encodeKeyShare(share: KeyShare): Uint8Array {
  return Buffer.concat([Buffer.from([SHARE_FORMAT, share.index]), scalarToBytes(share.secret)]);
}

export function decodeKeyShare(bytes: Uint8Array, field = "token_key_share"): KeyShare {
  if (bytes.length !== 2 + 32 || bytes[0] !== SHARE_FORMAT) throw invalid(field, `must be ${2 + 32} bytes of format ${SHARE_FORMAT}`);
  const index = bytes[1];
  const secret = scalarFromBytes(bytes.subarray(2));
  if (index === 0 || secret === undefined) throw invalid(field, "holds no valid share");
  return { index, secret };
}

/** Public side of one evaluator's share, decoded once. */
export interface PublicShare {
  index: number;
  bytes: Uint8Array;
  element: Element;
}

export function publicShare(index: number, bytes: Uint8Array): PublicShare {
  return { index, bytes, element: elementFromBytes(bytes) };
}

export function publicShareOf(share: KeyShare): PublicShare {
  const element = mulBase(share.secret);
  return { index: share.index, bytes: encodeElement(element), element };
}

/** One evaluator's answer to one batch. */
export interface PartialEvaluation {
  index: number;
  evaluated: Uint8Array[];
  proof: Uint8Array;
}

/** Validates a request's blinded elements; the error names the offending element. */
export function decodeBlindedBatch(blinded: readonly Uint8Array[], field = "blinded_elements"): Quad[] {
  if (blinded.length === 0) throw invalid(field, "must hold at least one element");
  if (blinded.length > MAX_BATCH) throw invalid(field, `must hold at most ${MAX_BATCH} elements, got ${blinded.length}`);
  return blinded.map((b, i) => {
    if (b.length !== ELEMENT_BYTES) throw invalid(`${field}[${i}]`, `must be ${ELEMENT_BYTES} bytes, got ${b.length}`);
    try {
      return decodeElement(b);
    } catch (err) {
      if (err instanceof InvalidElementError) throw invalid(`${field}[${i}]`, err.message);
      throw err;
    }
  });
}

/** The evaluator's part: holds one share, answers batches. */
export class ShareEvaluator {
  readonly public: PublicShare;

  constructor(private readonly share: KeyShare) {
    this.public = publicShareOf(share);
  }

  evaluate(blinded: readonly Uint8Array[]): PartialEvaluation {
    const decoded = decodeBlindedBatch(blinded);
    const { evaluated, proof } = evaluateBatch(this.share.secret, this.public.bytes, decoded, blinded);
    return { index: this.share.index, evaluated, proof };
  }
}

/** A partial evaluation whose proof verified, decoded for combining. */
export interface VerifiedPartial {
  index: number;
  evaluated: Quad[];
}

export type PartialProblem = "WRONG_COUNT" | "BAD_ELEMENT" | "BAD_PROOF";

/** The requester's side of one batch: blinds, checks answers, combines them. */
export class BlindedBatch {
  private constructor(private readonly items: BlindedInput[]) {}

  static create(inputs: readonly Uint8Array[]): BlindedBatch {
    if (inputs.length === 0 || inputs.length > MAX_BATCH) {
      throw new RangeError(`a batch holds 1 to ${MAX_BATCH} inputs, got ${inputs.length}`);
    }
    return new BlindedBatch(inputs.map((input) => blind(input)));
  }

  get size(): number {
    return this.items.length;
  }

  get blinded(): Uint8Array[] {
    return this.items.map((b) => b.bytes);
  }

  /** The decoded answer when its proof holds against `share`, else why not. */
  verify(partial: PartialEvaluation, share: PublicShare): VerifiedPartial | PartialProblem {
    if (partial.evaluated.length !== this.items.length) return "WRONG_COUNT";
    let evaluated: Quad[];
    try {
      evaluated = partial.evaluated.map((e) => decodeElement(e));
    } catch (err) {
      if (err instanceof InvalidElementError) return "BAD_ELEMENT";
      throw err;
    }
    const ok = verifyBatch(
      share.bytes, share.element, this.items.map((b) => b.element), this.blinded, evaluated, partial.evaluated, partial.proof,
    );
    return ok ? { index: share.index, evaluated } : "BAD_PROOF";
  }

  /** OPRF outputs from exactly `threshold` verified partials of distinct evaluators. */
  combine(partials: readonly VerifiedPartial[], threshold: number): Uint8Array[] {
    if (partials.length !== threshold) {
      throw new CreditMeshError("INTERNAL", `combining needs exactly ${threshold} partial evaluations, got ${partials.length}`);
    }
    const lambdas = lagrangeAtZero(partials.map((p) => p.index));
    return this.items.map((item, j) => {
      const unblind = Fn.inv(item.blind);
      let acc = mulQuad(Fn.mul(lambdas[0], unblind), partials[0].evaluated[j]);
      for (let i = 1; i < partials.length; i++) acc = add(acc, mulQuad(Fn.mul(lambdas[i], unblind), partials[i].evaluated[j]));
      return finalizeHash(item.input, encodeElement(acc));
    });
  }
}
