import { createHash, randomBytes } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import { scratchBuffer, sha256, sha256Into } from "./sha256.js";

/**
 * The entries a holder logs. Each is a domain tag and its fields, every one
 * length-prefixed (uint16 BE), so no two different leaves share an encoding
 * and no field can pass for another kind's.
 *
 * The log is readable by every member, so no entry names a subject: a record
 * version carries one salted commitment of the subject token, the account ref
 * and the canonical record's hash, under a salt per version that only the
 * holder can derive (leaf-salt.ts). A member holding a token cannot find that
 * subject's leaves or confirm a guessed record; the holder hands the salt and
 * the record's hash to whoever it answers, who then recomputes the leaf and
 * checks its inclusion. Once the record is erased the commitment opens to
 * nothing the holder still has.
 */
export const LeafKind = {
  RecordVersion: "creditmesh/tlog/record/v2",
  /** Logs written before v2: three commitments (subject, account, record), a stored random salt. Decoded only. */
  RecordVersionV1: "creditmesh/tlog/record/v1",
  Inquiry: "creditmesh/tlog/inquiry/v1",
  Answer: "creditmesh/tlog/answer/v1",
  Tombstone: "creditmesh/tlog/tombstone/v1",
  AuditHead: "creditmesh/tlog/audit-head/v1",
  Filter: "creditmesh/tlog/filter/v1",
} as const;
export type LeafKind = (typeof LeafKind)[keyof typeof LeafKind];

export const SALT_BYTES = 32;

export function newSalt(): Uint8Array {
  return randomBytes(SALT_BYTES);
}

const invalid = (field: string, reason: string): CreditMeshError =>
  new CreditMeshError("VALIDATION_FAILED", `${field}: ${reason}`, { field });

function lp(field: string, bytes: Uint8Array): Buffer {
  if (bytes.length > 0xffff) throw invalid(field, "is longer than 65535 bytes");
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  out.set(bytes, 2);
  return out;
}

function u64(field: string, n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(field, "must be a non-negative integer");
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function digest(field: string, h: Uint8Array): Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== 32) throw invalid(field, "must be a 32-byte SHA-256 digest");
  return h;
}

function text(field: string, s: string): Buffer {
  if (typeof s !== "string" || s.length === 0) throw invalid(field, "must not be empty");
  return Buffer.from(s, "utf8");
}

function encode(kind: LeafKind, fields: Uint8Array[]): Uint8Array {
  return Buffer.concat([lp("kind", Buffer.from(kind, "ascii")), ...fields.map((f, i) => lp(`field ${i}`, f))]);
}

/** SHA-256(tag ‖ salt ‖ value): a commitment only the salt's holder can open. */
export function commit(purpose: "subject" | "account" | "record", salt: Uint8Array, value: Uint8Array): Uint8Array {
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_BYTES) throw invalid("salt", `must be ${SALT_BYTES} bytes`);
  return createHash("sha256").update(`creditmesh/tlog/${purpose}\n`).update(salt).update(value).digest();
}

interface RecordVersionFields {
  /** What kind of record (e.g. "account", "repayment"): not personal. */
  recordKind: string;
  subjectToken: string;
  accountRef: string;
  /** 1 for the first version of a record, then +1 for each accepted change. */
  version: number;
  salt: Uint8Array;
}

/** A record version, given the record's canonical encoding or its SHA-256 (what a verifier is handed). */
export type RecordVersionLeaf = RecordVersionFields & ({ canonicalRecord: Uint8Array } | { canonicalHash: Uint8Array });

const RECORD_COMMITMENT_TAG = Buffer.from("creditmesh/tlog/record-version\n", "ascii");
const RECORD_KIND_FIELD = lp("kind", Buffer.from(LeafKind.RecordVersion, "ascii"));

