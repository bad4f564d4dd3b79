import { CreditMeshError } from "../errors.js";
import { HASH_SIZE } from "./merkle.js";
import { type Note, type NoteSigner, type NoteVerifier, openNote, signNote, strictBase64 } from "./note.js";

/** C2SP tlog-checkpoint: origin, tree size, root hash, optional extension lines. */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
  extensions: string[];
}

const bad = (field: string, reason: string): CreditMeshError =>
  new CreditMeshError("VALIDATION_FAILED", `checkpoint.${field}: ${reason}`, { field: `checkpoint.${field}` });

export function formatCheckpoint(cp: Omit<Checkpoint, "extensions"> & { extensions?: string[] }): string {
  if (typeof cp.origin !== "string" || cp.origin.length === 0 || /[\n\r]/.test(cp.origin)) {
    throw bad("origin", "must be one non-empty line");
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw bad("size", "must be a non-negative integer");
  if (!(cp.root instanceof Uint8Array) || cp.root.length !== HASH_SIZE) throw bad("root", "must be 32 bytes");
  const ext = cp.extensions ?? [];
  for (const line of ext) if (line.length === 0 || line.includes("\n")) throw bad("extensions", "must be non-empty lines");
  return [cp.origin, String(cp.size), Buffer.from(cp.root).toString("base64"), ...ext].join("\n") + "\n";
}

/** Parses a checkpoint body (the note text, without signatures). */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== "string" || !text.endsWith("\n")) throw bad("text", "must end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw bad("text", "must have origin, size and root lines");
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw bad("origin", "must not be empty");
  // Decimal without leading zeroes, as the spec requires: one size has one spelling.
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine))) {
    throw bad("size", "must be a decimal integer without leading zeroes");
  }
  const root = strictBase64(rootLine);
  if (root === undefined || root.length !== HASH_SIZE) throw bad("root", "must be base64 of 32 bytes");
  if (extensions.some((l) => l.length === 0)) throw bad("extensions", "must not be empty lines");
  return { origin, size: Number(sizeLine), root, extensions };
}

export function signCheckpoint(cp: Omit<Checkpoint, "extensions"> & { extensions?: string[] }, signer: NoteSigner): string {
  return signNote(formatCheckpoint(cp), signer);
}

/**
 * Verifies the log's signature and parses the checkpoint. `origin`, when
 * given, must match: a checkpoint of another log signed by the same key is
 * not this log's.
 */
export function openCheckpoint(note: string, verifier: NoteVerifier, origin?: string): { checkpoint: Checkpoint; note: Note } {
  const opened = openNote(note, verifier);
  const checkpoint = parseCheckpoint(opened.text);
  if (origin !== undefined && checkpoint.origin !== origin) {
    throw bad("origin", `is ${JSON.stringify(checkpoint.origin)}, expected ${JSON.stringify(origin)}`);
  }
  return { checkpoint, note: opened };
}
