import { describe, expect, test } from "vitest";
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from "node:crypto";
import { inspect } from "node:util";
import { ed25519 } from "@noble/curves/ed25519.js";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import {
  NodeKey,
  generateNodeKey,
  peerIdFromPublicKeyBytes,
  publicKeyFromPeerId,
  verifyByPeerId,
  verifySignature,
} from "../../../src/identity/node-key.js";
import { isCreditMeshError } from "../../../src/errors.js";

const seed = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const data = new TextEncoder().encode("tradeline answer");

describe("NodeKey", () => {
  test("the same seed gives the same public key and peer id", () => {
    const a = NodeKey.fromSeed(seed);
    const b = NodeKey.fromSeed(Uint8Array.from(seed));
    expect(Buffer.from(a.publicKey)).toEqual(Buffer.from(b.publicKey));
    expect(a.peerId).toBe(b.peerId);
    expect(Buffer.from(a.seed)).toEqual(Buffer.from(seed));
  });

  test("its public key and peer id agree with libp2p's and noble's derivation", async () => {
    const key = NodeKey.fromSeed(seed);
    expect(Buffer.from(key.publicKey)).toEqual(Buffer.from(ed25519.getPublicKey(seed)));
    const libp2pKey = await generateKeyPairFromSeed("Ed25519", seed);
    expect(key.peerId).toBe(peerIdFromPrivateKey(libp2pKey).toString());
    expect(key.libp2pPrivateKey.equals(libp2pKey)).toBe(true);
    expect(key.peerId).toMatch(/^12D3KooW/);
  });

  test("signatures are standard Ed25519 (noble verifies them)", () => {
    const key = generateNodeKey();
    const sig = key.sign(data);
    expect(sig).toHaveLength(64);
    expect(ed25519.verify(sig, data, key.publicKey)).toBe(true);
    expect(verifySignature(key.publicKey, data, sig)).toBe(true);
    expect(key.verify(data, sig)).toBe(true);
  });

  test("a noble signature verifies here", () => {
    const pub = ed25519.getPublicKey(seed);
    expect(verifySignature(pub, data, ed25519.sign(data, seed))).toBe(true);
  });

  test("signatures agree byte for byte with node:crypto's (OpenSSL) and verify both ways", () => {
    const key = NodeKey.fromSeed(seed);
    const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]), format: "der", type: "pkcs8" });
    const openssl = cryptoSign(null, data, privateKey);
    expect(Buffer.from(key.sign(data))).toEqual(openssl);
    expect(verifySignature(key.publicKey, data, openssl)).toBe(true);
    expect(cryptoVerify(null, data, createPublicKey(privateKey), key.sign(data))).toBe(true);
  });

  test("a forged or altered signature is refused, without throwing", () => {
    const key = generateNodeKey();
    const other = generateNodeKey();
    const sig = key.sign(data);
    const flipped = Uint8Array.from(sig);
    flipped[10] ^= 1;
    const tampered = Uint8Array.from(data);
    tampered[0] ^= 1;
    expect(verifySignature(key.publicKey, data, flipped)).toBe(false);
    expect(verifySignature(key.publicKey, tampered, sig)).toBe(false);
    expect(verifySignature(other.publicKey, data, sig)).toBe(false);
    expect(verifySignature(key.publicKey, data, other.sign(data))).toBe(false);
    expect(verifySignature(key.publicKey, data, sig.subarray(0, 63))).toBe(false);
    expect(verifySignature(key.publicKey.subarray(0, 31), data, sig)).toBe(false);
    expect(verifySignature(new Uint8Array(32), data, sig)).toBe(false);
  });

  test("rejects a seed that is not 32 bytes", () => {
    for (const bad of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
      expect(() => NodeKey.fromSeed(bad)).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED", field: "seed" }));
    }
  });

  test("keeps the seed out of JSON and inspection", () => {
    const key = NodeKey.fromSeed(seed);
    const hex = Buffer.from(seed).toString("hex");
    expect(JSON.stringify({ key })).not.toContain(hex);
    expect(JSON.stringify({ key })).toContain(key.peerId);
    expect(inspect(key)).toBe(`NodeKey(${key.peerId})`);
  });

  test("fresh keys differ", () => {
    expect(generateNodeKey().peerId).not.toBe(generateNodeKey().peerId);
  });
});

describe("peer id and public key", () => {
  test("round trip", () => {
    const key = generateNodeKey();
    expect(Buffer.from(publicKeyFromPeerId(key.peerId))).toEqual(Buffer.from(key.publicKey));
    expect(peerIdFromPublicKeyBytes(key.publicKey)).toBe(key.peerId);
  });

  test("verifyByPeerId checks against the key inside the peer id", () => {
    const key = generateNodeKey();
    const sig = key.sign(data);
    expect(verifyByPeerId(key.peerId, data, sig)).toBe(true);
    expect(verifyByPeerId(key.peerId, data, sig)).toBe(true); // cached path
    expect(verifyByPeerId(generateNodeKey().peerId, data, sig)).toBe(false);
    expect(verifyByPeerId("not-a-peer-id", data, sig)).toBe(false);
    const tampered = Uint8Array.from(data);
    tampered[3] ^= 0x80;
    expect(verifyByPeerId(key.peerId, tampered, sig)).toBe(false);
  });

  test("a string that is not an Ed25519 peer id is refused", () => {
    for (const bad of ["", "hello", "12D3KooWinvalid", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"]) {
      let error: unknown;
      try {
        publicKeyFromPeerId(bad);
      } catch (err) {
        error = err;
      }
      expect(isCreditMeshError(error, "VALIDATION_FAILED")).toBe(true);
    }
  });
});
