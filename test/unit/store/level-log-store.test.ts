import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeDatabase, type WriteOp } from "../../../src/store/database.js";
import { LevelLogStore } from "../../../src/store/level-log-store.js";
import { consistencyProof, inclusionProof, leafHash, treeHash } from "../../../src/tlog/merkle.js";
import type { LogStore } from "../../../src/tlog/log-store.js";
import { TiledLog } from "../../../src/tlog/tiled-log.js";
import { TILE_WIDTH, type TileId } from "../../../src/tlog/tiles.js";
import { writeLegacyLog } from "../../helpers/legacy-log-layout.js";
import { tempDir } from "../../helpers/temp.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const entry = (i: number): Uint8Array => Buffer.from(`entry ${i} ${"x".repeat(i % 40)}`);
const entries = (from: number, to: number): Uint8Array[] => Array.from({ length: to - from }, (_, i) => entry(from + i));

let tmp: ReturnType<typeof tempDir>;
let db: NodeDatabase;
beforeEach(async () => {
  tmp = tempDir("cm-tlog-store-");
  db = await NodeDatabase.open(tmp.dir);
});
afterEach(async () => {
  await db.close();
  tmp.remove();
});

async function reopen(): Promise<TiledLog> {
  await db.close();
  db = await NodeDatabase.open(tmp.dir);
  return TiledLog.init(new LevelLogStore(db));
}

/** Appends one leaf, returning the ops of its batch as keys and value sizes. */
async function appendOne(log: TiledLog, store: LevelLogStore, e: Uint8Array): Promise<{ type: string; key: string; bytes: number }[]> {
  let ops: WriteOp[] = [];
  await log.appendWith([e], async (update) => {
    ops = store.updateOps(update);
    await db.write(ops);
  });
  return ops.map((op) => ({ type: op.type, key: op.key, bytes: op.type === "put" ? op.value.length : 0 }));
}

/** Every tile and bundle of a log of `size` leaves. */
function rowsAt(size: number): { tiles: TileId[]; bundles: number[] } {
  const tiles: TileId[] = [];
  for (let level = 0, nodes = size; nodes > 0; level++, nodes = Math.floor(nodes / TILE_WIDTH)) {
    for (let index = 0; index * TILE_WIDTH < nodes; index++) tiles.push({ level, index });
  }
  return { tiles, bundles: Array.from({ length: Math.ceil(size / TILE_WIDTH) }, (_, n) => n) };
}

/** The tiles and bundles a store serves, against those of the whole-row layout for the same entries, byte for byte. */
async function expectSameRowsAsLegacy(store: LevelLogStore, all: readonly Uint8Array[]): Promise<void> {
  const other = tempDir("cm-tlog-legacy-");
  const legacy = await NodeDatabase.open(other.dir);
  try {
    await writeLegacyLog(legacy, all);
    const want = new LevelLogStore(legacy);
    const { tiles, bundles } = rowsAt(all.length);
    const [got, expected] = await Promise.all([store.tiles(tiles), want.tiles(tiles)]);
    tiles.forEach((t, i) => expect(hex(got[i]!), `tile ${t.level}/${t.index}`).toBe(hex(expected[i]!)));
    for (const n of bundles) expect(hex((await store.bundle(n))!), `bundle ${n}`).toBe(hex((await want.bundle(n))!));
  } finally {
    await legacy.close();
    other.remove();
  }
}

