import type { WriteBatch } from "../store/types.js";
import type { TileId } from "./tiles.js";

/** One append's writes: every tile and bundle it changed, and the new size. */
export interface LogUpdate {
  size: number;
  tiles: { tile: TileId; hashes: Uint8Array }[];
  bundles: { index: number; data: Uint8Array }[];
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
  /** Stored tiles, in the order asked; undefined where none is stored. */
  tiles(ids: readonly TileId[], signal?: AbortSignal): Promise<(Uint8Array | undefined)[]>;
  /**
   * tiles(), read in place, for a store that can: concurrent proofs then
   * find a tile in the log's cache as soon as one of them has read it.
   */
  tilesNow?(ids: readonly TileId[]): (Uint8Array | undefined)[];
  bundle(index: number, signal?: AbortSignal): Promise<Uint8Array | undefined>;
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
