import { createHash, randomBytes } from "node:crypto";
import { CreditMeshError } from "../errors.js";

/**
 * The entries a holder logs. Each is a domain tag and its fields, every one
 * length-prefixed (uint16 BE), so no two different leaves share an encoding
 * and no field can pass for another kind's.
 *
 * The log is readable by every member, so no entry names a subject: a record
 * version carries salted commitments of the subject token, the account ref and
 * the canonical record, with a random salt per version kept at the holder.
 * A member holding a token cannot find that subject's leaves or confirm a
 * guessed record; the holder hands the salt to whoever it answers, who then
 * recomputes the leaf and checks its inclusion. Destroying the salt on
 * erasure leaves a leaf that links to nothing.
 */
export const LeafKind = {
  RecordVersion: "creditmesh/tlog/record/v1",
  Inquiry: "creditmesh/tlog/inquiry/v1",
  Answer: "creditmesh/tlog/answer/v1",
  Tombstone: "creditmesh/tlog/tombstone/v1",
  AuditHead: "creditmesh/tlog/audit-head/v1",
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

export interface RecordVersionLeaf {
  /** What kind of record (e.g. "account", "repayment"): not personal. */
  recordKind: string;
  subjectToken: string;
  accountRef: string;
  /** 1 for the first version of a record, then +1 for each accepted change. */
  version: number;
  /** The record's canonical encoding (whatever the holder signs in answers). */
  canonicalRecord: Uint8Array;
  salt: Uint8Array;
}

/** A furnished record's version: kind, version and salted commitments, nothing readable. */
export function recordVersionLeaf(leaf: RecordVersionLeaf): Uint8Array {
  const { canonicalRecord, ...rest } = leaf;
  return openedRecordLeaf({ ...rest, recordCommitment: commit("record", leaf.salt, canonicalRecord) });
}

/** A record version as an answer opens it: the record itself stays at the holder, its commitment travels. */
export interface OpenedRecordLeaf extends Omit<RecordVersionLeaf, "canonicalRecord"> {
  /** commit("record", salt, canonical record), as logged. */
  recordCommitment: Uint8Array;
}

/** The same leaf as recordVersionLeaf(), recomputed by whoever was handed the salt and the record's commitment. */
export function openedRecordLeaf(leaf: OpenedRecordLeaf): Uint8Array {
  return encode(LeafKind.RecordVersion, [
    text("record_kind", leaf.recordKind),
    u64("version", leaf.version),
    commit("subject", leaf.salt, text("subject_token", leaf.subjectToken)),
    commit("account", leaf.salt, text("account_ref", leaf.accountRef)),
    digest("record_commitment", leaf.recordCommitment),
  ]);
}

/** The version and record commitment of a logged record-version entry (the holder's view, to open it for an answer). */
export function recordLeafFields(entry: Uint8Array): { recordKind: string; version: number; recordCommitment: Uint8Array } {
  const { kind, fields } = decodeLeaf(entry);
  if (kind !== LeafKind.RecordVersion) throw invalid("entry.kind", `is ${kind}, not a record version`);
  const [recordKind, version, , , recordCommitment] = fields as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  if (version.length !== 8) throw invalid("entry.version", "must be 8 bytes");
  const n = Buffer.from(version).readBigUInt64BE(0);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid("entry.version", "is too large");
  return { recordKind: Buffer.from(recordKind).toString("utf8"), version: Number(n), recordCommitment: digest("entry.record_commitment", recordCommitment) };
}

/** An answered query: the hash of the signed query as received (it holds a nonce, so it cannot be guessed). */
export function inquiryLeaf(signedQueryHash: Uint8Array): Uint8Array {
  return encode(LeafKind.Inquiry, [digest("signed_query_hash", signedQueryHash)]);
}

/** An answer sent: the hash of the signed answer. */
export function answerLeaf(signedAnswerHash: Uint8Array): Uint8Array {
  return encode(LeafKind.Answer, [digest("signed_answer_hash", signedAnswerHash)]);
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

export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

/** A decoded entry: its kind and raw fields. */
export interface DecodedLeaf {
  kind: LeafKind;
  fields: Uint8Array[];
}

const FIELD_COUNTS: Record<LeafKind, number> = {
  [LeafKind.RecordVersion]: 5,
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
