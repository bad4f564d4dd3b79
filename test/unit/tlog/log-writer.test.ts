import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeKey } from "../../../src/identity/node-key.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelLogStore } from "../../../src/store/level-log-store.js";
import type { LogStore, LogUpdate } from "../../../src/tlog/log-store.js";
import { CheckpointPublisher, LogWriter } from "../../../src/tlog/log-writer.js";
import { leafHash, verifyInclusion } from "../../../src/tlog/merkle.js";
import { TiledLog } from "../../../src/tlog/tiled-log.js";
import { tempDir } from "../../helpers/temp.js";

let tmp: ReturnType<typeof tempDir>;
let db: NodeDatabase;
let commits: number;
let fail: boolean;
let store: LogStore;
beforeEach(async () => {
  tmp = tempDir("cm-tlog-writer-");
  db = await NodeDatabase.open(tmp.dir);
  const real = new LevelLogStore(db);
  commits = 0;
  fail = false;
  store = {
    size: () => real.size(),
    tiles: (ids) => real.tiles(ids),
    bundle: (n) => real.bundle(n),
    partialTile: (id) => real.partialTile(id),
    partialBundle: (n) => real.partialBundle(n),
    checkpoint: () => real.checkpoint(),
    putCheckpoint: (n) => real.putCheckpoint(n),
    commit: (u: LogUpdate) => {
      commits++;
      return fail ? Promise.reject(new Error("disk full")) : real.commit(u);
    },
  };
});
afterEach(async () => {
  await db.close();
  tmp.remove();
});

const entries = (tag: string, n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => Buffer.from(`${tag} ${i}`));

describe("LogWriter", () => {
  it("groups concurrent adds into few synced appends, each caller's entries contiguous at the index it is given", async () => {
    const log = await TiledLog.init(store);
    const writer = new LogWriter(log);
    const adds = Array.from({ length: 50 }, (_, k) => ({ tag: `add${k}`, n: 1 + (k % 7) }));
    const firsts = await Promise.all(adds.map((a) => writer.add(entries(a.tag, a.n))));
    const total = adds.reduce((n, a) => n + a.n, 0);
    expect(log.size).toBe(total);
    expect(commits).toBeLessThan(adds.length);
    const root = await log.root();
    for (const [k, a] of adds.entries()) {
      const last = firsts[k]! + a.n - 1;
      const proof = await log.inclusionProof(last);
      expect(verifyInclusion(last, total, leafHash(Buffer.from(`${a.tag} ${a.n - 1}`)), proof, root)).toBeNull();
    }
  });

  it("never puts more than 1,000 entries in one batch unless one add holds more, and rejects only the failed batch's callers", async () => {
    const log = await TiledLog.init(store);
    const writer = new LogWriter(log);
    const big = await Promise.all([writer.add(entries("a", 600)), writer.add(entries("b", 600)), writer.add(entries("c", 1200))]);
    expect(big).toEqual([0, 600, 1200]);
    expect(commits).toBe(3);
    fail = true;
    await expect(writer.add(entries("d", 1))).rejects.toThrow("disk full");
    fail = false;
    expect(await writer.add(entries("e", 1))).toBe(2400);
  });
});

describe("CheckpointPublisher", () => {
  it("publishes only when the log grew, at the size that is on disk", async () => {
    const key = NodeKey.fromSeed(new Uint8Array(32).fill(8));
    const log = await TiledLog.init(store);
    const published: string[] = [];
    const publisher = new CheckpointPublisher(
      { origin: "bank-a", intervalMs: 60_000 },
      { log, signer: { name: "bank-a", publicKey: key.publicKey, sign: (d) => key.sign(d) }, onPublished: (n) => published.push(n) },
    );
    const first = await publisher.publishIfGrown();
    expect(first?.split("\n")[1]).toBe("0");
    expect(await publisher.publishIfGrown()).toBeUndefined();
    await log.append(entries("x", 5));
    const second = await publisher.publishIfGrown();
    expect(second?.split("\n")[1]).toBe("5");
    expect(await store.checkpoint()).toBe(second);
    expect(published).toEqual([first, second]);
    publisher.start();
    await publisher.stop();
  });
});
