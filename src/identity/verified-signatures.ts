import { createHash } from "node:crypto";

export type VerifyBySigner = (signer: string, data: Uint8Array, signature: Uint8Array) => boolean;

/**
 * Remembers signatures that verified. A consent artefact travels with every
 * query made under it, to every holder, for as long as it is valid; with this
 * each holder pays one Ed25519 verification (~105 µs here) per consent rather
 * than one per query. A hit means exactly these bytes, by exactly this
 * signer, verified before: the key is a SHA-256 over all three. Failures are
 * not remembered. Bounded, least recently used out first, so memory stays flat.
 */
export class VerifiedSignatures {
  private readonly seen = new Map<string, true>();

  constructor(
    private readonly opts: { max: number },
    private readonly verifyBySigner: VerifyBySigner,
  ) {}

  verify(signer: string, data: Uint8Array, signature: Uint8Array): boolean {
    const signerBytes = Buffer.from(signer, "utf8");
    const length = Buffer.alloc(4);
    length.writeUInt32BE(signerBytes.length);
    const key = createHash("sha256").update(length).update(signerBytes).update(data).update(signature).digest("base64");
    if (this.seen.delete(key)) {
      this.seen.set(key, true);
      return true;
    }
    if (!this.verifyBySigner(signer, data, signature)) return false;
    this.seen.set(key, true);
    if (this.seen.size > this.opts.max) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
