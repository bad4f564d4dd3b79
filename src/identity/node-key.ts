import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from "node:crypto";
import { inspect } from "node:util";
import { privateKeyFromRaw, publicKeyFromRaw } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey, peerIdFromPublicKey, peerIdFromString } from "@libp2p/peer-id";
import type { PrivateKey } from "@libp2p/interface";
import { CreditMeshError } from "../errors.js";

// node:crypto only takes Ed25519 keys as DER/PEM/JWK; these fixed ASN.1 headers
// turn a raw 32-byte seed or public key into PKCS#8 / SPKI DER without a parser.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export const ED25519_SEED_BYTES = 32;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/**
 * A node's Ed25519 identity. The same key signs application messages (through
 * node:crypto, ~15x faster than the pure-JS path) and is the libp2p peer key,
 * so a peer id alone is enough to verify anything that peer signed.
 */
export class NodeKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly peerId: string;
  readonly libp2pPrivateKey: PrivateKey;
  readonly #signingKey: KeyObject;

  private constructor(seed: Uint8Array) {
    this.seed = Uint8Array.from(seed);
    this.#signingKey = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, this.seed]),
      format: "der",
      type: "pkcs8",
    });
    const spki = createPublicKey(this.#signingKey).export({ format: "der", type: "spki" });
    this.publicKey = Uint8Array.from(spki.subarray(SPKI_ED25519_PREFIX.length));
    // libp2p's raw Ed25519 private key form is seed || public key.
    const raw = new Uint8Array(ED25519_SEED_BYTES + ED25519_PUBLIC_KEY_BYTES);
    raw.set(this.seed, 0);
    raw.set(this.publicKey, ED25519_SEED_BYTES);
    this.libp2pPrivateKey = privateKeyFromRaw(raw);
    this.peerId = peerIdFromPrivateKey(this.libp2pPrivateKey).toString();
    publicKeyObjectCache.set(this.peerId, createPublicKeyObject(this.publicKey));
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
    return edSign(null, data, this.#signingKey);
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
  try {
    const cacheKey = Buffer.from(publicKey).toString("hex");
    let key = publicKeyObjectCache.get(cacheKey);
    if (key === undefined) {
      key = createPublicKeyObject(publicKey);
      publicKeyObjectCache.set(cacheKey, key);
    }
    return edVerify(null, data, key, signature);
  } catch {
    return false;
  }
}

/** Verifies a signature by the key a peer id embeds (cached: this is on every answer's path). */
export function verifyByPeerId(peerId: string, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  let key: KeyObject;
  try {
    key = publicKeyObjectForPeerId(peerId);
  } catch {
    return false;
  }
  try {
    return edVerify(null, data, key, signature);
  } catch {
    return false;
  }
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

function createPublicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: "der", type: "spki" });
}

/**
 * Peer ids can come from untrusted input (a request field, a gossip message),
 * so the cache is bounded; members are few, so hits are the normal case.
 */
class BoundedKeyCache {
  readonly #entries = new Map<string, KeyObject>();
  constructor(private readonly max: number) {}

  get(id: string): KeyObject | undefined {
    return this.#entries.get(id);
  }

  set(id: string, key: KeyObject): void {
    if (this.#entries.has(id)) return;
    if (this.#entries.size >= this.max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(id, key);
  }
}

const publicKeyObjectCache = new BoundedKeyCache(4096);

function publicKeyObjectForPeerId(peerId: string): KeyObject {
  const cached = publicKeyObjectCache.get(peerId);
  if (cached !== undefined) return cached;
  const key = createPublicKeyObject(publicKeyFromPeerId(peerId));
  publicKeyObjectCache.set(peerId, key);
  return key;
}
