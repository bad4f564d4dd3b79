import sodium from "sodium-native";

/**
 * Ed25519 through libsodium. Every report costs a signature per holder and a
 * verification per answer and per query; here libsodium verifies in ~54 µs
 * and signs in ~26 µs, node:crypto (OpenSSL) in ~110 µs and ~40 µs. The
 * signatures are the same standard Ed25519 (RFC 8032, deterministic), so
 * either side can check the other's.
 */
export function ed25519Sign(data: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const signature = Buffer.allocUnsafe(sodium.crypto_sign_BYTES);
  sodium.crypto_sign_detached(signature, data, secretKey);
  return signature;
}

/** False for a bad signature; callers check the lengths first. */
export function ed25519Verify(data: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  return sodium.crypto_sign_verify_detached(signature, data, publicKey);
}

/** The public key of a 32-byte seed, and the 64-byte secret key (seed || public key) that signs. */
export function ed25519KeyPairFromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const publicKey = new Uint8Array(sodium.crypto_sign_PUBLICKEYBYTES);
  const secretKey = new Uint8Array(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed);
  return { publicKey, secretKey };
}
