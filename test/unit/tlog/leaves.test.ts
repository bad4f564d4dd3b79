import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  LeafKind,
  answerLeaf,
  auditHeadLeaf,
  decodeLeaf,
  inquiryLeaf,
  newSalt,
  recordVersionLeaf,
  sha256,
  tombstoneLeaf,
} from "../../../src/tlog/leaves.js";

const TOKEN = "9f2c".repeat(16);
const ACCOUNT = "a1b2".repeat(16);
const record = (salt: Uint8Array, over: Partial<Parameters<typeof recordVersionLeaf>[0]> = {}) =>
  recordVersionLeaf({
    recordKind: "account",
    subjectToken: TOKEN,
    accountRef: ACCOUNT,
    version: 3,
    canonicalRecord: Buffer.from('{"balance":"120000"}'),
    salt,
    ...over,
  });

describe("log leaves", () => {
  it("encode a record version as kind, version and salted commitments, with no token or ref readable", () => {
    const salt = new Uint8Array(32).fill(9);
    const leaf = record(salt);
    const text = Buffer.from(leaf).toString("latin1");
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(ACCOUNT);
    expect(text).not.toContain("120000");
    const { kind, fields } = decodeLeaf(leaf);
    expect(kind).toBe(LeafKind.RecordVersion);
    expect(Buffer.from(fields[0]!).toString()).toBe("account");
    expect(Buffer.from(fields[1]!).readBigUInt64BE()).toBe(3n);
    // Deterministic for the salt's holder, different under another salt.
    expect(Buffer.from(record(salt))).toEqual(Buffer.from(leaf));
    expect(Buffer.from(record(newSalt()))).not.toEqual(Buffer.from(leaf));
    for (const change of [{ version: 4 }, { subjectToken: "other" }, { accountRef: "other" }, { canonicalRecord: Buffer.from("{}") }]) {
      expect(Buffer.from(record(salt, change))).not.toEqual(Buffer.from(leaf));
    }
  });

  it("tag each kind so no leaf of one kind decodes as another", () => {
    const h = sha256(Buffer.from("signed bytes"));
    const leaves = [inquiryLeaf(h), answerLeaf(h), tombstoneLeaf(12, "ERASURE"), auditHeadLeaf(1000, h)];
    expect(leaves.map((l) => decodeLeaf(l).kind)).toEqual([LeafKind.Inquiry, LeafKind.Answer, LeafKind.Tombstone, LeafKind.AuditHead]);
    expect(new Set(leaves.map((l) => Buffer.from(l).toString("hex"))).size).toBe(4);
    expect(Buffer.from(decodeLeaf(leaves[0]!).fields[0]!)).toEqual(Buffer.from(h));
  });

  it("refuse bad input, naming the field", () => {
    const salt = newSalt();
    expect(() => inquiryLeaf(new Uint8Array(31))).toThrow(expect.objectContaining({ field: "signed_query_hash" }));
    expect(() => tombstoneLeaf(-1, "ERASURE")).toThrow(expect.objectContaining({ field: "target_index" }));
    expect(() => tombstoneLeaf(1, "name: Zhang San")).toThrow(expect.objectContaining({ field: "reason" }));
    expect(() => record(salt, { version: 1.5 })).toThrow(expect.objectContaining({ field: "version" }));
    expect(() => record(new Uint8Array(8))).toThrow(expect.objectContaining({ field: "salt" }));
    expect(() => record(salt, { subjectToken: "" })).toThrow(expect.objectContaining({ field: "subject_token" }));
  });

  it("decode random bytes to a precise error or a well-formed leaf, never a crash", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          const { kind, fields } = decodeLeaf(bytes);
          expect(Object.values(LeafKind)).toContain(kind);
          expect(fields.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toMatchObject({ code: "VALIDATION_FAILED" });
        }
      }),
    );
  });
});
