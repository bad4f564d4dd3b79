import type { WitnessedCheckpoint } from "./witness.js";

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
  /** Keeps a signed evidence note (synced); evidence is never deleted. */
  addEvidence(origin: string, observedAt: Date, signedEvidence: string, signal?: AbortSignal): Promise<void>;
  /** Every evidence note kept, oldest first, with its log's origin. */
  evidence(signal?: AbortSignal): Promise<{ origin: string; observedAt: string; note: string }[]>;
}
