import sodium from "sodium-native";
import { privateKeyFromRaw } from "@libp2p/crypto/keys";
import type { PrivateKey, PublicKey } from "@libp2p/interface";

type Bytes = Parameters<PublicKey["verify"]>[0];
type Options = Parameters<PublicKey["verify"]>[2];

const SIGNATURE_BYTES = 64;
const PUBLIC_KEY_BYTES = 32;
const SECRET_KEY_BYTES = 64;

/**
 * libp2p's own Ed25519 signatures through libsodium: gossipsub's signature on
 * every message, noise's on its handshake payload, identify's signed peer
 * records. @libp2p/crypto builds a node:crypto KeyObject from JWK for every
 * signature and every check; at 100 members, checking gossip messages so was
 * ~6 % of a host's CPU while members started. libsodium signs the same
 * bytes (Ed25519 is deterministic) without a key object: ~16 µs a signature
 * and ~40 µs a check here, against ~26 and ~67 µs through OpenSSL even with
 * the key object kept. Its checks are at least as strict.
 *
 * Installed once per process on the classes' prototypes, as the yamux and
 * length-prefix fixes are: keys created before and after alike.
 */
export function installSodiumEd25519(): void {
  const seed = Buffer.alloc(32);
  const pk = Buffer.alloc(PUBLIC_KEY_BYTES);
  const sk = Buffer.alloc(SECRET_KEY_BYTES);
  sodium.crypto_sign_seed_keypair(pk, sk, seed);
  const privateKey = privateKeyFromRaw(sk);
  const privateProto = Object.getPrototypeOf(privateKey) as PrivateKey & { [installed]?: true };
  const publicProto = Object.getPrototypeOf(privateKey.publicKey) as PublicKey & { [installed]?: true };
  if (privateProto[installed] && publicProto[installed]) return;

  publicProto.verify = function verify(this: PublicKey, data: Bytes, sig: Uint8Array, options?: Options): boolean {
    options?.signal?.throwIfAborted();
    if (sig.byteLength !== SIGNATURE_BYTES) throw new TypeError('"sig" must be 64 bytes in length.');
    if (this.raw.byteLength !== PUBLIC_KEY_BYTES) throw new TypeError('"key" must be 32 bytes in length.');
    return sodium.crypto_sign_verify_detached(sig, flat(data), this.raw);
  };
  privateProto.sign = function sign(this: PrivateKey, data: Bytes, options?: Options): Uint8Array {
    options?.signal?.throwIfAborted();
    if (this.raw.byteLength !== SECRET_KEY_BYTES) throw new TypeError('"key" must be 64 bytes in length.');
    const signature = Buffer.allocUnsafe(SIGNATURE_BYTES);
    sodium.crypto_sign_detached(signature, flat(data), this.raw);
    return signature;
  };
  privateProto[installed] = true;
  publicProto[installed] = true;
}

const installed = Symbol.for("creditmesh.libp2p.sodiumEd25519");

function flat(data: Bytes): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray();
}
