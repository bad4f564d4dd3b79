import { describe, expect, it, vi } from "vitest";
import { generateNodeKey, verifyByPeerId } from "../../../src/identity/node-key.js";
import { VerifiedSignatures } from "../../../src/identity/verified-signatures.js";

const alice = generateNodeKey();
const bob = generateNodeKey();
const data = Buffer.from("consent body");
const signature = alice.sign(data);

describe("VerifiedSignatures", () => {
  it("verifies a signature once and answers repeats from memory", () => {
    const verify = vi.fn(verifyByPeerId);
    const cache = new VerifiedSignatures({ max: 10 }, verify);
    expect(cache.verify(alice.peerId, data, signature)).toBe(true);
    expect(cache.verify(alice.peerId, Buffer.from(data), Buffer.from(signature))).toBe(true);
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it("never lets a remembered signature vouch for other bytes, another signer or another signature", () => {
    const verify = vi.fn(verifyByPeerId);
    const cache = new VerifiedSignatures({ max: 10 }, verify);
    expect(cache.verify(alice.peerId, data, signature)).toBe(true);
    expect(cache.verify(alice.peerId, Buffer.from("consent bodY"), signature)).toBe(false);
    expect(cache.verify(bob.peerId, data, signature)).toBe(false);
    const flipped = Buffer.from(signature);
    flipped[0] ^= 1;
    expect(cache.verify(alice.peerId, data, flipped)).toBe(false);
    expect(verify).toHaveBeenCalledTimes(4);
  });

  it("does not remember failures", () => {
    const verify = vi.fn(verifyByPeerId);
    const cache = new VerifiedSignatures({ max: 10 }, verify);
    expect(cache.verify(bob.peerId, data, signature)).toBe(false);
    expect(cache.verify(bob.peerId, data, signature)).toBe(false);
    expect(verify).toHaveBeenCalledTimes(2);
    expect(cache.size).toBe(0);
  });

  it("keeps at most max entries, dropping the least recently used", () => {
    const verify = vi.fn(verifyByPeerId);
    const cache = new VerifiedSignatures({ max: 2 }, verify);
    const msgs = ["a", "b", "c"].map((m) => Buffer.from(m));
    const sigs = msgs.map((m) => alice.sign(m));
    cache.verify(alice.peerId, msgs[0], sigs[0]);
    cache.verify(alice.peerId, msgs[1], sigs[1]);
    cache.verify(alice.peerId, msgs[0], sigs[0]); // a is now the most recent
    cache.verify(alice.peerId, msgs[2], sigs[2]); // evicts b
    expect(cache.size).toBe(2);
    expect(verify).toHaveBeenCalledTimes(3);
    cache.verify(alice.peerId, msgs[0], sigs[0]);
    expect(verify).toHaveBeenCalledTimes(3);
    cache.verify(alice.peerId, msgs[1], sigs[1]);
    expect(verify).toHaveBeenCalledTimes(4);
  });
});
