import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { interpolateAtZero, lagrangeAt, splitSecret } from "../../../../src/subject/oprf/shamir.js";
import { Fn } from "../../../../src/subject/oprf/suite.js";

const arbSecret = fc.bigInt({ min: 0n, max: Fn.ORDER - 1n });
const arbShape = fc.integer({ min: 1, max: 7 }).chain((t) => fc.tuple(fc.constant(t), fc.integer({ min: t, max: t + 5 })));

describe("Shamir sharing over the ristretto255 scalars", () => {
  it("any t shares give the secret back; t-1 shares (almost surely) do not", () => {
    fc.assert(fc.property(arbSecret, arbShape, fc.integer(), (secret, [t, n], seed) => {
      const shares = splitSecret(secret, t, n);
      const rotate = Math.abs(seed) % n;
      const picked = [...shares.slice(rotate), ...shares.slice(0, rotate)];
      expect(interpolateAtZero(picked.slice(0, t))).toBe(secret);
      if (t > 1) expect(interpolateAtZero(picked.slice(0, t - 1))).not.toBe(secret);
    }), { numRuns: 60 });
  });

  it("interpolating at an index gives that member's share", () => {
    fc.assert(fc.property(arbSecret, arbShape, (secret, [t, n]) => {
      const shares = splitSecret(secret, t, n);
      const basis = shares.slice(0, t);
      for (const s of shares.slice(t)) {
        const l = lagrangeAt(s.index, basis.map((b) => b.index));
        expect(basis.reduce((acc, b, k) => Fn.add(acc, Fn.mul(l[k], b.value)), 0n)).toBe(s.value);
      }
    }), { numRuns: 30 });
  });

  it("refuses repeated indices and an index out of range", () => {
    expect(() => lagrangeAt(0, [1, 1])).toThrow(RangeError);
    expect(() => lagrangeAt(0, [0, 2])).toThrow(RangeError);
    expect(() => splitSecret(1n, 3, 2)).toThrow(RangeError);
  });
});
