import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LeafSaltKey } from "../../../src/tlog/leaf-salt.js";

/** The same HMAC through node's own Hmac object: HMAC-SHA256(key, lp(record id) ‖ u64 version). */
function reference(key: Uint8Array, recordId: string, version: number): Buffer {
  const id = Buffer.from(recordId, "utf8");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(id.length);
  const v = Buffer.alloc(8);
  v.writeBigUInt64BE(BigInt(version));
  return createHmac("sha256", key).update(len).update(id).update(v).digest();
}

describe("leaf salts", () => {
  it("are HMAC-SHA256 of the record id and version under the salt key", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.string({ minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (key, id, version) => {
        expect(Buffer.from(new LeafSaltKey(key).salt(id, version))).toEqual(reference(key, id, version));
      }),
    );
  });

  it("differ per record, per version and per key, and are stable for the holder", () => {
    const a = new LeafSaltKey(new Uint8Array(32).fill(1));
    const b = new LeafSaltKey(new Uint8Array(32).fill(2));
    const salts = [a.salt("ref!a", 1), a.salt("ref!a", 2), a.salt("ref!r1", 1), b.salt("ref!a", 1)].map((s) => Buffer.from(s).toString("hex"));
    expect(new Set(salts).size).toBe(4);
    expect(Buffer.from(a.salt("ref!a", 1))).toEqual(Buffer.from(new LeafSaltKey(new Uint8Array(32).fill(1)).salt("ref!a", 1)));
    // Derived from a node secret: the same secret gives the same key, another secret another one.
    const secret = new Uint8Array(32).fill(9);
    expect(Buffer.from(LeafSaltKey.derivedFrom(secret).salt("x!a", 1))).toEqual(Buffer.from(LeafSaltKey.derivedFrom(secret).salt("x!a", 1)));
    expect(Buffer.from(LeafSaltKey.derivedFrom(secret).salt("x!a", 1))).not.toEqual(Buffer.from(LeafSaltKey.derivedFrom(new Uint8Array(32)).salt("x!a", 1)));
  });

  it("refuse a bad key or version, naming the field", () => {
    expect(() => new LeafSaltKey(new Uint8Array(16))).toThrow(expect.objectContaining({ field: "salt_key" }));
    const k = new LeafSaltKey(new Uint8Array(32));
    expect(() => k.salt("ref!a", 0)).toThrow(expect.objectContaining({ field: "version" }));
    expect(() => k.salt("ref!a", 1.5)).toThrow(expect.objectContaining({ field: "version" }));
  });
});
