import { z } from "zod";
import { invalid } from "../errors.js";
import { logNoteVerifier } from "../tlog/answer-proof.js";
import { openCheckpoint, type Checkpoint } from "../tlog/checkpoint.js";
import { verifyCosignature } from "../tlog/cosignature.js";
import { verifyConsistency } from "../tlog/merkle.js";
import type { NoteVerifier } from "../tlog/note.js";

/**
 * What an auditor brings to check a saved report against the witnessed logs,
 * offline: per holder, checkpoints its witnesses cosigned (the C2SP signed
 * note with cosignature/v1 lines, as GetLogCheckpoint.cosigned gives it), and
 * the RFC 6962 consistency proofs from each checkpoint an answer names to the
 * cosigned one (GetLogProof with old_size). `creditmesh log witnessed` writes
 * it; any tool that speaks C2SP can.
 */
export const COSIGNED_CHECKPOINTS_FORMAT = "creditmesh/cosigned-checkpoints/v1";

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const ConsistencyProofSchema = z.object({ old_size: size, tree_size: size, hashes: z.array(hex32) }).strict();

const LogEntrySchema = z
  .object({
    institution_id: z.string().min(1),
    cosigned: z.string().min(1),
    consistency: z.array(ConsistencyProofSchema).default([]),
  })
  .strict();

export const CosignedCheckpointsSchema = z
  .object({
    format: z.literal(COSIGNED_CHECKPOINTS_FORMAT),
    logs: z.array(LogEntrySchema),
  })
  .strict();

export type CosignedCheckpoints = z.infer<typeof CosignedCheckpointsSchema>;
export type CosignedLogEntry = z.infer<typeof LogEntrySchema>;
export type ConsistencyProofEntry = z.infer<typeof ConsistencyProofSchema>;

/** Parses the file's JSON, naming the first bad field (`checkpoints.logs[0].cosigned`). */
export function parseCosignedCheckpoints(json: unknown): CosignedCheckpoints {
  const parsed = CosignedCheckpointsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ["checkpoints", ...issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))].join("").replace(/\.\[/g, "[");
    throw invalid(field, issue.message);
  }
  return parsed.data;
}

/**
 * Adds or replaces one log's entry: a cosigned checkpoint already in the file
 * keeps one entry, its proofs merged (a later fetch of the same note adds the
 * proofs for newer reports).
 */
export function mergeCosignedEntry(file: CosignedCheckpoints | undefined, entry: CosignedLogEntry): CosignedCheckpoints {
  const logs = [...(file?.logs ?? [])];
  const same = logs.findIndex((l) => l.institution_id === entry.institution_id && l.cosigned === entry.cosigned);
  if (same < 0) {
    logs.push(entry);
  } else {
    const proofs = new Map(logs[same]!.consistency.map((p) => [`${p.old_size}/${p.tree_size}`, p]));
    for (const p of entry.consistency) proofs.set(`${p.old_size}/${p.tree_size}`, p);
    logs[same] = { ...entry, consistency: [...proofs.values()] };
  }
  return { format: COSIGNED_CHECKPOINTS_FORMAT, logs };
}

export interface WitnessPolicy {
  /** The witnesses whose cosignatures count for a holder's log (cosignature/v1 keys): never the holder itself. */
  witnessesOf: (holder: string) => NoteVerifier[];
  /** How many of them must have cosigned; capped, as the nodes do, at the number of witnesses a holder has. */
  quorum: number;
}

/** VERIFIED: the answer's checkpoint is, or is a prefix of, a checkpoint its witnesses cosigned. */
export type WitnessState = "VERIFIED" | "FAILED";

export interface WitnessCheck {
  state: WitnessState;
  reason: string;
}

interface Cosigned {
  checkpoint: Checkpoint;
  /** The newest cosignature time among the counted witnesses (POSIX seconds): when the witnesses had seen it. */
  time: number;
  witnesses: string[];
  proofs: ConsistencyProofEntry[];
}

const fromHex = (hashes: readonly string[]): Uint8Array[] => hashes.map((h) => Buffer.from(h, "hex"));

/**
 * Checks the checkpoint a holder's answer names against the checkpoints its
 * witnesses cosigned: each cosigned note must be signed by the holder's log
 * key and cosigned by a quorum of its witnesses; taken by size, each must be
 * consistent with the one before (one root per size); and the answer's
 * checkpoint must be the same tree as one of them or be proved (RFC 6962
 * consistency) a prefix of a larger one. Anything else names the holder's
 * problem: unsigned, too few cosignatures, inconsistent, not yet witnessed.
 */
