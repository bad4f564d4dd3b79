import { CreditMeshError } from "../errors.js";
import { type Checkpoint, openCheckpoint } from "./checkpoint.js";
import { cosign } from "./cosignature.js";
import { verifyConsistency } from "./merkle.js";
import { type NoteSigner, type NoteVerifier, signNote } from "./note.js";

/** What a witness keeps per log: the last checkpoint it cosigned. */
export interface WitnessedCheckpoint {
  /** The log's signed note as received (the log's signature is evidence). */
  note: string;
  size: number;
  root: Uint8Array;
}

export type EvidenceKind = "EQUIVOCATION" | "ROLLBACK" | "INCONSISTENT";

/**
 * Proof that a log misbehaved: two notes both signed by the log, which no
 * honest append-only log could have produced together (plus the proof that
 * failed, for INCONSISTENT). Anyone holding the log's vkey can check it.
 */
export interface Evidence {
  kind: EvidenceKind;
  origin: string;
  previous: string;
  next: string;
  /** Consistency proof offered from previous to next, base64 (empty for EQUIVOCATION/ROLLBACK). */
  proof: string[];
  reason: string;
}

export type WitnessOutcome =
  | { outcome: "COSIGNED"; cosignature: string; state: WitnessedCheckpoint; checkpoint: Checkpoint }
  | { outcome: "EVIDENCE"; evidence: Evidence };

export interface WitnessInput {
  /** The log's note key (type 0x01) and origin. */
  log: NoteVerifier;
  origin: string;
  /** Last cosigned checkpoint of this log; undefined the first time (trust on first use). */
  last: WitnessedCheckpoint | undefined;
  /** The log's new signed checkpoint. */
  next: string;
  /** RFC 6962 consistency proof from last.size to the new size. */
  proof: readonly Uint8Array[];
  witness: NoteSigner;
  /** POSIX seconds. */
  now: number;
}

/**
 * One witnessing step (c2sp.org/tlog-witness, without the transport): a new
 * checkpoint that extends the last one consistently is cosigned; one that
 * contradicts it becomes evidence. A note the log did not sign throws
 * SIGNATURE_INVALID: it proves nothing against the log.
 */
export function witnessCheckpoint(input: WitnessInput): WitnessOutcome {
  const { checkpoint } = openCheckpoint(input.next, input.log, input.origin);
  const last = input.last;
  const state: WitnessedCheckpoint = { note: input.next, size: checkpoint.size, root: checkpoint.root };
  const cosigned = (): WitnessOutcome => ({
    outcome: "COSIGNED",
    cosignature: cosign(textOf(input.next), input.witness, input.now),
    state,
    checkpoint,
  });
  if (last === undefined) return cosigned();
  const evidence = (kind: EvidenceKind, reason: string, proof: readonly Uint8Array[] = []): WitnessOutcome => ({
    outcome: "EVIDENCE",
    evidence: {
      kind,
      origin: input.origin,
      previous: last.note,
      next: input.next,
      proof: proof.map((h) => Buffer.from(h).toString("base64")),
      reason,
    },
  });
  if (checkpoint.size < last.size) {
    return evidence("ROLLBACK", `size went from ${last.size} back to ${checkpoint.size}`);
  }
  if (checkpoint.size === last.size) {
    if (Buffer.compare(checkpoint.root, last.root) !== 0) {
      return evidence("EQUIVOCATION", `two roots for size ${checkpoint.size}`);
    }
    return cosigned();
  }
  const failure = verifyConsistency(last.size, checkpoint.size, input.proof, last.root, checkpoint.root);
  if (failure !== null) {
    // A proof from 0 proves nothing, but only a log that never had a checkpoint has size 0.
    if (last.size === 0) return cosigned();
    return evidence("INCONSISTENT", `consistency ${last.size} → ${checkpoint.size}: ${failure}`, input.proof);
  }
  return cosigned();
}

function textOf(note: string): string {
  return note.slice(0, note.lastIndexOf("\n\n") + 1);
}

/**
 * The evidence as a note signed by the witness that found it, for gossip:
 * the notes inside are base64 so that their own signature lines stay intact.
 */
export function signEvidence(evidence: Evidence, witness: NoteSigner, observedAt: number): string {
  if (!Number.isSafeInteger(observedAt) || observedAt < 0) {
    throw new CreditMeshError("VALIDATION_FAILED", "observed_at: must be non-negative whole seconds", { field: "observed_at" });
  }
  const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
  const text = [
    "creditmesh log evidence/v1",
    evidence.kind,
    evidence.origin,
    `time ${observedAt}`,
    b64(evidence.previous),
    b64(evidence.next),
    `proof ${evidence.proof.join(" ")}`.trimEnd(),
    `reason ${evidence.reason.replace(/\n/g, " ")}`,
  ].join("\n");
  return signNote(`${text}\n`, witness);
}

/**
 * Re-checks evidence against the log's key, so a receiver need not trust the
 * witness that gossiped it: true when both notes are the log's and they
 * really contradict each other. A ROLLBACK never passes: two honest
 * checkpoints of different sizes look the same whichever was signed first,
 * so only the witness that saw the log submit them in that order knows.
 */
export function checkEvidence(evidence: Evidence, log: NoteVerifier): boolean {
  let a: Checkpoint;
  let b: Checkpoint;
  try {
    a = openCheckpoint(evidence.previous, log, evidence.origin).checkpoint;
    b = openCheckpoint(evidence.next, log, evidence.origin).checkpoint;
  } catch {
    return false;
  }
  switch (evidence.kind) {
    case "EQUIVOCATION":
      return a.size === b.size && Buffer.compare(a.root, b.root) !== 0;
    case "ROLLBACK":
      return false;
    case "INCONSISTENT": {
      const proof = evidence.proof.map((p) => Buffer.from(p, "base64"));
      return b.size > a.size && a.size > 0 && verifyConsistency(a.size, b.size, proof, a.root, b.root) !== null;
    }
  }
}
