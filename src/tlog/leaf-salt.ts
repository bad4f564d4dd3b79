import { hkdfSync } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import { SALT_BYTES } from "./leaves.js";
import { scratchBuffer, sha256, sha256Into } from "./sha256.js";

const BLOCK = 64;
const SALT_INFO = "creditmesh/tlog/leaf-salt/v1";

/**
 * The salt of each record version, derived instead of stored:
 * HMAC-SHA256(salt key, lp(record id) ‖ u64 version). Only the holder (who
 * has the key) can compute it; to anyone else each salt is an independent
 * random value, so the salt handed out with one record opens no other leaf.
 * Deriving costs no write and no read per record, where a stored random salt
 * cost a random draw, a write at ingest and a read per proof.
 *
 * HMAC is computed from the key's precomputed inner and outer blocks with two
 * one-shot hashes (RFC 2104) into reused buffers, which is cheaper per call
 * than a Hmac object.
 */
export class LeafSaltKey {
  private readonly inner: Buffer;
  /** outer pad ‖ inner hash: the second hash's input, its tail rewritten per call. */
  private readonly outerInput: Buffer;
  private readonly innerHash: Buffer;

  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== 32) {
      throw new CreditMeshError("VALIDATION_FAILED", "salt key: must be 32 bytes", { field: "salt_key" });
    }
    this.inner = Buffer.alloc(BLOCK, 0x36);
    const outer = Buffer.alloc(BLOCK, 0x5c);
    for (let i = 0; i < key.length; i++) {
      this.inner[i]! ^= key[i]!;
      outer[i]! ^= key[i]!;
    }
    this.outerInput = Buffer.alloc(BLOCK + 32);
    outer.copy(this.outerInput, 0);
    this.innerHash = this.outerInput.subarray(BLOCK);
  }

  /** The node's salt key, derived from a node secret (HKDF-SHA256, a label of its own), so no new secret is stored. */
  static derivedFrom(secret: Uint8Array): LeafSaltKey {
    return new LeafSaltKey(new Uint8Array(hkdfSync("sha256", secret, new Uint8Array(0), SALT_INFO, 32)));
  }

  /** The salt of version `version` of the record `recordId`. */
  salt(recordId: string, version: number): Uint8Array {
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new CreditMeshError("VALIDATION_FAILED", "version: must be a positive integer", { field: "version" });
    }
    const idLen = Buffer.byteLength(recordId, "utf8");
    if (idLen > 0xffff) throw new CreditMeshError("VALIDATION_FAILED", "record id: longer than 65535 bytes", { field: "record_id" });
    const length = BLOCK + 2 + idLen + 8;
    const message = scratchBuffer(length);
    this.inner.copy(message, 0);
    message.writeUInt16BE(idLen, BLOCK);
    message.write(recordId, BLOCK + 2, "utf8");
    message.writeUInt32BE(Math.floor(version / 0x1_0000_0000), BLOCK + 2 + idLen);
    message.writeUInt32BE(version % 0x1_0000_0000, BLOCK + 2 + idLen + 4);
    sha256Into(this.innerHash, message.subarray(0, length));
    const salt = sha256(this.outerInput);
    return salt.length === SALT_BYTES ? salt : salt.subarray(0, SALT_BYTES);
  }
}