export function checkWitnessed(
  holder: string,
  holderKey: Uint8Array,
  answerCheckpoint: Checkpoint,
  entries: readonly CosignedLogEntry[],
  policy: WitnessPolicy,
): WitnessCheck {
  const fail = (reason: string): WitnessCheck => ({ state: "FAILED", reason });
  const mine = entries.filter((e) => e.institution_id === holder);
  if (mine.length === 0) return fail(`no cosigned checkpoint of ${holder}'s log was given`);
  const witnesses = policy.witnessesOf(holder).filter((w) => w.name !== holder);
  const quorum = Math.min(policy.quorum, witnesses.length);
  if (quorum < 1) return fail(`no witness key for ${holder}'s log: nothing can count as cosigned`);

  const cosigned: Cosigned[] = [];
  for (const [i, e] of mine.entries()) {
    const label = mine.length > 1 ? `cosigned checkpoint ${i + 1} of ${mine.length}` : "the cosigned checkpoint";
    let checkpoint: Checkpoint;
    try {
      checkpoint = openCheckpoint(e.cosigned, logNoteVerifier(holder, holderKey), holder).checkpoint;
    } catch (err) {
      return fail(`unsigned: ${label} is not signed by ${holder}'s log key (${(err as Error).message})`);
    }
    const signedBy: string[] = [];
    const bad: string[] = [];
    let time = 0;
    for (const w of witnesses) {
      try {
        const t = verifyCosignature(e.cosigned, w);
        if (t !== undefined) {
          signedBy.push(w.name);
          time = Math.max(time, t);
        }
      } catch {
        bad.push(w.name);
      }
    }
    if (signedBy.length < quorum) {
      const got = signedBy.length > 0 ? ` (by ${signedBy.join(", ")})` : "";
      const wrong = bad.length > 0 ? `; not verifying: ${bad.join(", ")}` : "";
      return fail(`too few cosignatures on ${label} (size ${checkpoint.size}): ${signedBy.length} of the ${quorum} required${got}${wrong}`);
    }
    cosigned.push({ checkpoint, time, witnesses: signedBy, proofs: e.consistency });
  }

  // By size, not by the witnesses' times: any one witness's clock (or a far-future stamp it chose) would
  // otherwise decide the order and make an honest log look as if it went back. Consistency between
  // neighbours is what shows a fork, and two roots for one size are neighbours.
  cosigned.sort((a, b) => a.checkpoint.size - b.checkpoint.size);
  for (let i = 1; i < cosigned.length; i++) {
    const [a, b] = [cosigned[i - 1]!, cosigned[i]!];
    const problem = consistent(a.checkpoint, b.checkpoint, [...a.proofs, ...b.proofs]);
    if (problem) return fail(`inconsistent: cosigned sizes ${a.checkpoint.size} and ${b.checkpoint.size}: ${problem}`);
  }

  const covering = cosigned.filter((c) => c.checkpoint.size >= answerCheckpoint.size).sort((a, b) => a.checkpoint.size - b.checkpoint.size);
  if (covering.length === 0) {
    const newest = cosigned[cosigned.length - 1]!;
    return fail(
      `not witnessed: the newest cosigned checkpoint has size ${newest.checkpoint.size} (cosigned ${iso(newest.time)}), ` +
        `below the answer's size ${answerCheckpoint.size}; fetch a newer cosigned checkpoint (if none ever covers it, the log went back)`,
    );
  }
  let lastProblem = "";
  for (const c of covering) {
    const problem = consistent(answerCheckpoint, c.checkpoint, c.proofs);
    if (!problem) {
      const how = c.checkpoint.size === answerCheckpoint.size ? "is the checkpoint" : `is consistent with the checkpoint of size ${c.checkpoint.size}`;
      return { state: "VERIFIED", reason: `the answer's checkpoint (size ${answerCheckpoint.size}) ${how} cosigned by ${c.witnesses.join(", ")}` };
    }
    // Two roots for one size, or a proof that does not verify, is the log contradicting itself: no other entry can excuse it.
    if (!problem.startsWith("no consistency proof")) return fail(`inconsistent: the answer's checkpoint (size ${answerCheckpoint.size}) and the cosigned one (size ${c.checkpoint.size}): ${problem}`);
    lastProblem = problem;
  }
  return fail(`cannot be checked: ${lastProblem}`);
}

/** Why `older` is not a prefix of `newer` (both signed), or undefined when it is. */
function consistent(older: Checkpoint, newer: Checkpoint, proofs: readonly ConsistencyProofEntry[]): string | undefined {
  if (older.size === newer.size) {
    return Buffer.compare(older.root, newer.root) === 0 ? undefined : `two roots for size ${older.size} (the log equivocated)`;
  }
  if (older.size === 0) return undefined;
  const proof = proofs.find((p) => p.old_size === older.size && p.tree_size === newer.size);
  if (!proof) return `no consistency proof from size ${older.size} to ${newer.size} was given`;
  const failure = verifyConsistency(older.size, newer.size, fromHex(proof.hashes), older.root, newer.root);
  return failure === null ? undefined : `the consistency proof from ${older.size} to ${newer.size} does not verify (${failure})`;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
