/** The part of sodium-native (libsodium bindings) this project uses. */
declare module "sodium-native" {
  const sodium: {
    readonly crypto_sign_BYTES: number;
    readonly crypto_sign_PUBLICKEYBYTES: number;
    readonly crypto_sign_SECRETKEYBYTES: number;
    crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void;
    crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
    crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
    /** Throws when `point` is not a canonical point of the prime-order subgroup or the result is the identity. */
    crypto_scalarmult_ed25519_noclamp(result: Uint8Array, scalar: Uint8Array, point: Uint8Array): void;
    crypto_scalarmult_ed25519_base_noclamp(result: Uint8Array, scalar: Uint8Array): void;
    crypto_core_ed25519_add(result: Uint8Array, p: Uint8Array, q: Uint8Array): void;
    /** `out` must be exactly 32 bytes. */
    crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
    randombytes_buf(out: Uint8Array): void;
    /** X25519. Throws when the result is all zeros (a low-order public key). */
    crypto_scalarmult(result: Uint8Array, secretKey: Uint8Array, publicKey: Uint8Array): void;
    crypto_scalarmult_base(publicKey: Uint8Array, secretKey: Uint8Array): void;
    /** Returns the number of bytes written to `ciphertext` (message + 16). */
    crypto_aead_chacha20poly1305_ietf_encrypt(
      ciphertext: Uint8Array, message: Uint8Array, additionalData: Uint8Array | null, nsec: null, nonce: Uint8Array, key: Uint8Array,
    ): number;
    /** Throws when the tag does not verify; `message` may be `ciphertext`'s own bytes (in place). */
    crypto_aead_chacha20poly1305_ietf_decrypt(
      message: Uint8Array, nsec: null, ciphertext: Uint8Array, additionalData: Uint8Array | null, nonce: Uint8Array, key: Uint8Array,
    ): number;
    readonly crypto_aead_xchacha20poly1305_ietf_ABYTES: number;
    readonly crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number;
    readonly crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number;
    /** Returns the number of bytes written to `ciphertext`. */
    crypto_aead_xchacha20poly1305_ietf_encrypt(
      ciphertext: Uint8Array, message: Uint8Array, additionalData: Uint8Array | null, nsec: null, nonce: Uint8Array, key: Uint8Array,
    ): number;
    /** Throws when the tag does not verify. */
    crypto_aead_xchacha20poly1305_ietf_decrypt(
      message: Uint8Array, nsec: null, ciphertext: Uint8Array, additionalData: Uint8Array | null, nonce: Uint8Array, key: Uint8Array,
    ): number;
  };
  export default sodium;
}
