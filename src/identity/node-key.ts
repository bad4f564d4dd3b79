import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { privateKeyFromRaw, publicKeyFromRaw } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey, peerIdFromPublicKey, peerIdFromString } from "@libp2p/peer-id";
import type { PrivateKey } from "@libp2p/interface";
import { CreditMeshError } from "../errors.js";
import { ed25519KeyPairFromSeed, ed25519Sign, ed25519Verify } from "./ed25519.js";

export const ED25519_SEED_BYTES = 32;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/**
 * A node's Ed25519 identity. The same key signs application messages (through
 * libsodium, see ed25519.ts) and is the libp2p peer key, so a peer id alone is
 * enough to verify anything that peer signed.
 */
export class NodeKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly peerId: string;
  readonly libp2pPrivateKey: PrivateKey;
  /** seed || public key: libsodium's and libp2p's form of the private key. */
  readonly #secretKey: Uint8Array;

  private constructor(seed: Uint8Array) {
    this.seed = Uint8Array.from(seed);
    const { publicKey, secretKey } = ed25519KeyPairFromSeed(this.seed);
    this.publicKey = publicKey;
    this.#secretKey = secretKey;
    this.libp2pPrivateKey = privateKeyFromRaw(secretKey);
    this.peerId = peerIdFromPrivateKey(this.libp2pPrivateKey).toString();
    publicKeyCache.set(this.peerId, this.publicKey);
  }

  static fromSeed(seed: Uint8Array): NodeKey {
    if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_BYTES) {
      throw new CreditMeshError("VALIDATION_FAILED", `node key seed must be ${ED25519_SEED_BYTES} bytes`, {
        field: "seed",
      });
    }
    return new NodeKey(seed);
  }

  sign(data: Uint8Array): Uint8Array {
    return ed25519Sign(data, this.#secretKey);
  }

  verify(data: Uint8Array, signature: Uint8Array): boolean {
    return verifySignature(this.publicKey, data, signature);
  }

  // The seed is a secret: keep it out of logs, JSON and console output.
  toJSON(): { peerId: string } {
    return { peerId: this.peerId };
  }

  [inspect.custom](): string {
    return `NodeKey(${this.peerId})`;
  }
}

export function generateNodeKey(): NodeKey {
  return NodeKey.fromSeed(randomBytes(ED25519_SEED_BYTES));
}

/** Verifies an Ed25519 signature; false (never a throw) for any malformed input. */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) {
    return false;
  }
  return ed25519Verify(data, signature, publicKey);
}

/** Verifies a signature by the key a peer id embeds (cached: this is on every answer's path). */
export function verifyByPeerId(peerId: string, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  let key = publicKeyCache.get(peerId);
  if (key === undefined) {
    try {
      key = publicKeyFromPeerId(peerId);
    } catch {
      return false;
    }
    publicKeyCache.set(peerId, key);
  }
  return ed25519Verify(data, signature, key);
}

/** The raw 32-byte Ed25519 public key inside a peer id; throws VALIDATION_FAILED otherwise. */
export function publicKeyFromPeerId(peerId: string): Uint8Array {
  let parsed: ReturnType<typeof peerIdFromString>;
  try {
    parsed = peerIdFromString(peerId);
  } catch (cause) {
    throw new CreditMeshError("VALIDATION_FAILED", "peer_id: not a libp2p peer id", { field: "peer_id", cause });
  }
  if (parsed.type !== "Ed25519") {
    throw new CreditMeshError("VALIDATION_FAILED", `peer_id: expected an Ed25519 peer id, got ${parsed.type}`, {
      field: "peer_id",
    });
  }
  return Uint8Array.from(parsed.publicKey.raw);
}

/** The peer id string for a raw Ed25519 public key. */
export function peerIdFromPublicKeyBytes(publicKey: Uint8Array): string {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new CreditMeshError("VALIDATION_FAILED", "public_key: expected 32 bytes", { field: "public_key" });
  }
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString();
}

/**
 * Peer ids can come from untrusted input (a request field, a gossip message),
 * so the cache is bounded; members are few, so hits are the normal case.
 */
class BoundedKeyCache {
  readonly #entries = new Map<string, Uint8Array>();
  constructor(private readonly max: number) {}

  get(id: string): Uint8Array | undefined {
    return this.#entries.get(id);
  }

  set(id: string, key: Uint8Array): void {
    if (this.#entries.has(id)) return;
    if (this.#entries.size >= this.max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(id, key);
  }
}

/** Peer id → raw Ed25519 public key. */
const publicKeyCache = new BoundedKeyCache(4096);
