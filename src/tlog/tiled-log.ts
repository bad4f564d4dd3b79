import { CreditMeshError } from "../errors.js";
import type { WriteBatch } from "../store/types.js";
import { SerialQueue } from "../store/serial.js";
import { signCheckpoint } from "./checkpoint.js";
import type { LogStore, LogUpdate } from "./log-store.js";
import {
  EMPTY_ROOT,
  type NodeId,
  consistencyPlan,
  foldRange,
  inclusionPlan,
  leafHash,
  perfectRoot,
  planNodes,
  rangeNodes,
  resolvePlan,
} from "./merkle.js";
import type { NoteSigner } from "./note.js";
import {
  MAX_ENTRY_BYTES,
  TILE_WIDTH,
  type TileId,
  bundleEntry,
  expandTile,
  expandedNode,
  locateNode,
  splitBundle,
  tileHashes,
  tileWidth,
} from "./tiles.js";

/** Full tiles never change: a proof's reads are mostly served from here. */
const FULL_TILE_CACHE = 4096;
/**
 * Hashes of perfect subtrees that spanned more than one tile hash: once
 * complete a subtree never changes, and an answer's proofs and checkpoint ask
 * for the same few (the right edge's) again and again, each up to 255 hashes
 * to recompute.
 */
const SUBTREE_CACHE = 65_536;
/** Leaves a log may hold: its caches key a subtree by one number (see key()). Years of appends at any rate this node reaches. */
export const MAX_LOG_SIZE = 2 ** 47;
/** Full tiles whose inner nodes are kept (8 KiB each), and the smallest subtree worth expanding a tile for. */
const EXPANDED_TILE_CACHE = 1024;
const EXPAND_FROM = 8;

/**
 * An append-only RFC 6962 log stored as C2SP tiles. The right edge (the
 * partial tile of each level and the partial entry bundle) is kept in memory,
 * so an append reads nothing, writes each tile it fills once and otherwise
 * only what it adds (see LogUpdate); a proof reads the few tiles holding the
 * subtrees it names (one read for all of them).
 */
export class TiledLog {
  private readonly queue = new SerialQueue();
  private readonly cache = new Map<number, Uint8Array>();
  private readonly subtrees = new Map<number, Uint8Array>();
  private readonly expanded = new Map<number, Buffer>();
  /** Committed size. */
  private committed: number;
  /**
   * The partial tile at each level (index = level): its hashes and the
   * offsets of the pieces they are stored in. A row only ever grows (an
   * append pushes onto it once committed) or is replaced once full, so a
   * proof may hold one across an append: the hashes it reads do not move.
   */
  private edge: EdgeRow[];
  /** The partial bundle: its length-prefixed entries (or stored runs of them) and the offsets of its stored pieces. */
  private bundle: EdgeRow;

  private constructor(
    private readonly store: LogStore,
    size: number,
    edge: EdgeRow[],
    bundle: EdgeRow,
  ) {
    this.committed = size;
    this.edge = edge;
    this.bundle = bundle;
  }

  static async init(store: LogStore, signal?: AbortSignal): Promise<TiledLog> {
    const size = await store.size(signal);
    const edge: EdgeRow[] = [];
    for (let level = 0; TILE_WIDTH ** level <= size; level++) {
      const nodes = Math.floor(size / TILE_WIDTH ** level);
      const width = nodes % TILE_WIDTH;
      if (width === 0) {
        edge[level] = { parts: [], pieces: [] };
        continue;
      }
      const id = { level, index: Math.floor(nodes / TILE_WIDTH) };
      const stored = await store.partialTile(id, signal);
      if (stored === undefined || stored.data.length !== width * 32) {
        throw new CreditMeshError("STORE_CORRUPT", `log tile ${id.level}/${id.index} does not hold ${width} hashes`);
      }
      // Copies: the row keeps its hashes while the log is open and shares no bytes with a buffer the store handed out.
      edge[level] = { parts: tileHashes(stored.data).map((h) => Uint8Array.from(h)), pieces: stored.pieces };
    }
    let bundle: EdgeRow = { parts: [], pieces: [] };
    const width = size % TILE_WIDTH;
    if (width !== 0) {
      const stored = await store.partialBundle(Math.floor(size / TILE_WIDTH), signal);
      if (stored === undefined || splitBundle(stored.data).length !== width) {
        throw new CreditMeshError("STORE_CORRUPT", `the log's partial entry bundle does not hold ${width} entries`);
      }
      bundle = { parts: [Uint8Array.from(stored.data)], pieces: stored.pieces };
    }
    return new TiledLog(store, size, edge, bundle);
  }

