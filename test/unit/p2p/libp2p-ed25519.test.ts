import { createPrivateKey, createPublicKey, sign as opensslSign, verify as opensslVerify } from "node:crypto";
import fc from "fast-check";
import sodium from "sodium-native";
import { describe, expect, it, vi } from "vitest";
import { Uint8ArrayList } from "uint8arraylist";
import { privateKeyFromRaw, publicKeyFromRaw } from "@libp2p/crypto/keys";
import type { PublicKey } from "@libp2p/interface";
import { generateNodeKey, NodeKey } from "../../../src/identity/node-key.js";
import { installSodiumEd25519 } from "../../../src/p2p/libp2p-ed25519.js";

/** libp2p's own Uint8ArrayList type (its copy of the package may be another version than the one this test imports). */
type Bytes = Parameters<PublicKey["verify"]>[0];
const inParts = (...chunks: Uint8Array[]) => new Uint8ArrayList(...chunks) as unknown as Bytes;

// What @libp2p/crypto does without the patch: node:crypto (OpenSSL) with a key built from JWK.
function reference(sk: Uint8Array) {
  const x = Buffer.from(sk.subarray(32)).toString("base64url");
  const d = Buffer.from(sk.subarray(0, 32)).toString("base64url");
  return {
    sign: (m: Uint8Array) => opensslSign(null, m, createPrivateKey({ format: "jwk", key: { kty: "OKP", crv: "Ed25519", d, x } })),
    verify: (m: Uint8Array, sig: Uint8Array) => opensslVerify(null, m, createPublicKey({ format: "jwk", key: { kty: "OKP", crv: "Ed25519", x } }), sig),
  };
}

describe("installSodiumEd25519", () => {
  installSodiumEd25519();

  it("signs exactly what OpenSSL signs, for keys made before and after it was installed", () => {
    const before = generateNodeKey();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 2000 }), fc.nat(2000), (seed, message, cut) => {
        const key = seed[0]! % 2 === 0 ? before : NodeKey.fromSeed(seed);
        const sk = key.libp2pPrivateKey.raw;
        const expected = Buffer.from(reference(sk).sign(message)).toString("hex");
        expect(Buffer.from(key.libp2pPrivateKey.sign(message) as Uint8Array).toString("hex")).toBe(expected);
        const at = Math.min(cut, message.length);
        const parts = inParts(message.subarray(0, at), message.subarray(at));
        expect(Buffer.from(privateKeyFromRaw(sk).sign(parts) as Uint8Array).toString("hex")).toBe(expected);
      }),
      { numRuns: 60 },
    );
  });

  it("accepts what OpenSSL accepts and refuses a changed message, signature or key", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 1, maxLength: 500 }), fc.nat(), (seed, message, at) => {
        const key = NodeKey.fromSeed(seed);
        const sig = reference(key.libp2pPrivateKey.raw).sign(message);
        const pub = publicKeyFromRaw(key.libp2pPrivateKey.publicKey.raw);
        expect(pub.verify(message, sig)).toBe(true);
        expect(pub.verify(inParts(message), sig)).toBe(true);
        const badMessage = Buffer.from(message);
        badMessage[at % badMessage.length]! ^= 1;
        const badSig = Buffer.from(sig);
        badSig[at % 64]! ^= 1;
        expect([pub.verify(badMessage, sig), reference(key.libp2pPrivateKey.raw).verify(badMessage, sig)]).toEqual([false, false]);
        expect(pub.verify(message, badSig)).toBe(reference(key.libp2pPrivateKey.raw).verify(message, badSig));
        expect(publicKeyFromRaw(generateNodeKey().libp2pPrivateKey.publicKey.raw).verify(message, sig)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it("refuses a signature of the wrong length, and an aborted call, as @libp2p/crypto does", () => {
    const key = generateNodeKey();
    expect(() => key.libp2pPrivateKey.publicKey.verify(new Uint8Array(3), new Uint8Array(63))).toThrow(TypeError);
    const signal = AbortSignal.abort(new Error("gone"));
    expect(() => key.libp2pPrivateKey.sign(new Uint8Array(3), { signal })).toThrow("gone");
    expect(() => key.libp2pPrivateKey.publicKey.verify(new Uint8Array(3), new Uint8Array(64), { signal })).toThrow("gone");
  });

  it("goes through libsodium once installed, for keys libp2p builds itself", () => {
    const signs = vi.spyOn(sodium, "crypto_sign_detached");
    const checks = vi.spyOn(sodium, "crypto_sign_verify_detached");
    try {
      const key = generateNodeKey();
      const sig = privateKeyFromRaw(key.libp2pPrivateKey.raw).sign(new Uint8Array([1, 2, 3])) as Uint8Array;
      expect(publicKeyFromRaw(key.libp2pPrivateKey.publicKey.raw).verify(new Uint8Array([1, 2, 3]), sig)).toBe(true);
      expect([signs.mock.calls.length, checks.mock.calls.length]).toEqual([1, 1]);
    } finally {
      signs.mockRestore();
      checks.mockRestore();
    }
  });
});
