import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCreditMeshError } from "../../../src/errors.js";
import { BinaryFuse16, HEADER_BYTES, layoutFor } from "../../../src/filters/binary-fuse.js";
import { paddedCapacity } from "../../../src/filters/buckets.js";
import { seededRandom, seededTokens, streamedTokens } from "./random.js";

const tokenBytes = fc.uint8Array({ minLength: 32, maxLength: 32 });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const seedArb = fc.string({ minLength: 1, maxLength: 12 });

function expectValidationFailed(fn: () => unknown, field?: string): void {
  try {
    fn();
  } catch (err) {
    expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
    if (field !== undefined) expect((err as { field?: string }).field).toBe(field);
    return;
  }
  throw new Error("expected VALIDATION_FAILED");
}

describe("BinaryFuse16 properties", () => {
  it("never gives a false negative, whatever the set (duplicates and both spellings included)", () => {
    fc.assert(
      fc.property(fc.array(tokenBytes, { maxLength: 3000 }), seedArb, (keys, seed) => {
        // Every key goes in as hex, every third again as bytes: both spell one token, and repeats must not break the build.
        const input = [...keys.map(hex), ...keys.filter((_, i) => i % 3 === 0)];
        const filter = BinaryFuse16.build(input, { random: seededRandom(seed) });
        for (const k of keys) {
          expect(filter.has(k)).toBe(true);
          expect(filter.has(hex(k))).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("keeps members after a round trip through bytes, and re-encodes to the same bytes", () => {
    fc.assert(
      fc.property(fc.uniqueArray(tokenBytes, { maxLength: 1500, selector: hex }), seedArb, (keys, seed) => {
        const filter = BinaryFuse16.build(keys, { random: seededRandom(seed) });
        const bytes = filter.toBytes();
        const parsed = BinaryFuse16.fromBytes(bytes, { maxBytes: bytes.length });
        expect(parsed.capacity).toBe(filter.capacity);
        expect(parsed.seed).toEqual(filter.seed);
        expect(Buffer.from(parsed.toBytes()).equals(Buffer.from(bytes))).toBe(true);
        for (const k of keys) expect(parsed.has(k)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it("has a false-positive rate near 2^-16 on small random sets", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), seedArb, (n, seed) => {
        const filter = BinaryFuse16.build(streamedTokens(`m${seed}`, n), { random: seededRandom(seed) });
        const probes = streamedTokens(`p${seed}`, 20_000);
        const hits = probes.filter((t) => filter.has(t)).length;
        // Expected 0.3 hits; 6 or more has odds of about 1e-6 at 2^-16, and is the norm at 8 bits.
        expect(hits).toBeLessThan(6);
      }),
      { numRuns: 20 },
    );
  });

  it("measures a false-positive rate within 2.6 × 2^-16 over a million non-members", () => {
    const members = seededTokens("fpr-members", 20_000);
    const filter = BinaryFuse16.build(members, { random: seededRandom("fpr") });
    let hits = 0;
    for (const t of streamedTokens("fpr-probes", 1_000_000)) if (filter.has(t)) hits++;
    // Expected 15.3; P(Poisson(15.3) > 40) ≈ 5e-8. An 8-bit filter would give ~3900.
    expect(hits).toBeLessThanOrEqual(40);
    expect(filter.byteLength / members.length).toBeLessThan(2.6);
  });

  it("throws nothing but VALIDATION_FAILED on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          BinaryFuse16.fromBytes(bytes, { maxBytes: 512 });
        } catch (err) {
          expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("throws nothing but VALIDATION_FAILED on a real filter with bytes changed or cut", () => {
    const valid = BinaryFuse16.build(seededTokens("mutate", 100), { random: seededRandom("mutate") }).toBytes();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: HEADER_BYTES + 40 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat({ max: valid.length }),
        (edits, cut) => {
          const bytes = Uint8Array.from(valid.subarray(0, cut === 0 ? valid.length : cut));
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
          try {
            const filter = BinaryFuse16.fromBytes(bytes, { maxBytes: 1 << 20 });
            // What parses must answer queries without throwing.
            filter.has("00".repeat(32));
          } catch (err) {
            expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("BinaryFuse16 padding", () => {
  it("sizes the filter by the padded capacity, so nearby counts give identical sizes", () => {
    const a = BinaryFuse16.build(seededTokens("a", 1000));
    const b = BinaryFuse16.build(seededTokens("b", 1020));
    expect(a.capacity).toBe(1024);
    expect(b.capacity).toBe(1024);
    expect(a.byteLength).toBe(b.byteLength);
    expect(a.byteLength).toBe(HEADER_BYTES + 2 * layoutFor(1024).arrayLength);
  });

  it("fills slots no key claims with random values, not zeros", () => {
    const filter = BinaryFuse16.build(seededTokens("one", 1), { random: seededRandom("fill") });
    const zeros = filter.fingerprints.filter((v) => v === 0).length;
    expect(filter.fingerprints.length).toBeGreaterThan(100);
    expect(zeros).toBeLessThan(3);
  });

  it("pads counts to buckets of at least 64, within one eighth above that", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), (n) => {
        const c = paddedCapacity(n);
        expect(c).toBeGreaterThanOrEqual(Math.max(n, 64));
        if (n > 64) expect(c).toBeLessThanOrEqual(n * 1.125 + 1);
      }),
    );
    expect(paddedCapacity(0)).toBe(64);
    expect(paddedCapacity(65)).toBe(72);
    expect(paddedCapacity(1000)).toBe(1024);
    expect(paddedCapacity(1_000_000)).toBe(1_048_576);
  });
});

describe("BinaryFuse16 input checks", () => {
  it("names the bad token by its position", () => {
    expectValidationFailed(() => BinaryFuse16.build(["aa".repeat(32), "zz".repeat(32)]), "tokens[1]");
    expectValidationFailed(() => BinaryFuse16.build([new Uint8Array(31)]), "tokens[0]");
    const filter = BinaryFuse16.build([]);
    expectValidationFailed(() => filter.has("a".repeat(63)), "subject_token");
    // An OPRF token is 64 bytes: a wrong character in its second half is refused too, and 48 bytes are neither kind.
    expectValidationFailed(() => filter.has("aa".repeat(63) + "zz"), "subject_token");
    expectValidationFailed(() => filter.has(new Uint8Array(48)), "subject_token");
  });

  it("takes OPRF tokens (64 bytes) in both spellings with no false negative", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 64, maxLength: 64 }), { maxLength: 1000 }), seedArb, (keys, seed) => {
        const filter = BinaryFuse16.build([...keys.map(hex), ...keys.filter((_, i) => i % 2 === 0)], { random: seededRandom(seed) });
        for (const k of keys) {
          expect(filter.has(k)).toBe(true);
          expect(filter.has(hex(k))).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("refuses a capacity below the number of tokens", () => {
    expectValidationFailed(() => BinaryFuse16.build(seededTokens("c", 10), { capacity: 9 }), "capacity");
  });

  it("gives the same bytes for the same tokens and random source", () => {
    const tokens = seededTokens("same", 500);
    const a = BinaryFuse16.build(tokens, { random: seededRandom("x") }).toBytes();
    const b = BinaryFuse16.build([...tokens].reverse(), { random: seededRandom("x") }).toBytes();
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it("names the header field a parse refuses", () => {
    const valid = BinaryFuse16.build(seededTokens("hdr", 10), { random: seededRandom("hdr") }).toBytes();
    const edit = (at: number, value: number) => {
      const b = Uint8Array.from(valid);
      b[at] = value;
      return b;
    };
    const limit = { maxBytes: valid.length };
    expectValidationFailed(() => BinaryFuse16.fromBytes(valid, { maxBytes: valid.length - 1 }), "filter");
    expectValidationFailed(() => BinaryFuse16.fromBytes(valid.subarray(0, HEADER_BYTES - 1), limit), "filter");
    expectValidationFailed(() => BinaryFuse16.fromBytes(edit(0, 0), limit), "filter.magic");
    expectValidationFailed(() => BinaryFuse16.fromBytes(edit(4, 2), limit), "filter.version");
    expectValidationFailed(() => BinaryFuse16.fromBytes(edit(5, 8), limit), "filter.fingerprint_bits");
    expectValidationFailed(() => BinaryFuse16.fromBytes(edit(6, 9), limit), "filter.hash_scheme");
    expectValidationFailed(() => BinaryFuse16.fromBytes(edit(7, 4), limit), "filter.arity");
    expectValidationFailed(() => BinaryFuse16.fromBytes(edit(19, 0xff), limit), "filter.capacity");
    expectValidationFailed(() => BinaryFuse16.fromBytes(edit(20, 3), limit), "filter.segment_length");
    const noSegments = Uint8Array.from(valid);
    noSegments.fill(0, 24, 28);
    expectValidationFailed(() => BinaryFuse16.fromBytes(noSegments, limit), "filter.segment_count");
    expectValidationFailed(() => BinaryFuse16.fromBytes(valid.subarray(0, valid.length - 2), limit), "filter.fingerprints");
    // A header that claims a huge array is refused by length, before any allocation of that size.
    expectValidationFailed(() => BinaryFuse16.fromBytes(edit(27, 0x7f), limit), "filter.fingerprints");
  });
});
