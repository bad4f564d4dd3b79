import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCreditMeshError } from "../../../src/errors.js";
import {
  acceptFullFilter,
  filterSha256,
  signAnnouncement,
  signDelta,
  verifyAnnouncement,
  verifyDelta,
} from "../../../src/filters/announcement.js";
import { BinaryFuse16 } from "../../../src/filters/binary-fuse.js";
import type { Announcement } from "../../../src/filters/types.js";
import { FilterAnnouncement, FilterDelta, FilterGossip } from "../../../src/gen/creditmesh/v1/filters.js";
import { signBody } from "../../../src/identity/envelope.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { seededRandom, seededTokens } from "./random.js";

const key = generateNodeKey();
const signer = { institutionId: "bank-a", peerId: key.peerId };
const tokens = seededTokens("ann", 300);
const filter = BinaryFuse16.build(tokens, { random: seededRandom("ann") });
const filterBytes = filter.toBytes();

function announcement(over: Partial<Announcement> = {}): Announcement {
  return {
    institutionId: "bank-a",
    epoch: 1_764_720_000_000,
    count: filter.capacity,
    filterSha256: filterSha256(filterBytes),
    filterBytes: filterBytes.length,
    deltaSequence: 3,
    issuedAt: new Date("2026-12-03T00:00:00Z"),
    ...over,
  };
}

function expectError(fn: () => unknown, code: "VALIDATION_FAILED" | "SIGNATURE_INVALID", field: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isCreditMeshError(thrown, code), String(thrown)).toBe(true);
  expect((thrown as { field?: string }).field).toBe(field);
}

