import type { WriteBatch } from "../store/types.js";
import type { TileId } from "./tiles.js";

/**
 * One append's writes. A tile or entry bundle the append filled is written
 * whole; what it added to a tile or bundle that stays partial is written as a
 * piece holding only the new hashes or entries, under the position they
 * start at. An append so writes its own leaves, not the partial rows it
 * extends (a one-leaf append used to rewrite up to 8 KiB of tile and a whole
 * partial bundle).
 */
export interface LogUpdate {
  size: number;
  /** Tiles this append filled (256 hashes), with the offsets of the pieces they were stored in so far (superseded now). */
  tiles: { tile: TileId; hashes: Uint8Array; pieces: readonly number[] }[];
  /** Entry bundles this append filled (256 length-prefixed entries), likewise. */
  bundles: { index: number; data: Uint8Array; pieces: readonly number[] }[];
  /** Hashes added to a tile that stays partial: its hashes `offset`, `offset` + 1, … */
  tilePieces: { tile: TileId; offset: number; hashes: Uint8Array }[];
  /** Length-prefixed entries added to the partial bundle, from its entry `offset` on. */
  bundlePieces: { index: number; offset: number; data: Uint8Array }[];
}

/** A partial tile or bundle as stored: its bytes, and the offsets of the pieces they were read from. */
export interface StoredPartial {
  data: Uint8Array;
  pieces: number[];
}

/**
 * What the log needs from storage. `commit` writes the whole update in one
 * batch and resolves only once it is on disk (synced): a checkpoint is only
 * ever signed for a size a commit has returned, so it never covers leaves a
 * crash could lose.
 */
export interface LogStore {
  /** The committed tree size (0 for a new log). */
  size(signal?: AbortSignal): Promise<number>;
  /** Tiles in the order asked, as wide as stored (a partial one assembled); undefined where none is stored. */
  tiles(ids: readonly TileId[], signal?: AbortSignal): Promise<(Uint8Array | undefined)[]>;
  /**
   * Full tiles read in place, for a store that can: concurrent proofs then
   * find a tile in the log's cache as soon as one of them has read it.
   */
  tilesNow?(ids: readonly TileId[]): (Uint8Array | undefined)[];
  /** An entry bundle as stored (a partial one assembled). */
  bundle(index: number, signal?: AbortSignal): Promise<Uint8Array | undefined>;
  /** The right edge's partial tile and bundle with their pieces, read when the log opens. */
  partialTile(id: TileId, signal?: AbortSignal): Promise<StoredPartial | undefined>;
  partialBundle(index: number, signal?: AbortSignal): Promise<StoredPartial | undefined>;
  /**
   * `carry`: other writes of the node database that must land in the same
   * synced batch (a query's inquiry, audit entry and nonce with its inquiry
   * leaf: one disk flush for both).
   */
  commit(update: LogUpdate, signal?: AbortSignal, carry?: WriteBatch): Promise<void>;
  /** The latest signed checkpoint note (with cosignatures), if any. */
  checkpoint(signal?: AbortSignal): Promise<string | undefined>;
  putCheckpoint(note: string, signal?: AbortSignal): Promise<void>;
}
