import { CreditMeshError } from "../errors.js";
import type { LogStore, LogUpdate, StoredPartial } from "../tlog/log-store.js";
import { HASH_SIZE } from "../tlog/merkle.js";
import { TILE_WIDTH, type TileId, splitBundle } from "../tlog/tiles.js";
import type { NodeDatabase, WriteOp } from "./database.js";
import type { WriteBatch } from "./types.js";
import { opsOf } from "./write-batch.js";
import { AFTER_SEP, SEP } from "./keys.js";

/**
 * The transparency log in the `tlog` sublevel:
 *
 * - `size`              → committed tree size (decimal)
 * - `t!<L>!<N>`         → tile L/N once full: its 256 hashes concatenated
 * - `t!<L>!<N>!<O>`     → a piece of the partial tile L/N: the hashes one append added, from hash O on
 * - `e!<N>`             → entry bundle N once full (length-prefixed entries)
 * - `e!<N>!<O>`         → a piece of the partial bundle N: the entries one append added, from entry O on
 * - `checkpoint`        → the latest signed checkpoint note
 *
 * L, N and O are fixed-width hex, so a scan lists tiles in tree order and a
 * partial row's pieces in order, right after its own key. The append that
 * fills a tile or bundle writes it whole and deletes its pieces in the same
 * batch. Databases written before pieces existed hold the partial row whole
 * under `t!<L>!<N>` / `e!<N>`: read as the first part of the row, with any
 * pieces appended since after it, and overwritten once the row fills.
 */
const SIZE = "size";
const CHECKPOINT = "checkpoint";
const tileKey = (t: TileId): string => `t${SEP}${t.level.toString(16).padStart(2, "0")}${SEP}${t.index.toString(16).padStart(12, "0")}`;
const bundleKey = (n: number): string => `e${SEP}${n.toString(16).padStart(12, "0")}`;
const pieceKey = (row: string, offset: number): string => `${row}${SEP}${offset.toString(16).padStart(2, "0")}`;
const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
const utf8 = new TextDecoder("utf-8", { fatal: true });

export class LevelLogStore implements LogStore {
  constructor(private readonly db: NodeDatabase) {}

  async size(): Promise<number> {
    const raw = await this.db.levels.tlog.get(SIZE);
    if (raw === undefined) return 0;
    const text = Buffer.from(raw).toString("latin1");
    const n = Number(text);
    if (!/^(0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(n)) {
      throw new CreditMeshError("STORE_CORRUPT", "log size is not a decimal integer");
    }
    return n;
  }

  /** Full tiles read in place; a partial one (the right edge, as the HTTP endpoint asks for it) assembled from its pieces. */
  async tiles(ids: readonly TileId[]): Promise<(Uint8Array | undefined)[]> {
    const stored = this.tilesNow(ids);
    return Promise.all(ids.map(async (id, i) => (stored[i]?.length === FULL_TILE_BYTES ? stored[i] : (await this.partialTile(id))?.data)));
  }

  /**
   * Read in place (getSync): a proof needs a few tiles the log's cache does
   * not hold, each one key; a thread-pool round trip costs this thread more
   * CPU than the read itself.
   */
  tilesNow(ids: readonly TileId[]): (Uint8Array | undefined)[] {
    const level = this.db.levels.tlog;
    return ids.map((id) => level.getSync(tileKey(id)));
  }

  async bundle(index: number): Promise<Uint8Array | undefined> {
    return (await this.partialBundle(index))?.data;
  }

  partialTile(id: TileId): Promise<StoredPartial | undefined> {
    return this.assemble(tileKey(id), `log tile ${id.level}/${id.index}`, (part) => {
      if (part.length % HASH_SIZE !== 0) throw new CreditMeshError("STORE_CORRUPT", `log tile ${id.level}/${id.index}: a stored part is not whole hashes`);
      return part.length / HASH_SIZE;
    });
  }

  partialBundle(index: number): Promise<StoredPartial | undefined> {
    return this.assemble(bundleKey(index), `entry bundle ${index}`, (part) => splitBundle(part).length);
  }

  /**
   * A row's parts in one iterator (one snapshot: an append filling the row
   * meanwhile is seen entirely or not at all): the row's own key, then its
   * pieces, each starting where the parts before it end.
   */
  private async assemble(row: string, what: string, count: (part: Uint8Array) => number): Promise<StoredPartial | undefined> {
    const parts = await this.db.levels.tlog.iterator({ gte: row, lt: row + AFTER_SEP }).all();
    if (parts.length === 0) return undefined;
    const pieces: number[] = [];
    let width = 0;
    for (const [key, part] of parts) {
      if (key !== row) {
        const offset = Number.parseInt(key.slice(row.length + 1), 16);
        if (offset !== width) throw new CreditMeshError("STORE_CORRUPT", `${what}: a piece starts at ${offset}, not after the ${width} stored before it`);
        pieces.push(offset);
      }
      width += count(part);
    }
    return { data: parts.length === 1 ? parts[0]![1] : Buffer.concat(parts.map(([, part]) => part)), pieces };
  }

  /** One synced batch: the tiles, bundles and size of an append (and the carried writes) land together or not at all. */
  commit(update: LogUpdate, _signal?: AbortSignal, carry?: WriteBatch): Promise<void> {
    return this.db.write([...opsOf(carry), ...this.updateOps(update)]);
  }

  /** An append's writes, for a caller that commits them in a batch of its own (TiledLog.appendWith). */
  updateOps(update: LogUpdate): WriteOp[] {
    const level = this.db.levels.tlog;
    const ops: WriteOp[] = [];
    // A row the append filled is written whole, and the pieces it was stored in go.
    const whole = (row: string, value: Uint8Array, pieces: readonly number[]) => {
      ops.push({ type: "put", sublevel: level, key: row, value });
      for (const offset of pieces) ops.push({ type: "del", sublevel: level, key: pieceKey(row, offset) });
    };
    for (const t of update.tiles) whole(tileKey(t.tile), t.hashes, t.pieces);
    for (const b of update.bundles) whole(bundleKey(b.index), b.data, b.pieces);
    for (const p of update.tilePieces) ops.push({ type: "put", sublevel: level, key: pieceKey(tileKey(p.tile), p.offset), value: p.hashes });
    for (const p of update.bundlePieces) ops.push({ type: "put", sublevel: level, key: pieceKey(bundleKey(p.index), p.offset), value: p.data });
    ops.push({ type: "put", sublevel: level, key: SIZE, value: Buffer.from(String(update.size), "latin1") });
    return ops;
  }

  async checkpoint(): Promise<string | undefined> {
    const raw = await this.db.levels.tlog.get(CHECKPOINT);
    if (raw === undefined) return undefined;
    try {
      return utf8.decode(raw);
    } catch (err) {
      throw new CreditMeshError("STORE_CORRUPT", "stored checkpoint is not UTF-8", { cause: err });
    }
  }

  putCheckpoint(note: string): Promise<void> {
    return this.db.write([{ type: "put", sublevel: this.db.levels.tlog, key: CHECKPOINT, value: Buffer.from(note, "utf8") }]);
  }
}
