import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeKey } from "../../../src/identity/node-key.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelLogStore } from "../../../src/store/level-log-store.js";
import { openCheckpoint } from "../../../src/tlog/checkpoint.js";
import type { LogStore, LogUpdate } from "../../../src/tlog/log-store.js";
import { consistencyProof, inclusionProof, leafHash, treeHash, verifyInclusion } from "../../../src/tlog/merkle.js";
import { parseVerifierKey, verifierKey } from "../../../src/tlog/note.js";
import { MAX_LOG_SIZE, TiledLog } from "../../../src/tlog/tiled-log.js";
import { bundleEntry, splitBundle, TILE_WIDTH } from "../../../src/tlog/tiles.js";
import { toBatch } from "../../../src/store/write-batch.js";
import { tempDir } from "../../helpers/temp.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const entry = (i: number): Uint8Array => Buffer.from(`entry ${i}`);

let tmp: ReturnType<typeof tempDir>;
let db: NodeDatabase;
beforeEach(async () => {
  tmp = tempDir("cm-tlog-");
  db = await NodeDatabase.open(tmp.dir);
});
afterEach(async () => {
  await db.close();
  tmp.remove();
});

describe("TiledLog over LevelDB", () => {
  it("gives the same roots and proofs as the in-memory tree across tile levels, and after reopening", async () => {
    const total = 66_000; // past 256² leaves: level-2 tiles exist
    const all = Array.from({ length: total }, (_, i) => leafHash(entry(i)));
    let log = await TiledLog.init(new LevelLogStore(db));
    const sizes = [1, 255, 256, 257, 1000, 65_535, 65_536, 65_537, total];
    let done = 0;
    for (const size of sizes) {
      const batch = Array.from({ length: size - done }, (_, i) => entry(done + i));
      for (let at = 0; at < batch.length; at += 5000) {
        const r = await log.append(batch.slice(at, at + 5000));
        expect(r.first).toBe(done + at);
      }
      done = size;
      expect(log.size).toBe(size);
      expect(hex(await log.root())).toBe(hex(treeHash(all.slice(0, size))));
      if (size === 1000) {
        // Reopen with a partial edge on levels 0 and 1 and a partial bundle.
        await db.close();
        db = await NodeDatabase.open(tmp.dir);
        log = await TiledLog.init(new LevelLogStore(db));
        expect(log.size).toBe(1000);
      }
    }
    for (const [index, size] of [[0, 1], [255, 256], [256, 257], [999, 1000], [4242, 65_536], [65_536, 65_537], [65_999, total], [12_345, total]] as const) {
      const expected = inclusionProof(index, all.slice(0, size));
      const got = await log.inclusionProof(index, size);
      expect(got.map(hex)).toEqual(expected.map(hex));
      expect(verifyInclusion(index, size, all[index]!, got, treeHash(all.slice(0, size)))).toBeNull();
    }
    for (const [old, size] of [[1, 256], [255, 257], [1000, 65_537], [65_536, total], [777, total]] as const) {
      expect((await log.consistencyProof(old, size)).map(hex)).toEqual(consistencyProof(old, all.slice(0, size)).map(hex));
    }
    expect(hex(await log.leafHash(65_999))).toBe(hex(all[65_999]!));
  }, 120_000);

  it("keeps every entry in its bundle, in order", async () => {
    const log = await TiledLog.init(new LevelLogStore(db));
    await log.append(Array.from({ length: 300 }, (_, i) => entry(i)));
    await log.append([new Uint8Array(0), entry(301)]);
    const store = new LevelLogStore(db);
    const first = splitBundle((await store.bundle(0))!);
    const second = splitBundle((await store.bundle(1))!);
    expect(first).toHaveLength(256);
    expect(Buffer.from(first[255]!).toString()).toBe("entry 255");
    expect(second.map((e) => Buffer.from(e).toString())).toEqual([
      ...Array.from({ length: 44 }, (_, i) => `entry ${256 + i}`),
      "",
      "entry 301",
    ]);
  });

  it("signs checkpoints of committed sizes only, and stores the latest", async () => {
    const key = NodeKey.fromSeed(new Uint8Array(32).fill(4));
    const signer = { name: "bank-a", publicKey: key.publicKey, sign: (d: Uint8Array) => key.sign(d) };
    const store = new LevelLogStore(db);
    const log = await TiledLog.init(store);
    const appended = log.append([entry(0), entry(1), entry(2)]);
    const note = await log.publishCheckpoint("bank-a", signer);
    // Published after the append queued ahead of it had committed.
    await appended;
    const { checkpoint } = openCheckpoint(note, parseVerifierKey(verifierKey("bank-a", key.publicKey)), "bank-a");
    expect(checkpoint.size).toBe(3);
    expect(hex(checkpoint.root)).toBe(hex(treeHash([0, 1, 2].map((i) => leafHash(entry(i))))));
    expect(await store.checkpoint()).toBe(note);
  });

  it("changes nothing when a commit fails, and refuses oversized entries and sizes beyond the log", async () => {
    const real = new LevelLogStore(db);
    let fail = false;
    const flaky: LogStore = {
      size: () => real.size(),
      tiles: (ids) => real.tiles(ids),
      bundle: (n) => real.bundle(n),
      partialTile: (id) => real.partialTile(id),
      partialBundle: (n) => real.partialBundle(n),
      checkpoint: () => real.checkpoint(),
      putCheckpoint: (n) => real.putCheckpoint(n),
      commit: (u: LogUpdate) => (fail ? Promise.reject(new Error("disk full")) : real.commit(u)),
    };
    const log = await TiledLog.init(flaky);
    await log.append([entry(0), entry(1)]);
    fail = true;
    await expect(log.append([entry(2)])).rejects.toThrow("disk full");
    fail = false;
    expect(log.size).toBe(2);
    await log.append([entry(2)]);
    expect(hex(await log.root())).toBe(hex(treeHash([0, 1, 2].map((i) => leafHash(entry(i))))));
    await expect(log.append([entry(3), new Uint8Array(70_000)])).rejects.toMatchObject({ field: "entries[1]" });
    await expect(log.inclusionProof(0, 4)).rejects.toMatchObject({ field: "tree_size" });
    await expect(log.inclusionProof(3, 3)).rejects.toMatchObject({ field: "leaf_index" });
    expect(log.size).toBe(3);
  });
  it("runs carried appends and caller-committed appends in call order, each built on the state the one before committed", async () => {
    const store = new LevelLogStore(db);
    const log = await TiledLog.init(store);
    await log.append(Array.from({ length: 250 }, (_, i) => entry(i)));
    const level = db.levels.tlog;
    // Alternating: a query's leaf carrying its own writes, an ingest batch whose commit yields before it writes.
    const runs = Array.from({ length: 12 }, (_, k) => {
      const leaves = Array.from({ length: k % 3 === 0 ? 4 : 1 }, (_, j) => Buffer.from(`run ${k} leaf ${j}`));
      if (k % 2 === 0) {
        return { leaves, done: log.append(leaves, undefined, toBatch([{ type: "put", sublevel: level, key: `carried-${k}`, value: Buffer.from("x") }])) };
      }
      const done = log.appendWith(leaves, async (update, first) => {
        await new Promise((r) => setTimeout(r, 5));
        await db.write([...store.updateOps(update), { type: "put", sublevel: level, key: `with-${k}`, value: Buffer.from(String(first)) }]);
      });
      return { leaves, done };
    });
    const results = await Promise.all(runs.map((r) => r.done));
    let expected = 250;
    results.forEach((r, k) => {
      expect(r.first).toBe(expected);
      expected += runs[k]!.leaves.length;
      expect(r.size).toBe(expected);
    });
    const all = [...Array.from({ length: 250 }, (_, i) => entry(i)), ...runs.flatMap((r) => r.leaves)].map(leafHash);
    expect(hex(await log.root())).toBe(hex(treeHash(all)));
    for (let k = 0; k < runs.length; k++) {
      const written = await level.get(k % 2 === 0 ? `carried-${k}` : `with-${k}`);
      expect(written, `run ${k}'s own write`).toBeDefined();
      if (k % 2 === 1) expect(Buffer.from(written!).toString()).toBe(String(results[k]!.first));
    }
    // What is on disk is that same tree: tiles and size were written in commit order.
    const reopened = await TiledLog.init(new LevelLogStore(db));
    expect(reopened.size).toBe(all.length);
    expect(hex(await reopened.root())).toBe(hex(treeHash(all)));
  });

  it("stops growing at the size its cache keys can address, and proves leaves near it", async () => {
    // A store whose log already holds all but two leaves of the most it may hold: the right edge's partial tiles and bundle, zeros.
    const size0 = MAX_LOG_SIZE - 2;
    const commits: LogUpdate[] = [];
    let size = size0;
    const edge: LogStore = {
      size: async () => size,
      tiles: async (ids) => ids.map(() => Buffer.alloc(TILE_WIDTH * 32)),
      bundle: async () => undefined,
      partialTile: async (id) => ({ data: Buffer.alloc((Math.floor(size0 / TILE_WIDTH ** id.level) % TILE_WIDTH) * 32), pieces: [0] }),
      partialBundle: async () => ({ data: Buffer.concat(Array.from({ length: size0 % TILE_WIDTH }, () => bundleEntry(Buffer.alloc(1)))), pieces: [0] }),
      checkpoint: async () => undefined,
      putCheckpoint: async () => undefined,
      commit: async (u) => {
        commits.push(u);
        size = u.size;
      },
    };
    const log = await TiledLog.init(edge);
    expect(log.size).toBe(size0);
    await expect(log.append([entry(1), entry(2), entry(3)])).rejects.toMatchObject({ code: "INTERNAL" });
    expect(commits).toHaveLength(0);
    expect(log.size).toBe(size0);
    await log.append([entry(1), entry(2)]);
    expect(log.size).toBe(MAX_LOG_SIZE);
    await expect(log.append([entry(3)])).rejects.toMatchObject({ code: "INTERNAL" });
    // The newest leaf's proof walks from it to the root of the whole log.
    const last = MAX_LOG_SIZE - 1;
    const proof = await log.inclusionProof(last);
    expect(verifyInclusion(last, MAX_LOG_SIZE, leafHash(entry(2)), proof, await log.root())).toBeNull();
  });
});
