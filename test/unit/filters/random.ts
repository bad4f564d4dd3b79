import { createCipheriv, createHash } from "node:crypto";
import type { RandomSource } from "../../../src/filters/binary-fuse.js";

/** A reproducible byte stream (SHA-256 in counter mode), for filters and tokens that a failing run can replay. */
export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return (size: number) => {
    const out = new Uint8Array(size);
    for (let at = 0; at < size; at += 32) {
      const block = createHash("sha256").update(`${seed}:${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, size - at)), at);
    }
    return out;
  };
}

/** `count` distinct 64-hex tokens from `seed`. */
export function seededTokens(seed: string, count: number): string[] {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push(createHash("sha256").update(`${seed}/${i}`).digest("hex"));
  return tokens;
}

/** `count` 32-byte tokens from `seed`, cheaply (an AES-CTR keystream): for measuring over a million probes. */
export function streamedTokens(seed: string, count: number): Uint8Array[] {
  const key = createHash("sha256").update(seed).digest();
  const stream = createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(32 * count));
  return Array.from({ length: count }, (_, i) => stream.subarray(32 * i, 32 * i + 32));
}