  /** The size every read and checkpoint is answered at: only committed (synced) leaves. */
  get size(): number {
    return this.committed;
  }

  /**
   * Appends entries in one synced batch; resolves with the index of the first
   * once they are durable. Entries are the encoded leaves (see leaves.ts),
   * at most 65,535 bytes each. Nothing changes if the write fails. `carry`
   * goes to disk in the same synced batch (see LogStore.commit).
   */
  async append(entries: readonly Uint8Array[], signal?: AbortSignal, carry?: WriteBatch): Promise<{ first: number; size: number }> {
    return this.appendWith(entries, (update) => this.store.commit(update, signal, carry), signal);
  }

  /**
   * Like append(), but the caller commits the update: `commit` must write it
   * in one synced batch (with writes of its own, e.g. the records the leaves
   * stand for, so that records and leaves land together or not at all) and
   * resolve once that batch is durable. It runs in the log's turn, with the
   * first leaf's index, so writes keyed by leaf index can join the batch.
   * Both paths share the log's queue: each append's tiles and size are
   * computed from, and replace, the state the previous one committed.
   */
  async appendWith(
    entries: readonly Uint8Array[],
    commit: (update: LogUpdate, first: number) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<{ first: number; size: number }> {
    entries.forEach((e, i) => {
      if (!(e instanceof Uint8Array) || e.length > MAX_ENTRY_BYTES) {
        throw new CreditMeshError("VALIDATION_FAILED", `entries[${i}]: must be at most ${MAX_ENTRY_BYTES} bytes`, {
          field: `entries[${i}]`,
        });
      }
    });
    signal?.throwIfAborted();
    return this.queue.run(async () => {
      const first = this.committed;
      if (entries.length === 0) return { first, size: first };
      if (first + entries.length > MAX_LOG_SIZE) {
        throw new CreditMeshError("INTERNAL", `the log cannot grow past ${MAX_LOG_SIZE} leaves (it holds ${first})`, { meta: { size: first } });
      }
      const { update, rows, bundle } = this.grow(entries);
      await commit(update, first);
      // A tile this append filled is read by the next proofs through it: kept from here rather than read back.
      for (const t of update.tiles) this.remember(key(t.tile), t.hashes);
      this.committed = update.size;
      rows.forEach((row, level) => (this.edge[level] = settle(this.edge[level], row)));
      this.bundle = settle(this.bundle, bundle);
      return { first, size: update.size };
    });
  }

  /**
   * Computes the writes of an append without touching the right edge (a
   * failed commit leaves the log as it was): per row, what the append adds
   * on top of the committed row, or the row it started after filling that.
   */
  private grow(entries: readonly Uint8Array[]): { update: LogUpdate; rows: Growth[]; bundle: Growth } {
    const tiles: LogUpdate["tiles"] = [];
    const bundles: LogUpdate["bundles"] = [];
    const rows: Growth[] = this.edge.map((row, level) => ({
      base: row,
      index: Math.floor(this.committed / TILE_WIDTH ** (level + 1)),
      offset: row.parts.length,
      added: [],
    }));
    let bundle: Growth = { base: this.bundle, index: Math.floor(this.committed / TILE_WIDTH), offset: this.committed % TILE_WIDTH, added: [] };
    let size = this.committed;
    for (const entry of entries) {
      bundle.added.push(bundleEntry(entry));
      if (bundle.offset + bundle.added.length === TILE_WIDTH) {
        bundles.push({ index: bundle.index, data: Buffer.concat([...bundle.base.parts, ...bundle.added]), pieces: bundle.base.pieces });
        bundle = { base: EMPTY_ROW, index: bundle.index + 1, offset: 0, added: [] };
      }
      let hash = leafHash(entry);
      let nodes = size; // nodes already at this tile level
      for (let level = 0; ; level++) {
        const row = (rows[level] ??= { base: EMPTY_ROW, index: Math.floor(nodes / TILE_WIDTH), offset: 0, added: [] });
        row.added.push(hash);
        if (row.offset + row.added.length < TILE_WIDTH) break;
        // A full tile: its root is the next level's newest hash.
        const full = [...row.base.parts, ...row.added];
        tiles.push({ tile: { level, index: row.index }, hashes: Buffer.concat(full), pieces: row.base.pieces });
        hash = perfectRoot(full);
        rows[level] = { base: EMPTY_ROW, index: row.index + 1, offset: 0, added: [] };
        nodes = Math.floor(nodes / TILE_WIDTH);
      }
      size++;
    }
    const tilePieces: LogUpdate["tilePieces"] = [];
    rows.forEach((row, level) => {
      if (row.added.length > 0) tilePieces.push({ tile: { level, index: row.index }, offset: row.offset, hashes: Buffer.concat(row.added) });
    });
    const bundlePieces: LogUpdate["bundlePieces"] = [];
    if (bundle.added.length > 0) bundlePieces.push({ index: bundle.index, offset: bundle.offset, data: Buffer.concat(bundle.added) });
    return { update: { size, tiles, bundles, tilePieces, bundlePieces }, rows, bundle };
  }

  /** MTH of the first `size` leaves (default: the committed size). */
  async root(size = this.committed, signal?: AbortSignal): Promise<Uint8Array> {
    this.checkSize("tree_size", size);
    if (size === 0) return EMPTY_ROOT;
    const ids = rangeNodes(0, size);
    const hashes = await this.nodeHashes(ids, signal);
    return foldRange(ids.map((id) => hashes.get(key(id))!));
  }

  async inclusionProof(index: number, size = this.committed, signal?: AbortSignal): Promise<Uint8Array[]> {
    this.checkSize("tree_size", size);
    const plan = inclusionPlan(index, size);
    const hashes = await this.nodeHashes(planNodes(plan), signal);
    return resolvePlan(plan, (id) => hashes.get(key(id))!);
  }

  async consistencyProof(oldSize: number, size = this.committed, signal?: AbortSignal): Promise<Uint8Array[]> {
    this.checkSize("tree_size", size);
    const plan = consistencyPlan(oldSize, size);
    const hashes = await this.nodeHashes(planNodes(plan), signal);
    return resolvePlan(plan, (id) => hashes.get(key(id))!);
  }

  /** The leaf hash at `index` (for a proof's `leaf_hash`). */
  async leafHash(index: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.committed) {
      throw new CreditMeshError("NOT_FOUND", `leaf_index: no leaf ${index} in a log of ${this.committed}`, { field: "leaf_index" });
    }
    return (await this.nodeHashes([{ level: 0, index }], signal)).get(key({ level: 0, index }))!;
  }

