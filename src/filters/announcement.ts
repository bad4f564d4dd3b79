import { createHash, timingSafeEqual } from "node:crypto";
import { CreditMeshError, invalid } from "../errors.js";
import { FilterAnnouncement, FilterDelta } from "../gen/creditmesh/v1/filters.js";
import type { Signed } from "../gen/creditmesh/v1/peer.js";
import { verifyByPeerId, type NodeKey } from "../identity/node-key.js";
import { BinaryFuse16, MAX_CAPACITY } from "./binary-fuse.js";
import { DEFAULT_FILTER_LIMITS, type Announcement, type Delta, type FilterLimits, type FullFilter } from "./types.js";

/**
 * Signing and verifying what a holder publishes about its filter. The
 * signature covers a context string and then the body: filter messages are
 * signed with the same node key as queries and answers, and without the
 * context a body of one kind could be presented, with its signature, as
 * another kind that happens to decode.
 */
const ANNOUNCEMENT_CONTEXT = Buffer.from("creditmesh/v1 FilterAnnouncement\n", "utf8");
const DELTA_CONTEXT = Buffer.from("creditmesh/v1 FilterDelta\n", "utf8");

/** The member a message claims to come from, as the manifest names it. */
export interface FilterSigner {
  institutionId: string;
  peerId: string;
}

export function filterSha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

function signWithContext(key: Pick<NodeKey, "sign">, context: Buffer, body: Uint8Array): Signed {
  const bytes = Buffer.from(body);
  return { body: bytes, signature: Buffer.from(key.sign(Buffer.concat([context, bytes]))) };
}

function checkSignature(signed: Signed, context: Buffer, signer: FilterSigner, what: string): void {
  if (!(signed.body instanceof Uint8Array) || !(signed.signature instanceof Uint8Array)) {
    throw invalid(what, "must carry a body and a signature");
  }
  if (!verifyByPeerId(signer.peerId, Buffer.concat([context, signed.body]), signed.signature)) {
    throw new CreditMeshError("SIGNATURE_INVALID", `${what}: not signed by ${signer.institutionId}`, {
      field: `${what}.signature`,
    });
  }
}

function u64(field: string, value: string): number {
  if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw invalid(field, "must be an integer below 2^53");
  }
  return Number(value);
}

function decode<T>(what: string, decoder: { decode(b: Uint8Array): T }, body: Uint8Array): T {
  try {
    return decoder.decode(body);
  } catch (cause) {
    throw new CreditMeshError("VALIDATION_FAILED", `${what}: not a valid message`, { field: what, cause });
  }
}

function checkIssuedAt(what: string, issuedAt: Date | undefined): Date {
  if (!(issuedAt instanceof Date) || Number.isNaN(issuedAt.getTime())) throw invalid(`${what}.issued_at`, "is required");
  return issuedAt;
}

function checkInstitution(what: string, claimed: string, signer: FilterSigner): void {
  if (claimed !== signer.institutionId) {
    throw invalid(`${what}.institution_id`, `names ${claimed || "no institution"}, but the signer is ${signer.institutionId}`);
  }
}

function toWireAnnouncement(a: Announcement): FilterAnnouncement {
  return {
    institutionId: a.institutionId,
    epoch: String(a.epoch),
    count: String(a.count),
    filterSha256: Buffer.from(a.filterSha256),
    filterBytes: String(a.filterBytes),
    deltaSequence: String(a.deltaSequence),
    issuedAt: a.issuedAt,
    ...(a.logLeafIndex === undefined ? {} : { logLeafIndex: String(a.logLeafIndex) }),
  };
}

function checkAnnouncement(a: FilterAnnouncement, what: string): Omit<Announcement, "institutionId"> {
  const epoch = u64(`${what}.epoch`, a.epoch);
  if (epoch < 1) throw invalid(`${what}.epoch`, "must be at least 1");
  const count = u64(`${what}.count`, a.count);
  if (count > MAX_CAPACITY) throw invalid(`${what}.count`, `exceeds ${MAX_CAPACITY}`);
  if (a.filterSha256.length !== 32) throw invalid(`${what}.filter_sha256`, "must be 32 bytes");
  const filterBytes = u64(`${what}.filter_bytes`, a.filterBytes);
  if (filterBytes < 1) throw invalid(`${what}.filter_bytes`, "must be at least 1");
  return {
    epoch,
    count,
    filterSha256: Uint8Array.from(a.filterSha256),
    filterBytes,
    deltaSequence: u64(`${what}.delta_sequence`, a.deltaSequence),
    issuedAt: checkIssuedAt(what, a.issuedAt),
    ...(a.logLeafIndex === undefined ? {} : { logLeafIndex: u64(`${what}.log_leaf_index`, a.logLeafIndex) }),
  };
}

export function signAnnouncement(key: Pick<NodeKey, "sign">, announcement: Announcement): Signed {
  const wire = toWireAnnouncement(announcement);
  checkAnnouncement(wire, "announcement");
  if (announcement.institutionId === "") throw invalid("announcement.institution_id", "must not be empty");
  return signWithContext(key, ANNOUNCEMENT_CONTEXT, FilterAnnouncement.encode(wire).finish());
}

