import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import type { AccountPii } from "./types.js";

/** A data-encryption key and the id written next to everything it seals. */
export interface DataKey {
  id: string;
  key: Uint8Array;
}

const FORMAT_V1 = 1;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_KEY_ID_BYTES = 255;

const EMPTY = new Uint8Array(0);

/**
 * AES-256-GCM for data at rest.
 *
 * Sealed layout: [format 1][key-id length][key id][12-byte IV][ciphertext][16-byte tag].
 * The key id lets a node keep reading records sealed under a retired key
 * while re-sealing them under the current one. The header and the caller's
 * AAD are both authenticated, so neither the key id nor the record a blob
 * belongs to can be swapped without detection.
 */
export class DataCipher {
  private current: { id: string; idBytes: Buffer; key: Buffer };
  private readonly byId = new Map<string, Buffer>();

  /** `keys[0]` seals; every key listed can open. */
  constructor(keys: readonly DataKey[]) {
    if (keys.length === 0) {
      throw new CreditMeshError("CONFIG_INVALID", "data_keys: at least one key is required", { field: "data_keys" });
    }
    keys.forEach((k, i) => this.addKey(k, `data_keys[${i}]`));
    this.current = this.entry(keys[0].id);
  }

  private addKey(k: DataKey, field: string): void {
    const idBytes = Buffer.byteLength(k.id, "utf8");
    if (idBytes === 0 || idBytes > MAX_KEY_ID_BYTES) {
      throw new CreditMeshError("CONFIG_INVALID", `${field}.id: must be 1 to ${MAX_KEY_ID_BYTES} bytes`, {
        field: `${field}.id`,
      });
    }
    if (k.key.length !== KEY_BYTES) {
      throw new CreditMeshError("CONFIG_INVALID", `${field}.key: must be ${KEY_BYTES} bytes`, {
        field: `${field}.key`,
      });
    }
    if (this.byId.has(k.id)) {
      throw new CreditMeshError("CONFIG_INVALID", `${field}.id: duplicate key id`, { field: `${field}.id` });
    }
    // Copied so that a caller zeroing or reusing its buffer cannot change ours.
    this.byId.set(k.id, Buffer.from(k.key));
  }

  private entry(id: string): { id: string; idBytes: Buffer; key: Buffer } {
    return { id, idBytes: Buffer.from(id, "utf8"), key: this.byId.get(id)! };
  }

  /** Id of the key that seal() uses. */
  get currentKeyId(): string {
    return this.current.id;
  }

  /** Ids of every key that can open, in the order they were added. */
  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  /**
   * Starts a rotation: `key` seals from now on, and every key already held
   * still opens, so values sealed before keep reading while they are
   * re-sealed.
   */
  useNewKey(key: DataKey): void {
    this.addKey(key, "data_key");
    this.current = this.entry(key.id);
  }

  /**
   * Ends a rotation: forgets keys once nothing sealed under them is left
   * (their bytes are zeroed). The current key cannot be retired; unknown ids
   * are ignored.
   */
  retireKeys(ids: readonly string[]): void {
    if (ids.includes(this.current.id)) {
      throw new CreditMeshError("INTERNAL", `key ${JSON.stringify(this.current.id)} seals new data and cannot be retired`);
    }
    for (const id of ids) {
      this.byId.get(id)?.fill(0);
      this.byId.delete(id);
    }
  }

  seal(plain: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
    const { idBytes, key } = this.current;
    const headerLength = 2 + idBytes.length;
    const out = Buffer.allocUnsafe(headerLength + IV_BYTES + plain.length + TAG_BYTES);
    out[0] = FORMAT_V1;
    out[1] = idBytes.length;
    idBytes.copy(out, 2);
    const iv = randomBytes(IV_BYTES);
    iv.copy(out, headerLength);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(authenticated(out.subarray(0, headerLength), aad));
    let offset = headerLength + IV_BYTES;
    offset += cipher.update(plain).copy(out, offset);
    offset += cipher.final().copy(out, offset);
    cipher.getAuthTag().copy(out, offset);
    return out;
  }

  open(sealed: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const { keyId, headerLength } = readHeader(buf);
    const key = this.byId.get(keyId);
    if (key === undefined) {
      throw new CreditMeshError("CRYPTO_DECRYPT_FAILED", `sealed under key id ${JSON.stringify(keyId)}, which is not configured`);
    }
    const iv = buf.subarray(headerLength, headerLength + IV_BYTES);
    const body = buf.subarray(headerLength + IV_BYTES, buf.length - TAG_BYTES);
    const tag = buf.subarray(buf.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAAD(authenticated(buf.subarray(0, headerLength), aad));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch (err) {
      throw new CreditMeshError("CRYPTO_DECRYPT_FAILED", "sealed data failed authentication", { cause: err });
    }
  }

  /** The id of the key a sealed value was written with. */
  keyIdOf(sealed: Uint8Array): string {
    return readHeader(Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)).keyId;
  }

  /** True when the value was sealed under a key other than the current one (a rotation left it behind). */
  needsReseal(sealed: Uint8Array): boolean {
    return this.keyIdOf(sealed) !== this.current.id;
  }

  /** Opens under whichever key sealed it and seals again under the current key. */
  reseal(sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
    return this.seal(this.open(sealed, aad), aad);
  }

  /**
   * Seals an account's identity fields. Pass the account ref as `aad` so that
   * a sealed blob copied onto another account no longer opens.
   */
  sealPii(pii: AccountPii, aad?: Uint8Array | string): Uint8Array {
    const json = JSON.stringify({
      accountId: pii.accountId,
      idType: pii.idType,
      idNumber: pii.idNumber,
      name: pii.name,
      phone: pii.phone,
    });
    return this.seal(Buffer.from(json, "utf8"), toBytes(aad));
  }

  openPii(sealed: Uint8Array, aad?: Uint8Array | string): AccountPii {
    const plain = this.open(sealed, toBytes(aad));
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength).toString("utf8"));
    } catch (err) {
      throw new CreditMeshError("STORE_CORRUPT", "sealed account identity is not valid JSON", { cause: err });
    }
    if (!isAccountPii(value)) {
      throw new CreditMeshError("STORE_CORRUPT", "sealed account identity has an unexpected shape");
    }
    return value;
  }
}

function readHeader(buf: Buffer): { keyId: string; headerLength: number } {
  if (buf.length < 2 || buf[0] !== FORMAT_V1) {
    throw new CreditMeshError("CRYPTO_DECRYPT_FAILED", "sealed data has an unknown format");
  }
  const headerLength = 2 + buf[1];
  if (buf[1] === 0 || buf.length < headerLength + IV_BYTES + TAG_BYTES) {
    throw new CreditMeshError("CRYPTO_DECRYPT_FAILED", "sealed data is truncated");
  }
  return { keyId: buf.toString("utf8", 2, headerLength), headerLength };
}

function authenticated(header: Buffer, aad: Uint8Array): Buffer {
  return aad.length === 0 ? header : Buffer.concat([header, aad]);
}

function toBytes(aad: Uint8Array | string | undefined): Uint8Array | undefined {
  return typeof aad === "string" ? Buffer.from(aad, "utf8") : aad;
}

function isAccountPii(v: unknown): v is AccountPii {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return ["accountId", "idType", "idNumber", "name", "phone"].every((k) => typeof o[k] === "string");
}