  /** The entry at `index` as appended (the bytes its leaf hash covers). */
  async entry(index: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.committed) {
      throw new CreditMeshError("NOT_FOUND", `leaf_index: no leaf ${index} in a log of ${this.committed}`, { field: "leaf_index" });
    }
    const n = Math.floor(index / TILE_WIDTH);
    const data = await this.store.bundle(n, signal);
    const entry = data === undefined ? undefined : splitBundle(data)[index - n * TILE_WIDTH];
    if (entry === undefined) throw new CreditMeshError("STORE_CORRUPT", `entry bundle ${n} does not hold entry ${index}`);
    return entry;
  }

  /**
   * Signs a checkpoint of the committed size and stores it for /checkpoint.
   * Only committed sizes exist here, so the checkpoint never covers a leaf
   * that is not on disk.
   */
  async publishCheckpoint(origin: string, signer: NoteSigner, signal?: AbortSignal): Promise<string> {
    return this.queue.run(async () => {
      const size = this.committed;
      const note = signCheckpoint({ origin, size, root: await this.root(size, signal) }, signer);
      await this.store.putCheckpoint(note, signal);
      return note;
    });
  }

  private checkSize(field: string, size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.committed) {
      throw new CreditMeshError("VALIDATION_FAILED", `${field}: must be an integer from 0 to ${this.committed}`, { field });
    }
  }

  /** Reads the tiles holding `ids` (each once) and hashes each subtree up from its run of tile hashes. */
  private async nodeHashes(ids: readonly NodeId[], signal?: AbortSignal): Promise<Map<number, Uint8Array>> {
    const out = new Map<number, Uint8Array>();
    const todo: NodeId[] = [];
    const todoKeys: number[] = [];
    for (const id of ids) {
      const k = key(id);
      const known = this.subtrees.get(k);
      if (known) out.set(k, known);
      else if (!out.has(k)) {
        todo.push(id);
        todoKeys.push(k);
      }
    }
    if (todo.length === 0) return out;
    ids = todo;
    const locations = ids.map(locateNode);
    const tileKeys = locations.map((loc) => key(loc.tile));
    // A tile's hashes: stored bytes, or the right edge's row as it is in memory (an append replaces rows, never edits them).
    const tiles = new Map<number, Uint8Array | readonly Uint8Array[]>();
    const missing: TileId[] = [];
    const missingKeys = new Set<number>();
    const edge = this.edge;
    const size = this.committed;
    for (let i = 0; i < locations.length; i++) {
      const { tile } = locations[i]!;
      const k = tileKeys[i]!;
      if (tiles.has(k) || missingKeys.has(k)) continue;
      const cached = this.cache.get(k);
      const row = edge[tile.level]?.parts;
      if (cached) tiles.set(k, cached);
      else if (row && row.length > 0 && tile.index === Math.floor(Math.floor(size / TILE_WIDTH ** tile.level) / TILE_WIDTH)) tiles.set(k, row);
      else {
        missing.push(tile);
        missingKeys.add(k);
      }
    }
    if (missing.length > 0) {
      const read = this.store.tilesNow ? this.store.tilesNow(missing) : await this.store.tiles(missing, signal);
      missing.forEach((tile, i) => {
        const data = read[i];
        if (data === undefined) throw new CreditMeshError("STORE_CORRUPT", `log tile ${tile.level}/${tile.index} is missing`);
        tiles.set(key(tile), data);
        if (data.length === TILE_WIDTH * 32) this.remember(key(tile), data);
      });
    }
    ids.forEach((_, i) => {
      const loc = locations[i]!;
      const tileKey = tileKeys[i]!;
      const hashes = tiles.get(tileKey)!;
      const end = loc.offset + loc.count;
      let hash: Uint8Array;
      if (Array.isArray(hashes)) {
        if (hashes.length < end) throw new CreditMeshError("STORE_CORRUPT", `log tile ${loc.tile.level}/${loc.tile.index} is too short`);
        hash = perfectRoot(hashes, loc.offset, loc.count);
      } else {
        const data = hashes as Uint8Array;
        if (data.length < end * 32) throw new CreditMeshError("STORE_CORRUPT", `log tile ${loc.tile.level}/${loc.tile.index} is too short`);
        if (loc.count === 1) hash = data.subarray(loc.offset * 32, end * 32);
        else {
          const inner = this.innerNodes(tileKey, data, loc.count);
          if (inner) {
            out.set(todoKeys[i]!, expandedNode(inner, Math.log2(loc.count), loc.offset / loc.count));
            return;
          }
          hash = perfectRoot(tileHashes(data.subarray(loc.offset * 32, end * 32)));
        }
      }
      out.set(todoKeys[i]!, hash);
      if (loc.count > 1) {
        if (this.subtrees.size >= SUBTREE_CACHE) this.subtrees.delete(this.subtrees.keys().next().value!);
        this.subtrees.set(todoKeys[i]!, hash);
      }
    });
    return out;
  }

  /** A full tile's inner nodes, expanded once a subtree of `count` hashes (≥ EXPAND_FROM) is asked of it; else undefined. */
  private innerNodes(k: number, data: Uint8Array, count: number): Buffer | undefined {
    let inner = this.expanded.get(k);
    if (inner || count < EXPAND_FROM || data.length !== TILE_WIDTH * 32) return inner;
    inner = expandTile(data);
    if (this.expanded.size >= EXPANDED_TILE_CACHE) this.expanded.delete(this.expanded.keys().next().value!);
    this.expanded.set(k, inner);
    return inner;
  }

  private remember(k: number, data: Uint8Array): void {
    if (this.cache.size >= FULL_TILE_CACHE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(k, data);
  }
}