/** The announcement inside `signed`, if `signer` signed it and every field is sound; else a precise error. */
export function verifyAnnouncement(
  signed: Signed,
  signer: FilterSigner,
  limits: FilterLimits = DEFAULT_FILTER_LIMITS,
): Announcement {
  checkSignature(signed, ANNOUNCEMENT_CONTEXT, signer, "announcement");
  const wire = decode("announcement", FilterAnnouncement, signed.body);
  checkInstitution("announcement", wire.institutionId, signer);
  const checked = checkAnnouncement(wire, "announcement");
  if (checked.filterBytes > limits.maxFilterBytes) {
    throw invalid("announcement.filter_bytes", `${checked.filterBytes} exceeds the limit of ${limits.maxFilterBytes}`);
  }
  return { institutionId: wire.institutionId, ...checked };
}

/** A fetched full filter, accepted only if its bytes are exactly the announced ones. */
export function acceptFullFilter(announcement: Announcement, bytes: Uint8Array): FullFilter {
  if (!(bytes instanceof Uint8Array) || bytes.length !== announcement.filterBytes) {
    throw invalid("filter", `expected the ${announcement.filterBytes} bytes announced for epoch ${announcement.epoch}`);
  }
  const digest = filterSha256(bytes);
  if (!timingSafeEqual(digest, announcement.filterSha256)) {
    throw invalid("filter", `does not match the hash announced for epoch ${announcement.epoch}`);
  }
  const filter = BinaryFuse16.fromBytes(bytes, { maxBytes: announcement.filterBytes });
  if (filter.capacity !== announcement.count) {
    throw invalid("filter.capacity", `is ${filter.capacity}, the announcement says ${announcement.count}`);
  }
  return { institutionId: announcement.institutionId, epoch: announcement.epoch, filter };
}

export interface DeltaToSign {
  institutionId: string;
  epoch: number;
  firstSequence: number;
  sequence: number;
  filter: BinaryFuse16;
  issuedAt: Date;
  /** The last position of the signer's revocation log (0: none issued). */
  revocationHead?: number;
}

export function signDelta(key: Pick<NodeKey, "sign">, delta: DeltaToSign): Signed {
  if (delta.institutionId === "") throw invalid("delta.institution_id", "must not be empty");
  if (!Number.isSafeInteger(delta.epoch) || delta.epoch < 1) throw invalid("delta.epoch", "must be at least 1");
  if (!Number.isSafeInteger(delta.sequence) || delta.sequence < 1) throw invalid("delta.sequence", "must be at least 1");
  if (!Number.isSafeInteger(delta.firstSequence) || delta.firstSequence < 1 || delta.firstSequence > delta.sequence) {
    throw invalid("delta.first_sequence", "must be from 1 to the sequence");
  }
  const head = delta.revocationHead;
  if (head !== undefined && (!Number.isSafeInteger(head) || head < 0)) throw invalid("delta.revocation_head", "must be an integer from 0 below 2^53");
  const wire: FilterDelta = {
    institutionId: delta.institutionId,
    epoch: String(delta.epoch),
    sequence: String(delta.sequence),
    firstSequence: String(delta.firstSequence),
    filter: Buffer.from(delta.filter.toBytes()),
    issuedAt: checkIssuedAt("delta", delta.issuedAt),
    ...(head === undefined ? {} : { revocationHead: String(head) }),
  };
  return signWithContext(key, DELTA_CONTEXT, FilterDelta.encode(wire).finish());
}

export function verifyDelta(signed: Signed, signer: FilterSigner, limits: FilterLimits = DEFAULT_FILTER_LIMITS): Delta {
  checkSignature(signed, DELTA_CONTEXT, signer, "delta");
  const wire = decode("delta", FilterDelta, signed.body);
  checkInstitution("delta", wire.institutionId, signer);
  const epoch = u64("delta.epoch", wire.epoch);
  if (epoch < 1) throw invalid("delta.epoch", "must be at least 1");
  const sequence = u64("delta.sequence", wire.sequence);
  if (sequence < 1) throw invalid("delta.sequence", "must be at least 1");
  const firstSequence = u64("delta.first_sequence", wire.firstSequence);
  if (firstSequence < 1 || firstSequence > sequence) throw invalid("delta.first_sequence", "must be from 1 to the sequence");
  const issuedAt = checkIssuedAt("delta", wire.issuedAt);
  let filter: BinaryFuse16;
  try {
    filter = BinaryFuse16.fromBytes(wire.filter, { maxBytes: limits.maxDeltaBytes });
  } catch (err) {
    // Keep the code and reason, but say where the filter sat.
    if (err instanceof CreditMeshError) {
      const field = `delta.${err.field ?? "filter"}`;
      throw new CreditMeshError(err.code, `delta.${err.message}`, { field, cause: err });
    }
    throw err;
  }
  const revocationHead = wire.revocationHead === undefined ? undefined : u64("delta.revocation_head", wire.revocationHead);
  return { institutionId: wire.institutionId, epoch, firstSequence, sequence, filter, issuedAt, ...(revocationHead === undefined ? {} : { revocationHead }) };
}
