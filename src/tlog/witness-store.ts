import type { EvidenceKind, WitnessedCheckpoint } from "./witness.js";

/**
 * What a witness keeps. The state must be on disk before its cosignature
 * leaves the node: a witness that forgot a checkpoint it cosigned could be
 * led to cosign a contradicting one after a restart.
 */
export interface WitnessStore {
  /** The last checkpoint cosigned for the log with this origin. */
  last(origin: string, signal?: AbortSignal): Promise<WitnessedCheckpoint | undefined>;
  /** Records a newly cosigned checkpoint (synced). */
  cosigned(origin: string, state: WitnessedCheckpoint, signal?: AbortSignal): Promise<void>;
  /**
   * Keeps a signed evidence note (synced) unless one of the same kind against
   * the same log is already held: the first proof is enough, and a member able
   * to produce endless distinct notes must not fill the disk. True when kept.
   * Evidence is never deleted.
   */
  addEvidence(origin: string, kind: EvidenceKind, observedAt: Date, signedEvidence: string, signal?: AbortSignal): Promise<boolean>;
  /** Every evidence note kept, oldest first, with its log's origin. */
  evidence(signal?: AbortSignal): Promise<{ origin: string; observedAt: string; note: string }[]>;
}
