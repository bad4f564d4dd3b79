import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Uint8ArrayList } from "uint8arraylist";
import { defaultCrypto } from "@chainsafe/libp2p-noise/crypto";
import { sodiumNoiseCrypto as ours } from "../../../src/p2p/noise-crypto.js";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const hex = (b: Uint8Array | Uint8ArrayList) => Buffer.from(b instanceof Uint8Array ? b : b.subarray()).toString("hex");

// The package's default (OpenSSL through node:crypto, and its WebAssembly ChaCha20-Poly1305 below 1,200 bytes)
// is what every other member's noise speaks: ours must give the same bytes for the same inputs.
describe("sodiumNoiseCrypto against noise's default primitives", () => {
  it("derives the same X25519 public keys and shared secrets", () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (a, b) => {
        const ka = ours.generateX25519KeyPairFromSeed(a);
        const kb = defaultCrypto.generateX25519KeyPairFromSeed(b);
        expect(hex(ka.publicKey)).toBe(hex(defaultCrypto.generateX25519KeyPairFromSeed(a).publicKey));
        expect(hex(ours.generateX25519SharedKey(ka.privateKey, kb.publicKey))).toBe(hex(defaultCrypto.generateX25519SharedKey(kb.privateKey, ka.publicKey)));
      }),
      { numRuns: 50 },
    );
  });

  it("makes fresh key pairs whose public half belongs to the private half", () => {
    const k = ours.generateX25519KeyPair();
    const again = ours.generateX25519KeyPair();
    expect(hex(k.privateKey)).not.toBe(hex(again.privateKey));
    expect(hex(k.publicKey)).toBe(hex(defaultCrypto.generateX25519KeyPairFromSeed(k.privateKey).publicKey));
  });

  it("refuses a low-order public key (an all-zero shared secret)", () => {
    expect(() => ours.generateX25519SharedKey(ours.generateX25519KeyPair().privateKey, new Uint8Array(32))).toThrow();
  });

  it("seals and opens exactly as the default does, whole or in parts, and in place", () => {
    fc.assert(
      fc.property(bytes(32), bytes(12), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 3000 }), fc.nat(3000), (k, nonce, ad, message, cut) => {
        const sealed = ours.chaCha20Poly1305Encrypt(message, nonce, ad, k);
        expect(hex(sealed)).toBe(hex(defaultCrypto.chaCha20Poly1305Encrypt(message, nonce, ad, k)));
        const at = Math.min(cut, message.length);
        expect(hex(ours.chaCha20Poly1305Encrypt(new Uint8ArrayList(message.subarray(0, at), message.subarray(at)), nonce, ad, k))).toBe(hex(sealed));

        const flat = Buffer.from(sealed instanceof Uint8Array ? sealed : sealed.subarray());
        expect(hex(ours.chaCha20Poly1305Decrypt(flat, nonce, ad, k))).toBe(hex(message));
        expect(hex(defaultCrypto.chaCha20Poly1305Decrypt(Buffer.from(flat), nonce, ad, k))).toBe(hex(message));
        // Noise opens a transport message into its own ciphertext's bytes.
        const inPlace = Buffer.from(flat);
        const opened = ours.chaCha20Poly1305Decrypt(inPlace, nonce, ad, k, inPlace.subarray(0, message.length));
        expect(hex(opened)).toBe(hex(message));
        expect(hex(inPlace.subarray(0, message.length))).toBe(hex(message));
      }),
      { numRuns: 100 },
    );
  });

  it("refuses a sealed message with any bit changed, or shorter than its tag", () => {
    const k = new Uint8Array(32).fill(7);
    const nonce = new Uint8Array(12).fill(1);
    const ad = new Uint8Array(32).fill(3);
    const sealed = Buffer.from(ours.chaCha20Poly1305Encrypt(new Uint8Array(100).fill(5), nonce, ad, k) as Uint8Array);
    for (const at of [0, 50, 99, 100, 115]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 1;
      expect(() => ours.chaCha20Poly1305Decrypt(bad, nonce, ad, k)).toThrow();
    }
    expect(() => ours.chaCha20Poly1305Decrypt(sealed, nonce, new Uint8Array(32), k)).toThrow();
    expect(() => ours.chaCha20Poly1305Decrypt(sealed.subarray(0, 15), nonce, ad, k)).toThrow(/shorter than its tag/);
  });

  it("hashes a message whole or in parts as SHA-256", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), fc.nat(500), (m, cut) => {
        const at = Math.min(cut, m.length);
        const expected = hex(defaultCrypto.hashSHA256(m));
        expect(hex(ours.hashSHA256(m))).toBe(expected);
        expect(hex(ours.hashSHA256(new Uint8ArrayList(m.subarray(0, at), m.subarray(at))))).toBe(expected);
      }),
    );
  });
});

describe("a node with sodiumNoiseCrypto and one with noise's default", () => {
  it("complete the handshake both ways and exchange data over the encrypted connection", async () => {
    const { createLibp2p } = await import("libp2p");
    const { tcp } = await import("@libp2p/tcp");
    const { yamux } = await import("@chainsafe/libp2p-yamux");
    const { noise } = await import("@chainsafe/libp2p-noise");
    const { ping } = await import("@libp2p/ping");
    const make = (crypto?: typeof ours) =>
      createLibp2p({
        addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
        transports: [tcp()],
        connectionEncrypters: [crypto ? noise({ crypto }) : noise()],
        streamMuxers: [yamux()],
        services: { ping: ping() },
      });
    // Each pair dials once the other way: the initiator's and the responder's side both run on our primitives.
    for (const [dialer, listener] of [[make(ours), make()], [make(), make(ours)]] as const) {
      const [a, b] = await Promise.all([dialer, listener]);
      try {
        expect(await a.services.ping.ping(b.getMultiaddrs()[0]!)).toBeGreaterThanOrEqual(0);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    }
  });
});
