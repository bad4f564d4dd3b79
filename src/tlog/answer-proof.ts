import { HolderStatus } from "../gen/creditmesh/v1/common.js";
import type { AnswerLogProof, HolderAnswer, LogInclusion, RecordLeafProof } from "../gen/creditmesh/v1/report.js";
import { openCheckpoint, type Checkpoint } from "./checkpoint.js";
import { inquiryLeaf, recordVersionLeaf, SALT_BYTES } from "./leaves.js";
import { HASH_SIZE, VerifiedPaths, leafHash, verifyInclusion } from "./merkle.js";
import { keyId, SIG_ED25519, type NoteVerifier } from "./note.js";

/** The kind of record whose leaf backs a tradeline: the account it is derived from. */
export const TRADELINE_RECORD_KIND = "account";

/** What opens an account's latest record-version leaf. */
export interface RecordLeafOpening {
  index: number;
  version: number;
  salt: Uint8Array;
  /** SHA-256 of the canonical record the leaf commits to. */
  canonicalHash: Uint8Array;
}

/** The holder's log as an answer's proof reads it. */
export interface AnswerProofSource {
  /** The committed size now. */
  size(): number;
  /** A checkpoint signed for exactly `size` (signed note text). */
  checkpointAt(size: number): Promise<string>;
  inclusionProof(index: number, size: number): Promise<Uint8Array[]>;
  /** Each account's latest record-version leaf, or why there is none, in the order asked. */
  recordLeaves(accountRefs: readonly string[]): Promise<(RecordLeafOpening | { missing: string })[]>;
}

/**
 * The proof a holder's answer carries: a checkpoint covering the query's
 * inquiry leaf (already durable at `inquiryIndex`) and every record leaf it
 * names, the inclusion of the inquiry leaf, and per returned tradeline the
 * opening and inclusion of its account's record-version leaf.
 */
export async function buildAnswerProof(
  source: AnswerProofSource,
  input: { inquiryIndex: number; signedQueryHash: Uint8Array; accountRefs: readonly string[] },
): Promise<AnswerLogProof> {
  // Openings first: every index they name is committed, so the size read after covers them.
  const openings = await source.recordLeaves(input.accountRefs);
  const size = source.size();
  const [checkpoint, inquiryHashes, ...recordHashes] = await Promise.all([
    source.checkpointAt(size),
    source.inclusionProof(input.inquiryIndex, size),
    ...openings.map((o) => ("missing" in o ? Promise.resolve([]) : source.inclusionProof(o.index, size))),
  ]);
  const records: RecordLeafProof[] = openings.map((o, i) => {
    const accountRef = input.accountRefs[i]!;
    if ("missing" in o) {
      return { accountRef, logged: false, reason: o.missing, version: "0", salt: Buffer.alloc(0), canonicalHash: Buffer.alloc(0), inclusion: undefined };
    }
    return {
      accountRef,
      logged: true,
      reason: "",
      version: String(o.version),
      salt: asBuffer(o.salt),
      canonicalHash: asBuffer(o.canonicalHash),
      inclusion: inclusion(o.index, recordHashes[i]!),
    };
  });
  return {
    checkpoint,
    signedQueryHash: asBuffer(input.signedQueryHash),
    inquiry: inclusion(input.inquiryIndex, inquiryHashes),
    records,
  };
}

function inclusion(index: number, hashes: readonly Uint8Array[]): LogInclusion {
  return { leafIndex: String(index), hashes: hashes.map(asBuffer) };
}

/** The message only reads these bytes (it is encoded and sent): a Buffer is used as it is, not copied. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
}

/** The verifier of a member's log checkpoints: key name = its institution id, its node key. */
export function logNoteVerifier(institutionId: string, publicKey: Uint8Array): NoteVerifier {
  return { name: institutionId, type: SIG_ED25519, publicKey, keyId: keyId(institutionId, SIG_ED25519, publicKey) };
}

export interface AnswerProofCheck {
  /** Why the proof fails, if it does (the requester marks the holder ERROR "proof: …"). */
  problem?: string;
  /** The answer carries a proof and it verifies. */
  proved: boolean;
  /** The checkpoint the answer names, once its signature verified. */
  checkpoint?: Checkpoint;
  /** Tradelines whose record leaf verified, and those the holder says it has no leaf for. */
  recordsProved: number;
  recordsUnlogged: number;
}

/** A checkpoint whose signature verified, and the proof walks verified against it. */
export interface VerifiedCheckpoint {
  checkpoint: Checkpoint;
  paths: VerifiedPaths;
}

/**
 * Checkpoints whose signature verified, by note text: the answers of one
 * group commit name the same checkpoint, so a requester verifies its
 * signature once, and their proofs share its verified paths. A hit still
 * requires the same holder key and origin; the verifier key is only built
 * on a miss.
 */
export class VerifiedCheckpoints {
  readonly #seen = new Map<string, VerifiedCheckpoint & { publicKey: Uint8Array; origin: string }>();
  /** Each holder's note verifier (its key id is a hash to compute), by origin. */
  readonly #verifiers = new Map<string, NoteVerifier>();
  constructor(private readonly max = 256) {}

