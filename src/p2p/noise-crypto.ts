import sodium from "sodium-native";
import { pureJsCrypto, type ICryptoInterface } from "@chainsafe/libp2p-noise";

const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** A message whole or in parts (noise's Uint8ArrayList). */
type Bytes = Parameters<ICryptoInterface["hashSHA256"]>[0];

function flat(data: Bytes): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray();
}

/**
 * Noise's primitives through libsodium, the same algorithms on the wire
 * (X25519, ChaCha20-Poly1305 IETF, SHA-256). The package's default builds a
 * DER-encoded KeyObject for every Diffie-Hellman: ~485 µs per DH here
 * against ~32 µs for crypto_scalarmult, and a handshake does three on each
 * side, so a member dialing its peers at start spent more on key objects
 * than on anything else; short messages seal and open 2-3x faster too.
 * HKDF stays the package's own (a few per handshake).
 */
export const sodiumNoiseCrypto: ICryptoInterface = {
  getHKDF: pureJsCrypto.getHKDF,

  hashSHA256(data) {
    const out = Buffer.allocUnsafe(32);
    sodium.crypto_hash_sha256(out, flat(data));
    return out;
  },

  generateX25519KeyPair() {
    const privateKey = Buffer.allocUnsafe(KEY_BYTES);
    sodium.randombytes_buf(privateKey);
    const publicKey = Buffer.allocUnsafe(KEY_BYTES);
    sodium.crypto_scalarmult_base(publicKey, privateKey);
    return { publicKey, privateKey };
  },

  generateX25519KeyPairFromSeed(seed) {
    const publicKey = Buffer.allocUnsafe(KEY_BYTES);
    sodium.crypto_scalarmult_base(publicKey, seed);
    return { publicKey, privateKey: seed };
  },

  generateX25519SharedKey(privateKey, publicKey) {
    const shared = Buffer.allocUnsafe(KEY_BYTES);
    sodium.crypto_scalarmult(shared, flat(privateKey), flat(publicKey));
    return shared;
  },

  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    const message = flat(plaintext);
    const sealed = Buffer.allocUnsafe(message.byteLength + TAG_BYTES);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(sealed, message, ad, null, nonce, k);
    return sealed;
  },

  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
    const sealed = flat(ciphertext);
    if (sealed.byteLength < TAG_BYTES) throw new Error("Invalid chacha20poly1305 decryption: shorter than its tag");
    const length = sealed.byteLength - TAG_BYTES;
    // Noise hands the ciphertext's own bytes as `dst` to open a transport message in place.
    const message = dst !== undefined && dst.byteLength >= length ? dst.subarray(0, length) : Buffer.allocUnsafe(length);
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(message, null, sealed, ad, nonce, k);
    return message;
  },
};
