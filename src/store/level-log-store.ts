import { CreditMeshError } from "../errors.js";
import type { LogStore, LogUpdate } from "../tlog/log-store.js";
import type { TileId } from "../tlog/tiles.js";
import type { NodeDatabase, WriteOp } from "./database.js";
import type { WriteBatch } from "./types.js";
import { opsOf } from "./write-batch.js";
import { SEP } from "./keys.js";

/**
 * The transparency log in the `tlog` sublevel:
 *
 * - `size`              → committed tree size (decimal)
 * - `t!<L>!<N>`         → tile L/N: its hashes concatenated (the right-edge tile is rewritten as it grows)
 * - `e!<N>`             → entry bundle N (length-prefixed entries)
 * - `checkpoint`        → the latest signed checkpoint note
 *
 * L and N are fixed-width hex so a scan lists tiles in tree order.
 */
const SIZE = "size";
const CHECKPOINT = "checkpoint";
const tileKey = (t: TileId): string => `t${SEP}${t.level.toString(16).padStart(2, "0")}${SEP}${t.index.toString(16).padStart(12, "0")}`;
const bundleKey = (n: number): string => `e${SEP}${n.toString(16).padStart(12, "0")}`;
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

  /**
   * Read in place (getSync): a proof needs a few tiles the log's cache does
   * not hold, each one key; a thread-pool round trip costs this thread more
   * CPU than the read itself.
   */
  async tiles(ids: readonly TileId[]): Promise<(Uint8Array | undefined)[]> {
    return this.tilesNow(ids);
  }

  tilesNow(ids: readonly TileId[]): (Uint8Array | undefined)[] {
    const level = this.db.levels.tlog;
    return ids.map((id) => level.getSync(tileKey(id)));
  }

  bundle(index: number): Promise<Uint8Array | undefined> {
    return this.db.levels.tlog.get(bundleKey(index));
  }

  /** One synced batch: the tiles, bundles and size of an append (and the carried writes) land together or not at all. */
  commit(update: LogUpdate, _signal?: AbortSignal, carry?: WriteBatch): Promise<void> {
    return this.db.write([...opsOf(carry), ...this.updateOps(update)]);
  }

  /** An append's writes, for a caller that commits them in a batch of its own (TiledLog.appendWith). */
  updateOps(update: LogUpdate): WriteOp[] {
    const level = this.db.levels.tlog;
    const ops: WriteOp[] = [];
    for (const t of update.tiles) ops.push({ type: "put", sublevel: level, key: tileKey(t.tile), value: t.hashes });
    for (const b of update.bundles) ops.push({ type: "put", sublevel: level, key: bundleKey(b.index), value: b.data });
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
