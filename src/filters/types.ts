import type { BinaryFuse16 } from "./binary-fuse.js";

/** A member's signed statement about its current full filter, as verified. */
export interface Announcement {
  institutionId: string;
  epoch: number;
  /** Padded token count (the filter's capacity). */
  count: number;
  filterSha256: Uint8Array;
  filterBytes: number;
  /** Last delta the member had issued in this epoch when it signed (0: none). */
  deltaSequence: number;
  issuedAt: Date;
  /** The leaf of the member's transparency log that commits to this filter, when it logged one. */
  logLeafIndex?: number;
}

/** The tokens a member gained in intervals firstSequence..sequence of an epoch, as verified. */
export interface Delta {
  institutionId: string;
  epoch: number;
  firstSequence: number;
  sequence: number;
  filter: BinaryFuse16;
  issuedAt: Date;
  /** The last position of the member's revocation log when it signed; undefined when the delta does not say. */
  revocationHead?: number;
}

/** A fetched full filter whose bytes matched the hash of an announcement of this epoch. */
export interface FullFilter {
  institutionId: string;
  epoch: number;
  filter: BinaryFuse16;
}

/** Upper bounds on what a verifier reads from a peer. */
export interface FilterLimits {
  /** Largest full filter accepted (64 MiB holds ~28M tokens). */
  maxFilterBytes: number;
  /** Largest delta accepted; deltas travel on gossip, whose messages are small. */
  maxDeltaBytes: number;
}

export const DEFAULT_FILTER_LIMITS: FilterLimits = {
  maxFilterBytes: 64 * 1024 * 1024,
  maxDeltaBytes: 512 * 1024,
};
