import { describe, expect, it } from "vitest";
import { decodeElement, elementFromBytes, encodeElement, mulQuad } from "../../../../src/subject/oprf/group.js";
import {
  deriveSecretKey, OPRF_TAGS, scalarFromBytes, scalarToBytes, VOPRF_TAGS,
} from "../../../../src/subject/oprf/suite.js";
import { blind, evaluateBatch, evaluateDirect, finalize, verifyBatch } from "../../../../src/subject/oprf/voprf.js";

// RFC 9497 Appendix A.1 (ristretto255-SHA512), copied from the RFC text.
const hex = (s: string) => Buffer.from(s, "hex");
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const SEED = hex("a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3");
const KEY_INFO = hex("74657374206b6579");
const INPUT1 = hex("00");
const INPUT2 = hex("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
const BLIND = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706";
const scalar = (h: string) => scalarFromBytes(hex(h))!;

describe("RFC 9497 A.1.1 ristretto255-SHA512 OPRF mode", () => {
  const skSm = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e";
  const vectors = [
    {
      input: INPUT1,
      blinded: "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
      evaluated: "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
      output: "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
    },
    {
      input: INPUT2,
      blinded: "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
      evaluated: "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
      output: "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
    },
  ];

  it("derives skSm from Seed and KeyInfo", () => {
    expect(toHex(scalarToBytes(deriveSecretKey(SEED, KEY_INFO, OPRF_TAGS)))).toBe(skSm);
  });

  it.each(vectors.map((v, i) => [i + 1, v] as const))("test vector %i: blind, evaluate, finalize", (_n, v) => {
    const k = scalar(skSm);
    const b = blind(v.input, scalar(BLIND), OPRF_TAGS);
    expect(toHex(b.bytes)).toBe(v.blinded);
    const evaluated = encodeElement(mulQuad(k, decodeElement(b.bytes)));
    expect(toHex(evaluated)).toBe(v.evaluated);
    expect(toHex(finalize(b, decodeElement(evaluated)))).toBe(v.output);
    expect(toHex(evaluateDirect(k, v.input, OPRF_TAGS))).toBe(v.output);
  });
});

describe("RFC 9497 A.1.2 ristretto255-SHA512 VOPRF mode", () => {
  const skSm = "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909";
  const pkSm = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e";
  const vectors = [
    {
      name: "test vector 1, batch size 1",
      inputs: [INPUT1],
      blinds: [BLIND],
      blinded: ["863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945"],
      evaluated: ["aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e"],
      proof: "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd066d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d",
      proofRandomScalar: "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
      outputs: ["b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c"],
    },
    {
      name: "test vector 2, batch size 1",
      inputs: [INPUT2],
      blinds: [BLIND],
      blinded: ["cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c"],
      evaluated: ["60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468"],
      proof: "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02",
      proofRandomScalar: "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
      outputs: ["8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6"],
    },
    {
      name: "test vector 3, batch size 2",
      inputs: [INPUT1, INPUT2],
      blinds: [BLIND, "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e"],
      blinded: [
        "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
        "90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
      ],
      evaluated: [
        "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
        "cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
      ],
      proof: "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08",
      proofRandomScalar: "419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c",
      outputs: [
        "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c",
        "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
      ],
    },
  ];

  it("derives skSm and pkSm from Seed and KeyInfo", () => {
    const k = deriveSecretKey(SEED, KEY_INFO, VOPRF_TAGS);
    expect(toHex(scalarToBytes(k))).toBe(skSm);
    expect(toHex(encodeElement(mulQuad(k, decodeElement(hex(pkSm)))))).not.toBe(pkSm); // k·pk is not pk
    expect(toHex(encodeElement(elementFromBytes(hex(pkSm))))).toBe(pkSm);
  });

  it.each(vectors.map((v) => [v.name, v] as const))("%s: blind, batch evaluate with proof, verify, finalize", (_name, v) => {
    const k = scalar(skSm);
    const pk = hex(pkSm);
    const blinded = v.inputs.map((input, i) => blind(input, scalar(v.blinds[i]), VOPRF_TAGS));
    expect(blinded.map((b) => toHex(b.bytes))).toEqual(v.blinded);

    const result = evaluateBatch(k, pk, blinded.map((b) => decodeElement(b.bytes)), blinded.map((b) => b.bytes), scalar(v.proofRandomScalar));
    expect(result.evaluated.map(toHex)).toEqual(v.evaluated);
    expect(toHex(result.proof)).toBe(v.proof);

    const evaluated = v.evaluated.map((e) => decodeElement(hex(e)));
    const ok = verifyBatch(pk, elementFromBytes(pk), blinded.map((b) => b.element), blinded.map((b) => b.bytes), evaluated, v.evaluated.map(hex), hex(v.proof));
    expect(ok).toBe(true);
    expect(blinded.map((b, i) => toHex(finalize(b, evaluated[i])))).toEqual(v.outputs);
  });

  it("refuses the RFC proof once any byte of it or of an evaluated element changes", () => {
    const v = vectors[2];
    const pk = hex(pkSm);
    const blinded = v.inputs.map((input, i) => blind(input, scalar(v.blinds[i]), VOPRF_TAGS));
    const verify = (evaluatedHex: string[], proof: Uint8Array) =>
      verifyBatch(pk, elementFromBytes(pk), blinded.map((b) => b.element), blinded.map((b) => b.bytes),
        evaluatedHex.map((e) => decodeElement(hex(e))), evaluatedHex.map(hex), proof);
    const proof = hex(v.proof);
    proof[5] ^= 1;
    expect(verify(v.evaluated, proof)).toBe(false);
    // The two answers swapped: each is a real evaluation, but not of the element in its place.
    expect(verify([v.evaluated[1], v.evaluated[0]], hex(v.proof))).toBe(false);
  });
});