/** Writes n as 8 bytes big-endian at `at` (n is a safe integer: below 2^53). */
function writeU64(out: Buffer, n: number, at: number): void {
  out.writeUInt32BE(Math.floor(n / 0x1_0000_0000), at);
  out.writeUInt32BE(n % 0x1_0000_0000, at + 4);
}

function utf8Length(field: string, s: string): number {
  if (typeof s !== "string" || s.length === 0) throw invalid(field, "must not be empty");
  const n = Buffer.byteLength(s, "utf8");
  if (n > 0xffff) throw invalid(field, "is longer than 65535 bytes");
  return n;
}

/**
 * SHA-256(tag ‖ salt ‖ lp(token) ‖ lp(account ref) ‖ canonical hash): one
 * commitment to the three, openable only with the salt.
 */
export function recordCommitment(salt: Uint8Array, subjectToken: string, accountRef: string, canonicalHash: Uint8Array): Uint8Array {
  return commitRecordInto(Buffer.allocUnsafe(32), salt, subjectToken, accountRef, canonicalHash);
}

/**
 * recordCommitment() written into `out` (32 bytes). Ingest computes one per
 * record: the input is laid out in a reused buffer and hashed in one call.
 */
function commitRecordInto(out: Uint8Array, salt: Uint8Array, subjectToken: string, accountRef: string, canonicalHash: Uint8Array): Uint8Array {
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_BYTES) throw invalid("salt", `must be ${SALT_BYTES} bytes`);
  digest("canonical_hash", canonicalHash);
  const tokenLen = utf8Length("subject_token", subjectToken);
  const refLen = utf8Length("account_ref", accountRef);
  const length = RECORD_COMMITMENT_TAG.length + SALT_BYTES + 2 + tokenLen + 2 + refLen + 32;
  const input = scratchBuffer(length);
  let at = RECORD_COMMITMENT_TAG.copy(input, 0);
  input.set(salt, at);
  at += SALT_BYTES;
  at = input.writeUInt16BE(tokenLen, at);
  at += input.write(subjectToken, at, "utf8");
  at = input.writeUInt16BE(refLen, at);
  at += input.write(accountRef, at, "utf8");
  input.set(canonicalHash, at);
  return sha256Into(out, input.subarray(0, length));
}

/** A furnished record's version: kind, version and one salted commitment, nothing readable. */
export function recordVersionLeaf(leaf: RecordVersionLeaf): Uint8Array {
  if (!Number.isSafeInteger(leaf.version) || leaf.version < 0) throw invalid("version", "must be a non-negative integer");
  const kindLen = utf8Length("record_kind", leaf.recordKind);
  const canonicalHash = "canonicalHash" in leaf ? leaf.canonicalHash : sha256(leaf.canonicalRecord);
  // lp(kind tag) ‖ lp(record kind) ‖ lp(u64 version) ‖ lp(commitment), as encode() would lay it out.
  const out = Buffer.allocUnsafe(RECORD_KIND_FIELD.length + 2 + kindLen + 2 + 8 + 2 + 32);
  let at = RECORD_KIND_FIELD.copy(out, 0);
  at = out.writeUInt16BE(kindLen, at);
  at += out.write(leaf.recordKind, at, "utf8");
  at = out.writeUInt16BE(8, at);
  writeU64(out, leaf.version, at);
  at = out.writeUInt16BE(32, at + 8);
  commitRecordInto(out.subarray(at, at + 32), leaf.salt, leaf.subjectToken, leaf.accountRef, canonicalHash);
  return out;
}

/** lp(kind) ‖ lp of a 32-byte digest's length: what a one-digest leaf starts with. */
function digestLeafPrefix(kind: LeafKind): Buffer {
  return Buffer.concat([lp("kind", Buffer.from(kind, "ascii")), Buffer.from([0, 32])]);
}
const INQUIRY_PREFIX = digestLeafPrefix(LeafKind.Inquiry);
const ANSWER_PREFIX = digestLeafPrefix(LeafKind.Answer);