/** A row of the right edge: a partial tile's hashes, or the partial bundle's entries. */
interface EdgeRow {
  /** Hashes; for the bundle, length-prefixed entries or stored runs of them. */
  parts: Uint8Array[];
  /** Offsets (in hashes or entries) of the pieces the row is stored in. */
  pieces: number[];
}

const EMPTY_ROW: EdgeRow = { parts: [], pieces: [] };

/**
 * One append's change to a row: `added` on top of `base` (the committed row,
 * or an empty one the append started), which holds `offset` hashes or
 * entries, at tile or bundle `index`.
 */
interface Growth {
  base: EdgeRow;
  index: number;
  offset: number;
  added: Uint8Array[];
}

/**
 * The committed row once an append's growth is durable. A row the append
 * extended grows in place (readers holding it read only hashes below the
 * size they hold; pushing leaves those where they are); a row it started
 * replaces the filled one. Either way the new row's piece is recorded.
 */
function settle(row: EdgeRow | undefined, growth: Growth): EdgeRow {
  if (growth.added.length === 0) return growth.base === row ? row : { parts: [], pieces: [] };
  if (growth.base === row && row !== EMPTY_ROW) {
    row.pieces.push(growth.offset);
    for (const part of growth.added) row.parts.push(part);
    return row;
  }
  return { parts: growth.added, pieces: [0] };
}

/**
 * A subtree's or tile's cache key: a number, as a string built per node was
 * most of a proof's bookkeeping. Exact while index × 64 stays below 2^53,
 * i.e. for logs of fewer than 2^47 leaves (MAX_LOG_SIZE).
 */
function key(id: { level: number; index: number }): number {
  return id.index * 64 + id.level;
}
