import { describe, expect, it } from "vitest";
import { isCreditMeshError } from "../../../../src/errors.js";
import { splitSecret } from "../../../../src/subject/oprf/shamir.js";
import { Fn, randomScalar } from "../../../../src/subject/oprf/suite.js";
import {
  BlindedBatch, decodeBlindedBatch, decodeKeyShare, encodeKeyShare, MAX_BATCH, ShareEvaluator, type VerifiedPartial,
} from "../../../../src/subject/oprf/threshold.js";
import { evaluateDirect } from "../../../../src/subject/oprf/voprf.js";

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const inputs = ["cn-resident-id/v1:11010519491231002X", "cn-resident-id/v1:440524188001010014", "passport/v1:E12345678"].map(
  (s) => new TextEncoder().encode(s),
);

function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  return items.flatMap((item, i) => subsets(items.slice(i + 1), size - 1).map((rest) => [item, ...rest]));
}

function committee(t: number, n: number) {
  const key = randomScalar();
  const evaluators = splitSecret(key, t, n).map((s) => new ShareEvaluator({ index: s.index, secret: s.value }));
  return { key, evaluators, expected: inputs.map((i) => toHex(evaluateDirect(key, i))) };
}

function verified(batch: BlindedBatch, evaluators: readonly ShareEvaluator[]): VerifiedPartial[] {
  return evaluators.map((e) => {
    const v = batch.verify(e.evaluate(batch.blinded), e.public);
    if (typeof v === "string") throw new Error(`evaluator ${e.public.index}: ${v}`);
    return v;
  });
}

describe.each([[2, 3], [3, 5]])("threshold VOPRF, %i of %i", (t, n) => {
  const { evaluators, expected } = committee(t, n);

  it("every t-subset gives the token of the whole key", () => {
    for (const subset of subsets(evaluators, t)) {
      const batch = BlindedBatch.create(inputs);
      expect(batch.combine(verified(batch, subset), t).map(toHex)).toEqual(expected);
    }
  });

  it("no (t-1)-subset does", () => {
    for (const subset of subsets(evaluators, t - 1)) {
      if (subset.length === 0) continue;
      const batch = BlindedBatch.create(inputs);
      const outputs = batch.combine(verified(batch, subset), t - 1).map(toHex);
      for (let j = 0; j < inputs.length; j++) expect(outputs[j]).not.toBe(expected[j]);
    }
  });
});

describe("proof verification catches", () => {
  const { evaluators } = committee(2, 3);

  it("an evaluator answering with a share other than the one it published", () => {
    const liar = new ShareEvaluator({ index: 2, secret: Fn.add(randomScalar(), 1n) });
    const batch = BlindedBatch.create(inputs);
    expect(batch.verify(liar.evaluate(batch.blinded), evaluators[1].public)).toBe("BAD_PROOF");
  });

  it("a correct answer presented as another evaluator's", () => {
    const batch = BlindedBatch.create(inputs);
    expect(batch.verify(evaluators[0].evaluate(batch.blinded), evaluators[1].public)).toBe("BAD_PROOF");
  });

  it("an answer replayed from another request for the same subjects", () => {
    const earlier = BlindedBatch.create(inputs);
    const replayed = evaluators[0].evaluate(earlier.blinded);
    const batch = BlindedBatch.create(inputs);
    expect(batch.verify(replayed, evaluators[0].public)).toBe("BAD_PROOF");
    expect(typeof earlier.verify(replayed, evaluators[0].public)).toBe("object");
  });

  it("an answer with one element altered, reordered, dropped or not a group element", () => {
    const batch = BlindedBatch.create(inputs);
    const good = evaluators[0].evaluate(batch.blinded);
    const share = evaluators[0].public;
    const other = evaluators[0].evaluate(BlindedBatch.create(inputs).blinded).evaluated[0];
    expect(batch.verify({ ...good, evaluated: [other, ...good.evaluated.slice(1)] }, share)).toBe("BAD_PROOF");
    expect(batch.verify({ ...good, evaluated: [good.evaluated[1], good.evaluated[0], good.evaluated[2]] }, share)).toBe("BAD_PROOF");
    expect(batch.verify({ ...good, evaluated: good.evaluated.slice(1) }, share)).toBe("WRONG_COUNT");
    expect(batch.verify({ ...good, evaluated: [new Uint8Array(32), ...good.evaluated.slice(1)] }, share)).toBe("BAD_ELEMENT");
    const proof = Uint8Array.from(good.proof);
    proof[40] ^= 0x10;
    expect(batch.verify({ ...good, proof }, share)).toBe("BAD_PROOF");
  });
});

describe("an evaluator's input checks", () => {
  it("names the element that is not a group element, and the size limit", () => {
    const ok = BlindedBatch.create(inputs).blinded;
    const expectField = (f: () => unknown, field: string) => {
      try {
        f();
        expect.unreachable();
      } catch (err) {
        expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
        expect((err as { field?: string }).field).toBe(field);
      }
    };
    expectField(() => decodeBlindedBatch([ok[0], new Uint8Array(32).fill(0xff)]), "blinded_elements[1]");
    expectField(() => decodeBlindedBatch([ok[0], ok[1].subarray(1)]), "blinded_elements[1]");
    expectField(() => decodeBlindedBatch([]), "blinded_elements");
    expectField(() => decodeBlindedBatch(Array.from({ length: MAX_BATCH + 1 }, () => ok[0])), "blinded_elements");
  });
});

describe("a stored key share", () => {
  it("round-trips, and a damaged one is refused by name", () => {
    const share = { index: 3, secret: randomScalar() };
    expect(decodeKeyShare(encodeKeyShare(share))).toEqual(share);
    const damaged = encodeKeyShare({ index: 3, secret: 0n });
    expect(() => decodeKeyShare(damaged)).toThrow(/token_key_share/);
    expect(() => decodeKeyShare(encodeKeyShare(share).subarray(1))).toThrow(/token_key_share/);
  });
});
