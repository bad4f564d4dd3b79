import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  LeafKind,
  answerLeaf,
  auditHeadLeaf,
  decodeLeaf,
  filterLeaf,
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

/** The v2 record leaf as specified, built field by field with node:crypto: what every log written so far holds. */
function specifiedRecordLeaf(kind: string, token: string, ref: string, version: number, canonicalHash: Uint8Array, salt: Uint8Array): Buffer {
  const lp = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  const u64 = Buffer.alloc(8);
  u64.writeBigUInt64BE(BigInt(version));
  const commitment = createHash("sha256")
    .update("creditmesh/tlog/record-version\n")
    .update(salt)
    .update(lp(Buffer.from(token, "utf8")))
    .update(lp(Buffer.from(ref, "utf8")))
    .update(canonicalHash)
    .digest();
  return Buffer.concat([lp(Buffer.from("creditmesh/tlog/record/v2")), lp(Buffer.from(kind, "utf8")), lp(u64), lp(commitment)]);
}

describe("log leaves", () => {
  it("lay out an inquiry and an answer as their kind and one length-prefixed digest", () => {
    const h = sha256(Buffer.from("signed"));
    const lp = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
    expect(Buffer.from(inquiryLeaf(h)).toString("hex")).toBe(Buffer.concat([lp(Buffer.from("creditmesh/tlog/inquiry/v1")), lp(Buffer.from(h))]).toString("hex"));
    expect(Buffer.from(answerLeaf(h)).toString("hex")).toBe(Buffer.concat([lp(Buffer.from("creditmesh/tlog/answer/v1")), lp(Buffer.from(h))]).toString("hex"));
    expect(() => inquiryLeaf(h.subarray(0, 31))).toThrow(expect.objectContaining({ field: "signed_query_hash" }));
  });

  it("lay out a record version byte for byte as specified, for any text and version", () => {
    expect(Buffer.from(record(new Uint8Array(32).fill(9))).toString("hex")).toBe(
      specifiedRecordLeaf("account", TOKEN, ACCOUNT, 3, sha256(Buffer.from('{"balance":"120000"}')), new Uint8Array(32).fill(9)).toString("hex"),
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" }),
        fc.string({ minLength: 1, maxLength: 300, unit: "grapheme" }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (token, ref, version, canonicalHash, salt) => {
          const leaf = recordVersionLeaf({ recordKind: "repayment", subjectToken: token, accountRef: ref, version, canonicalHash, salt });
          expect(Buffer.from(leaf).toString("hex")).toBe(specifiedRecordLeaf("repayment", token, ref, version, canonicalHash, salt).toString("hex"));
        },
      ),
    );
  });

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

  it("commit to the canonical record through its hash: given the record or its SHA-256, the same leaf", () => {
    const salt = new Uint8Array(32).fill(4);
    const canonical = Buffer.from('{"balance":"120000"}');
    const byRecord = record(salt, { canonicalRecord: canonical });
    const byHash = recordVersionLeaf({ recordKind: "account", subjectToken: TOKEN, accountRef: ACCOUNT, version: 3, canonicalHash: sha256(canonical), salt });
    expect(Buffer.from(byHash)).toEqual(Buffer.from(byRecord));
    const { kind, fields } = decodeLeaf(byHash);
    expect(kind).toBe(LeafKind.RecordVersion);
    expect(fields.map((f) => f.length)).toEqual([7, 8, 32]);
  });

  it("encode a published filter with its institution, epoch, sequence, count and hash", () => {
    const h = sha256(Buffer.from("filter bytes"));
    const leaf = filterLeaf({ institutionId: "bank-a", epoch: 7, sequence: 0, count: 1024, filterSha256: h });
    const { kind, fields } = decodeLeaf(leaf);
    expect(kind).toBe(LeafKind.Filter);
    expect(Buffer.from(fields[0]!).toString()).toBe("bank-a");
    expect(fields.slice(1, 4).map((f) => Buffer.from(f).readBigUInt64BE())).toEqual([7n, 0n, 1024n]);
    expect(Buffer.from(fields[4]!)).toEqual(Buffer.from(h));
    expect(() => filterLeaf({ institutionId: "bank-a", epoch: 7, sequence: 0, count: 1024, filterSha256: new Uint8Array(3) })).toThrow(
      expect.objectContaining({ field: "filter_sha256" }),
    );
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