describe("LevelLogStore: what an append writes", () => {
  it("writes a one-leaf append as its hash and its entry, not the partial tile and bundle it extends", async () => {
    const store = new LevelLogStore(db);
    const log = await TiledLog.init(store);
    await log.append(entries(0, 200));
    const e = entry(200);
    const ops = await appendOne(log, store, e);
    expect(ops).toEqual([
      { type: "put", key: "t!00!000000000000!c8", bytes: 32 },
      { type: "put", key: "e!000000000000!c8", bytes: 2 + e.length },
      { type: "put", key: "size", bytes: 3 },
    ]);
    expect(hex(await log.root())).toBe(hex(treeHash(entries(0, 201).map(leafHash))));
  });

  it("writes a tile and bundle whole once an append fills them, deleting their pieces in the same batch", async () => {
    const store = new LevelLogStore(db);
    const log = await TiledLog.init(store);
    await log.append(entries(0, 250));
    for (let i = 250; i < 255; i++) await appendOne(log, store, entry(i));
    const ops = await appendOne(log, store, entry(255));
    const offsets = [0, 250, 251, 252, 253, 254].map((o) => o.toString(16).padStart(2, "0"));
    expect(ops).toEqual([
      { type: "put", key: "t!00!000000000000", bytes: 256 * 32 },
      ...offsets.map((o) => ({ type: "del", key: `t!00!000000000000!${o}`, bytes: 0 })),
      { type: "put", key: "e!000000000000", bytes: expect.any(Number) },
      ...offsets.map((o) => ({ type: "del", key: `e!000000000000!${o}`, bytes: 0 })),
      { type: "put", key: "t!01!000000000000!00", bytes: 32 },
      { type: "put", key: "size", bytes: 3 },
    ]);
    const keys = await db.levels.tlog.keys().all();
    expect(keys.filter((k) => k.startsWith("t!00!") || k.startsWith("e!"))).toEqual(["e!000000000000", "t!00!000000000000"].sort());
    expect(hex(await (await reopen()).root())).toBe(hex(treeHash(entries(0, 256).map(leafHash))));
  });

  it("serves the same tiles and bundles, byte for byte, as the whole-row layout, across levels and after reopening", async () => {
    let log = await TiledLog.init(new LevelLogStore(db));
    const sizes = [1, 3, 700, 1000, 5, 1, 1, 2];
    let size = 0;
    for (let k = 0; size < 66_000; k++) {
      const n = Math.min(66_000 - size, sizes[k % sizes.length]!);
      await log.append(entries(size, size + n));
      size += n;
      if (k === 60) log = await reopen();
    }
    const all = entries(0, size);
    await expectSameRowsAsLegacy(new LevelLogStore(db), all);
    log = await reopen();
    expect(hex(await log.root())).toBe(hex(treeHash(all.map(leafHash))));
  }, 120_000);

  it("answers proofs read across appends that grow or fill the rows they hold", async () => {
    const real = new LevelLogStore(db);
    // No in-place reads: a proof awaits its tiles while appends commit and grow the right edge it holds.
    const store: LogStore = {
      size: () => real.size(),
      tiles: async (ids) => {
        await new Promise((r) => setTimeout(r, 1));
        return real.tiles(ids);
      },
      bundle: (n) => real.bundle(n),
      partialTile: (id) => real.partialTile(id),
      partialBundle: (n) => real.partialBundle(n),
      checkpoint: () => real.checkpoint(),
      putCheckpoint: (n) => real.putCheckpoint(n),
      commit: (u, signal, carry) => real.commit(u, signal, carry),
    };
    const log = await TiledLog.init(store);
    await log.append(entries(0, 500));
    const hashes = entries(0, 800).map(leafHash);
    const proofs: Promise<void>[] = [];
    const appends: Promise<unknown>[] = [];
    for (let i = 500; i < 800; i++) {
      appends.push(log.append([entry(i)]));
      const size = log.size;
      const index = (i * 7) % size;
      proofs.push(
        log.inclusionProof(index, size).then((proof) => {
          expect(proof.map(hex), `leaf ${index} at size ${size}`).toEqual(inclusionProof(index, hashes.slice(0, size)).map(hex));
        }),
      );
    }
    await Promise.all([...appends, ...proofs]);
    expect(log.size).toBe(800);
  });

  it("refuses a partial row whose pieces do not follow one another", async () => {
    const store = new LevelLogStore(db);
    const log = await TiledLog.init(store);
    for (let i = 0; i < 3; i++) await log.append([entry(i)]);
    // A piece for hash 5 where 3 would be next.
    await db.write([{ type: "put", sublevel: db.levels.tlog, key: "t!00!000000000000!05", value: Buffer.alloc(32) }]);
    await expect(reopen()).rejects.toMatchObject({ code: "STORE_CORRUPT", message: expect.stringContaining("log tile 0/0: a piece starts at 5") });
  });
});

describe("LevelLogStore: databases written with whole partial rows", () => {
  it("opens one and keeps appending: its partial rows are read whole, grown in pieces and rewritten whole once full", async () => {
    const hashes = entries(0, 66_000).map(leafHash);
    // 1000 leaves: partial tiles at levels 0 (232 hashes) and 1 (3), and a partial bundle, each stored whole.
    await writeLegacyLog(db, entries(0, 1000));
    let log = await reopen();
    expect(log.size).toBe(1000);
    expect(hex(await log.root())).toBe(hex(treeHash(hashes.slice(0, 1000))));

    for (let i = 1000; i < 1010; i++) await log.append([entry(i)]);
    const store = new LevelLogStore(db);
    // The legacy row first, then the pieces appended since.
    expect((await store.partialTile({ level: 0, index: 3 }))!.pieces).toEqual([232, 233, 234, 235, 236, 237, 238, 239, 240, 241]);
    log = await reopen();
    expect(hex(await log.root())).toBe(hex(treeHash(hashes.slice(0, 1010))));
    for (let i = 1010; i < 1030; i++) await log.append([entry(i)]);
    expect(await db.levels.tlog.keys({ gt: "t!00!000000000003!", lt: 't!00!000000000003"' }).all()).toEqual([]);
    await expectSameRowsAsLegacy(new LevelLogStore(db), entries(0, 1030));

    // Past 65,536 leaves: level 1's legacy row of 3 hashes fills too.
    log = await reopen();
    await log.append(entries(1030, 66_000));
    log = await reopen();
    expect(hex(await log.root())).toBe(hex(treeHash(hashes)));
    for (const [index, size] of [[999, 1000], [1005, 1030], [1023, 65_536], [65_999, 66_000], [4242, 66_000]] as const) {
      expect((await log.inclusionProof(index, size)).map(hex)).toEqual(inclusionProof(index, hashes.slice(0, size)).map(hex));
    }
    for (const [old, size] of [[1000, 1010], [1000, 66_000], [1029, 65_537]] as const) {
      expect((await log.consistencyProof(old, size)).map(hex)).toEqual(consistencyProof(old, hashes.slice(0, size)).map(hex));
    }
    expect(Buffer.from(await log.entry(1005)).toString()).toBe(Buffer.from(entry(1005)).toString());
    await expectSameRowsAsLegacy(new LevelLogStore(db), entries(0, 66_000));
  }, 120_000);
});
