import sodium from "sodium-native";

/**
 * SHA-256 through libsodium, writing into a caller's buffer: the log hashes
 * dozens of 65-byte nodes per proof and several small inputs per ingested
 * record, where node:crypto's hash() costs ~1.5× as much per call (it makes
 * a hash object and a result buffer each time).
 */
export function sha256Into(out: Uint8Array, input: Uint8Array): Uint8Array {
  sodium.crypto_hash_sha256(out, input);
  return out;
}

export function sha256(input: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(32);
  sodium.crypto_hash_sha256(out, input);
  return out;
}

let scratch = Buffer.allocUnsafe(1024);

/**
 * A buffer of at least `n` bytes reused by the synchronous hashing helpers
 * below: filled, hashed and released before they return, so nothing can see
 * it change. Grows only up to 64 KiB (larger inputs get their own).
 */
export function scratchBuffer(n: number): Buffer {
  if (n <= scratch.length) return scratch;
  if (n > 65_536) return Buffer.allocUnsafe(n);
  scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
  return scratch;
}

/** SHA-256 of a one-byte prefix and `data`, without building the input per call. */
export function sha256Prefixed(prefix: number, data: Uint8Array): Buffer {
  const input = scratchBuffer(1 + data.length);
  input[0] = prefix;
  input.set(data, 1);
  return sha256(input.subarray(0, 1 + data.length));
}
