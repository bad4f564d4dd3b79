import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ristretto255 } from "@noble/curves/ed25519.js";
import {
  add, decodeElement, elementFromBytes, encodeElement, InvalidElementError, mul, mulBase, mulQuad, nobleMul,
} from "../../../../src/subject/oprf/group.js";
import { Fn, hashToGroup, VOPRF_TAGS } from "../../../../src/subject/oprf/suite.js";

const RP = ristretto255.Point;
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const arbScalar = fc.bigInt({ min: 1n, max: Fn.ORDER - 1n });
const arbPoint = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((m) => hashToGroup(m, VOPRF_TAGS).toBytes());

describe("libsodium group path agrees with noble ristretto255", () => {
  it("k·P from the wire", () => {
    fc.assert(fc.property(arbScalar, arbPoint, (k, p) => {
      expect(toHex(encodeElement(mulQuad(k, decodeElement(p))))).toBe(toHex(nobleMul(k, p)));
    }), { numRuns: 40 });
  });

  it("k·G, k·(j·P) and P + Q", () => {
    fc.assert(fc.property(arbScalar, arbScalar, arbPoint, arbPoint, (k, j, p, q) => {
      expect(toHex(encodeElement(mulBase(k)))).toBe(toHex(RP.BASE.multiply(k).toBytes()));
      expect(toHex(encodeElement(mul(k, mulQuad(j, decodeElement(p)))))).toBe(toHex(RP.fromBytes(p).multiply(Fn.mul(k, j)).toBytes()));
      expect(toHex(encodeElement(add(elementFromBytes(p), elementFromBytes(q))))).toBe(toHex(RP.fromBytes(p).add(RP.fromBytes(q)).toBytes()));
    }), { numRuns: 20 });
  });

  it("refuses the identity, a non-canonical encoding and a wrong length", () => {
    expect(() => decodeElement(new Uint8Array(32))).toThrow(InvalidElementError);
    expect(() => decodeElement(new Uint8Array(32).fill(0xff))).toThrow(InvalidElementError);
    expect(() => decodeElement(new Uint8Array(31))).toThrow(InvalidElementError);
  });
});
