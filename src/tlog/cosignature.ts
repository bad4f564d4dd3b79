import { CreditMeshError } from "../errors.js";
import { ed25519Verify } from "../identity/ed25519.js";
import {
  type Note,
  type NoteSigner,
  type NoteVerifier,
  SIG_COSIGNATURE_V1,
  checkKeyName,
  formatNote,
  keyId,
  parseNote,
  signatureLine,
} from "./note.js";

/**
 * C2SP tlog-cosignature, Ed25519 cosignature/v1 (key type 0x04): the witness
 * signs "cosignature/v1\ntime <t>\n" followed by the whole checkpoint body,
 * and the signature line carries key id ‖ u64 BE timestamp ‖ signature.
 */
export function cosignedMessage(checkpointText: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, "utf8");
}

function checkTimestamp(timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new CreditMeshError("VALIDATION_FAILED", "timestamp: must be non-negative whole seconds", { field: "timestamp" });
  }
}

/** One cosignature line for the checkpoint body `checkpointText`, at `timestamp` (POSIX seconds). */
export function cosign(checkpointText: string, witness: NoteSigner, timestamp: number): string {
  checkKeyName(witness.name);
  checkTimestamp(timestamp);
  const sig = witness.sign(cosignedMessage(checkpointText, timestamp));
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(timestamp));
  return signatureLine(witness.name, keyId(witness.name, SIG_COSIGNATURE_V1, witness.publicKey), Buffer.concat([ts, sig]));
}

/**
 * The timestamp of the witness's valid cosignature on `note`, or undefined
 * when it has none; a cosignature by that key that does not verify throws.
 */
export function verifyCosignature(note: string | Note, witness: NoteVerifier): number | undefined {
  if (witness.type !== SIG_COSIGNATURE_V1) {
    throw new CreditMeshError("VALIDATION_FAILED", "vkey: must be a cosignature key (type 4)", { field: "vkey" });
  }
  const parsed = typeof note === "string" ? parseNote(note) : note;
  const mine = parsed.signatures.filter((s) => s.name === witness.name && Buffer.compare(s.keyId, witness.keyId) === 0);
  let newest: number | undefined;
  for (const s of mine) {
    if (s.sig.length !== 72) throw new CreditMeshError("SIGNATURE_INVALID", `cosignature of ${witness.name} has the wrong length`);
    const timestamp = Buffer.from(s.sig.subarray(0, 8)).readBigUInt64BE();
    if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw new CreditMeshError("SIGNATURE_INVALID", `cosignature of ${witness.name} has an impossible time`);
    const t = Number(timestamp);
    if (!ed25519Verify(cosignedMessage(parsed.text, t), s.sig.subarray(8), witness.publicKey)) {
      throw new CreditMeshError("SIGNATURE_INVALID", `cosignature of ${witness.name} does not verify`);
    }
    newest = newest === undefined ? t : Math.max(newest, t);
  }
  return newest;
}

/** Adds cosignature lines to a signed checkpoint, replacing older ones by the same key. */
export function addCosignatures(note: string, lines: readonly string[]): string {
  const parsed = parseNote(note);
  const added = lines.map((l) => parseNote(`${parsed.text}\n${l.endsWith("\n") ? l : `${l}\n`}`).signatures[0]!);
  const same = (a: { name: string; keyId: Uint8Array }, b: { name: string; keyId: Uint8Array }): boolean =>
    a.name === b.name && Buffer.compare(a.keyId, b.keyId) === 0;
  const kept = parsed.signatures.filter((s) => !added.some((a) => same(a, s)));
  return formatNote({ text: parsed.text, signatures: [...kept, ...added] });
}

/** How many of `witnesses` validly cosigned the note: a checkpoint counts once this reaches the quorum. */
export function countCosignatures(note: string, witnesses: readonly NoteVerifier[]): number {
  const parsed = parseNote(note);
  let n = 0;
  for (const w of witnesses) {
    try {
      if (verifyCosignature(parsed, w) !== undefined) n++;
    } catch {
      // A bad cosignature does not count; it is not the log's fault.
    }
  }
  return n;
}