/** encode(kind, [digest]) from its precomputed prefix: every query and answer makes one on each side. */
function digestLeaf(prefix: Buffer, field: string, h: Uint8Array): Uint8Array {
  digest(field, h);
  const out = Buffer.allocUnsafe(prefix.length + 32);
  prefix.copy(out, 0);
  out.set(h, prefix.length);
  return out;
}

/** An answered query: the hash of the signed query as received (it holds a nonce, so it cannot be guessed). */
export function inquiryLeaf(signedQueryHash: Uint8Array): Uint8Array {
  return digestLeaf(INQUIRY_PREFIX, "signed_query_hash", signedQueryHash);
}

/** An answer sent: the hash of the signed answer. */
export function answerLeaf(signedAnswerHash: Uint8Array): Uint8Array {
  return digestLeaf(ANSWER_PREFIX, "signed_answer_hash", signedAnswerHash);
}

/** An erasure or deletion of the record version logged at `targetIndex`; `reason` is a code, never data. */
export function tombstoneLeaf(targetIndex: number, reason: string): Uint8Array {
  if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(reason)) throw invalid("reason", "must be an upper-case code");
  return encode(LeafKind.Tombstone, [u64("target_index", targetIndex), Buffer.from(reason, "ascii")]);
}

/** The audit trail's head at `position`, anchoring it so a rewritten or wiped trail no longer matches. */
export function auditHeadLeaf(position: number, headHash: Uint8Array): Uint8Array {
  return encode(LeafKind.AuditHead, [u64("position", position), digest("head_hash", headHash)]);
}

/** A published holder filter (sequence 0) or delta (its sequence): what the announcement signs, so the log commits to it. */
export interface FilterLeaf {
  institutionId: string;
  epoch: number;
  /** 0 for the full filter, else the delta's sequence within the epoch. */
  sequence: number;
  /** The padded count the filter was sized for. */
  count: number;
  filterSha256: Uint8Array;
}

export function filterLeaf(leaf: FilterLeaf): Uint8Array {
  return encode(LeafKind.Filter, [
    text("institution_id", leaf.institutionId),
    u64("epoch", leaf.epoch),
    u64("sequence", leaf.sequence),
    u64("count", leaf.count),
    digest("filter_sha256", leaf.filterSha256),
  ]);
}

export { sha256 };

/** A decoded entry: its kind and raw fields. */
export interface DecodedLeaf {
  kind: LeafKind;
  fields: Uint8Array[];
}

const FIELD_COUNTS: Record<LeafKind, number> = {
  [LeafKind.RecordVersion]: 3,
  [LeafKind.RecordVersionV1]: 5,
  [LeafKind.Filter]: 5,
  [LeafKind.Inquiry]: 1,
  [LeafKind.Answer]: 1,
  [LeafKind.Tombstone]: 2,
  [LeafKind.AuditHead]: 2,
};

/** Splits an entry read from the log (an auditor's view); throws VALIDATION_FAILED on anything malformed. */
export function decodeLeaf(entry: Uint8Array): DecodedLeaf {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < entry.length) {
    if (at + 2 > entry.length) throw invalid("entry", `truncated length at byte ${at}`);
    const len = (entry[at]! << 8) | entry[at + 1]!;
    if (at + 2 + len > entry.length) throw invalid("entry", `field at byte ${at} runs past the end`);
    parts.push(entry.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  const [tag, ...fields] = parts;
  const kind = tag === undefined ? undefined : Buffer.from(tag).toString("latin1");
  if (kind === undefined || !(kind in FIELD_COUNTS)) throw invalid("entry.kind", "is not a known leaf kind");
  if (fields.length !== FIELD_COUNTS[kind as LeafKind]) {
    throw invalid("entry", `${kind} has ${fields.length} fields, expected ${FIELD_COUNTS[kind as LeafKind]}`);
  }
  return { kind: kind as LeafKind, fields };
}