  open(note: string, publicKey: Uint8Array, origin: string): VerifiedCheckpoint {
    const known = this.#seen.get(note);
    if (known && known.origin === origin && Buffer.compare(known.publicKey, publicKey) === 0) return known;
    let verifier = this.#verifiers.get(origin);
    if (!verifier || Buffer.compare(verifier.publicKey, publicKey) !== 0) {
      verifier = logNoteVerifier(origin, Uint8Array.from(publicKey));
      if (this.#verifiers.size >= this.max) this.#verifiers.delete(this.#verifiers.keys().next().value!);
      this.#verifiers.set(origin, verifier);
    }
    const opened = openVerified(note, verifier, origin);
    if (this.#seen.size >= this.max) this.#seen.delete(this.#seen.keys().next().value!);
    this.#seen.set(note, { ...opened, publicKey: Uint8Array.from(publicKey), origin });
    return opened;
  }
}

/** Verifies a holder's checkpoint note (key name = origin = its institution id); throws why not. */
function openVerified(note: string, verifier: NoteVerifier, origin: string): VerifiedCheckpoint {
  const { checkpoint } = openCheckpoint(note, verifier, origin);
  return { checkpoint, paths: new VerifiedPaths(checkpoint.size, checkpoint.root) };
}

export interface AnswerProofOptions {
  /** The holder's node key (from the manifest). */
  publicKey: Uint8Array;
  /** SHA-256 of the signed query as sent; undefined offline, where the answer's own hash is what can be checked. */
  signedQueryHash?: Uint8Array;
  /** An OK or NO_DATA answer without a proof is a failure. */
  required: boolean;
  /** Checkpoints verified before (a requester's cache); none = verify every time. */
  checkpoints?: VerifiedCheckpoints;
}

/**
 * Checks an answer's log proof, offline: the checkpoint's signature by the
 * holder's key over its own log, the inquiry leaf recomputed from the query
 * hash and its inclusion, and for every tradeline the record-version leaf
 * recomputed from the subject token, the tradeline's account ref and the
 * opening, and its inclusion. A refusal carries no proof and needs none.
 */
export function checkAnswerProof(answer: HolderAnswer, opts: AnswerProofOptions): AnswerProofCheck {
  const fail = (problem: string): AnswerProofCheck => ({ problem, proved: false, recordsProved: 0, recordsUnlogged: 0 });
  const proof = answer.logProof;
  const answered = answer.status === HolderStatus.OK || answer.status === HolderStatus.NO_DATA;
  if (!proof) return opts.required && answered ? fail("the answer carries no log proof") : { proved: false, recordsProved: 0, recordsUnlogged: 0 };
  if (!answered) return fail(`a ${HolderStatus[answer.status] ?? answer.status} answer carries a log proof`);

  let verified: VerifiedCheckpoint;
  try {
    verified = opts.checkpoints
      ? opts.checkpoints.open(proof.checkpoint, opts.publicKey, answer.holderInstitutionId)
      : openVerified(proof.checkpoint, logNoteVerifier(answer.holderInstitutionId, opts.publicKey), answer.holderInstitutionId);
  } catch (err) {
    return fail(`checkpoint: ${(err as Error).message}`);
  }
  if (proof.signedQueryHash.length !== HASH_SIZE) return fail("signed_query_hash: must be 32 bytes");
  if (opts.signedQueryHash && Buffer.compare(proof.signedQueryHash, opts.signedQueryHash) !== 0) {
    return fail("signed_query_hash: is not the hash of the query sent");
  }
  const { checkpoint, paths } = verified;
  const inquiry = checkInclusion("inquiry", proof.inquiry, leafHash(inquiryLeaf(proof.signedQueryHash)), checkpoint, paths);
  if (inquiry) return fail(inquiry);

  if (proof.records.length !== answer.tradelines.length) {
    return fail(`records: ${proof.records.length} record proofs for ${answer.tradelines.length} tradelines`);
  }
  let recordsProved = 0;
  let recordsUnlogged = 0;
  for (const [i, record] of proof.records.entries()) {
    const field = `records[${i}]`;
    const accountRef = answer.tradelines[i]!.accountRef;
    if (record.accountRef !== accountRef) return fail(`${field}.account_ref: is ${JSON.stringify(record.accountRef)}, the tradeline's is ${JSON.stringify(accountRef)}`);
    if (!record.logged) {
      if (record.reason.length === 0) return fail(`${field}.reason: an unlogged record must say why`);
      recordsUnlogged++;
      continue;
    }
    const version = Number(record.version);
    if (!Number.isSafeInteger(version) || version < 1) return fail(`${field}.version: must be a positive integer`);
    if (record.salt.length !== SALT_BYTES) return fail(`${field}.salt: must be ${SALT_BYTES} bytes`);
    if (record.canonicalHash.length !== HASH_SIZE) return fail(`${field}.canonical_hash: must be 32 bytes`);
    const leaf = recordVersionLeaf({
      recordKind: TRADELINE_RECORD_KIND,
      subjectToken: answer.subjectToken,
      accountRef,
      version,
      salt: record.salt,
      canonicalHash: record.canonicalHash,
    });
    const problem = checkInclusion(field, record.inclusion, leafHash(leaf), checkpoint, paths);
    if (problem) return fail(problem);
    recordsProved++;
  }
  return { proved: true, checkpoint, recordsProved, recordsUnlogged };
}

function checkInclusion(field: string, inc: LogInclusion | undefined, leaf: Uint8Array, checkpoint: Checkpoint, paths: VerifiedPaths): string | undefined {
  if (!inc) return `${field}: no inclusion proof`;
  const index = Number(inc.leafIndex);
  if (!Number.isSafeInteger(index)) return `${field}.leaf_index: is not an integer`;
  const failure = verifyInclusion(index, checkpoint.size, leaf, inc.hashes, checkpoint.root, paths);
  return failure === null ? undefined : `${field}: leaf ${index} is not in the checkpoint of size ${checkpoint.size} (${failure})`;
}