describe("filter announcements", () => {
  it("verify after a trip through the gossip message, with every field intact", () => {
    const wire = FilterGossip.encode({ kind: { $case: "announcement", value: signAnnouncement(key, announcement()) } }).finish();
    const decoded = FilterGossip.decode(wire);
    if (decoded.kind?.$case !== "announcement") throw new Error("expected an announcement");
    const verified = verifyAnnouncement(decoded.kind.value, signer);
    expect(verified).toEqual({ ...announcement(), filterSha256: Uint8Array.from(filterSha256(filterBytes)) });
  });

  it("refuse another signer, a changed body and a claim for another institution", () => {
    const signed = signAnnouncement(key, announcement());
    expectError(() => verifyAnnouncement(signed, { institutionId: "bank-a", peerId: generateNodeKey().peerId }), "SIGNATURE_INVALID", "announcement.signature");
    const body = Buffer.from(signed.body);
    body[body.length - 1] ^= 1;
    expectError(() => verifyAnnouncement({ ...signed, body }, signer), "SIGNATURE_INVALID", "announcement.signature");
    const other = signAnnouncement(key, announcement({ institutionId: "bank-b" }));
    expectError(() => verifyAnnouncement(other, signer), "VALIDATION_FAILED", "announcement.institution_id");
  });

  it("refuse a signature made over the bare body, as the plain envelope makes it", () => {
    const body = FilterAnnouncement.encode({
      institutionId: "bank-a",
      epoch: "1",
      count: "64",
      filterSha256: Buffer.alloc(32),
      filterBytes: "100",
      deltaSequence: "0",
      issuedAt: new Date(),
    }).finish();
    expectError(() => verifyAnnouncement(signBody(key, body), signer), "SIGNATURE_INVALID", "announcement.signature");
  });

  it("name the bad field of a signed but unsound announcement", () => {
    const raw = (over: Partial<FilterAnnouncement>) => {
      const body = FilterAnnouncement.encode({
        institutionId: "bank-a",
        epoch: "5",
        count: "64",
        filterSha256: Buffer.alloc(32),
        filterBytes: "100",
        deltaSequence: "0",
        issuedAt: new Date(),
        ...over,
      }).finish();
      return {
        body: Buffer.from(body),
        signature: Buffer.from(key.sign(Buffer.concat([Buffer.from("creditmesh/v1 FilterAnnouncement\n"), body]))),
      };
    };
    expect(verifyAnnouncement(raw({}), signer).epoch).toBe(5);
    expectError(() => verifyAnnouncement(raw({ epoch: "0" }), signer), "VALIDATION_FAILED", "announcement.epoch");
    expectError(() => verifyAnnouncement(raw({ epoch: "18446744073709551615" }), signer), "VALIDATION_FAILED", "announcement.epoch");
    expectError(() => verifyAnnouncement(raw({ count: String(2 ** 27) }), signer), "VALIDATION_FAILED", "announcement.count");
    expectError(() => verifyAnnouncement(raw({ filterSha256: Buffer.alloc(31) }), signer), "VALIDATION_FAILED", "announcement.filter_sha256");
    expectError(() => verifyAnnouncement(raw({ filterBytes: "0" }), signer), "VALIDATION_FAILED", "announcement.filter_bytes");
    expectError(
      () => verifyAnnouncement(raw({ filterBytes: "2000" }), signer, { maxFilterBytes: 1000, maxDeltaBytes: 100 }),
      "VALIDATION_FAILED",
      "announcement.filter_bytes",
    );
    expectError(() => verifyAnnouncement(raw({ issuedAt: undefined }), signer), "VALIDATION_FAILED", "announcement.issued_at");
  });

  it("refuse to sign an announcement with a bad field", () => {
    expectError(() => signAnnouncement(key, announcement({ epoch: 0 })), "VALIDATION_FAILED", "announcement.epoch");
    expectError(() => signAnnouncement(key, announcement({ institutionId: "" })), "VALIDATION_FAILED", "announcement.institution_id");
  });

  it("verify nothing but SIGNATURE_INVALID or VALIDATION_FAILED from random envelopes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 80 }), (body, signature) => {
        for (const verify of [verifyAnnouncement, verifyDelta]) {
          try {
            verify({ body: Buffer.from(body), signature: Buffer.from(signature) }, signer);
            throw new Error("a random envelope verified");
          } catch (err) {
            expect(isCreditMeshError(err, "SIGNATURE_INVALID") || isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("fetched full filters", () => {
  it("are accepted when the bytes are the announced ones", () => {
    const full = acceptFullFilter(announcement(), filterBytes);
    expect(full.epoch).toBe(announcement().epoch);
    for (const t of tokens) expect(full.filter.has(t)).toBe(true);
  });

  it("are refused when the length, the hash or the capacity differ from the announcement", () => {
    expectError(() => acceptFullFilter(announcement(), filterBytes.subarray(1)), "VALIDATION_FAILED", "filter");
    const changed = Uint8Array.from(filterBytes);
    changed[changed.length - 1] ^= 1;
    expectError(() => acceptFullFilter(announcement(), changed), "VALIDATION_FAILED", "filter");
    expectError(() => acceptFullFilter(announcement({ count: filter.capacity + 8 }), filterBytes), "VALIDATION_FAILED", "filter.capacity");
  });
});

describe("filter deltas", () => {
  const delta = BinaryFuse16.build(tokens.slice(0, 5), { random: seededRandom("delta") });
  const toSign = { institutionId: "bank-a", epoch: 7, firstSequence: 1, sequence: 2, filter: delta, issuedAt: new Date("2026-12-03T00:00:30Z") };

  it("verify with their filter after a wire round trip", () => {
    const wire = FilterGossip.decode(FilterGossip.encode({ kind: { $case: "delta", value: signDelta(key, toSign) } }).finish());
    if (wire.kind?.$case !== "delta") throw new Error("expected a delta");
    const verified = verifyDelta(wire.kind.value, signer);
    expect(verified).toMatchObject({ institutionId: "bank-a", epoch: 7, firstSequence: 1, sequence: 2, issuedAt: toSign.issuedAt });
    for (const t of tokens.slice(0, 5)) expect(verified.filter.has(t)).toBe(true);
  });

  it("refuse an announcement's signature presented as a delta's", () => {
    const signed = signAnnouncement(key, announcement());
    expectError(() => verifyDelta(signed, signer), "SIGNATURE_INVALID", "delta.signature");
  });

  it("refuse a delta whose filter is too large or malformed, naming the filter field", () => {
    const signed = signDelta(key, toSign);
    expectError(() => verifyDelta(signed, signer, { maxFilterBytes: 1 << 20, maxDeltaBytes: 100 }), "VALIDATION_FAILED", "delta.filter");
    const body = FilterDelta.encode({ ...FilterDelta.decode(signed.body), filter: Buffer.from("CMBX-not-a-filter-at-all-xxxxxx") }).finish();
    const resigned = { body: Buffer.from(body), signature: Buffer.from(key.sign(Buffer.concat([Buffer.from("creditmesh/v1 FilterDelta\n"), body]))) };
    expectError(() => verifyDelta(resigned, signer), "VALIDATION_FAILED", "delta.filter.magic");
  });

  it("refuse to sign a delta without a sequence or with a first sequence after it", () => {
    expectError(() => signDelta(key, { ...toSign, sequence: 0 }), "VALIDATION_FAILED", "delta.sequence");
    expectError(() => signDelta(key, { ...toSign, firstSequence: 3 }), "VALIDATION_FAILED", "delta.first_sequence");
  });

  it("carry the signer's revocation head when given one, 0 included, and say nothing of it when not", () => {
    const roundTrip = (head?: number) => {
      const wire = FilterGossip.decode(FilterGossip.encode({ kind: { $case: "delta", value: signDelta(key, { ...toSign, revocationHead: head }) } }).finish());
      if (wire.kind?.$case !== "delta") throw new Error("expected a delta");
      return verifyDelta(wire.kind.value, signer).revocationHead;
    };
    expect(roundTrip(42)).toBe(42);
    expect(roundTrip(0)).toBe(0);
    expect(roundTrip(undefined)).toBeUndefined();
    expect(FilterDelta.decode(signDelta(key, toSign).body).revocationHead).toBeUndefined();
  });

  it("refuse to sign a negative or fractional revocation head, and refuse one out of range when signed", () => {
    expectError(() => signDelta(key, { ...toSign, revocationHead: -1 }), "VALIDATION_FAILED", "delta.revocation_head");
    expectError(() => signDelta(key, { ...toSign, revocationHead: 1.5 }), "VALIDATION_FAILED", "delta.revocation_head");
    const body = FilterDelta.encode({ ...FilterDelta.decode(signDelta(key, toSign).body), revocationHead: "18446744073709551615" }).finish();
    const resigned = { body: Buffer.from(body), signature: Buffer.from(key.sign(Buffer.concat([Buffer.from("creditmesh/v1 FilterDelta\n"), body]))) };
    expectError(() => verifyDelta(resigned, signer), "VALIDATION_FAILED", "delta.revocation_head");
  });

  it("refuse a signed delta whose first sequence lies outside 1..sequence", () => {
    const body = FilterDelta.encode({ ...FilterDelta.decode(signDelta(key, toSign).body), firstSequence: "0" }).finish();
    const resigned = { body: Buffer.from(body), signature: Buffer.from(key.sign(Buffer.concat([Buffer.from("creditmesh/v1 FilterDelta\n"), body]))) };
    expectError(() => verifyDelta(resigned, signer), "VALIDATION_FAILED", "delta.first_sequence");
  });
});
