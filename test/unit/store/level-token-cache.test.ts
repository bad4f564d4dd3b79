import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataCipher } from "../../../src/store/cipher.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelTokenCache } from "../../../src/store/level-token-cache.js";

let dir: string;
let db: NodeDatabase;
const cipher = new DataCipher([{ id: "k1", key: new Uint8Array(randomBytes(32)) }]);
const lookupKey = randomBytes(32);
const alice = { idTypeName: "CN_RESIDENT_ID", normalizedId: "11010519491231002X" };
const bob = { idTypeName: "UNIFIED_PHONE", normalizedId: "13800138000" };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-tcache-"));
  db = await NodeDatabase.open(dir);
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe("LevelTokenCache", () => {
  it("returns what was put, per key id, across a reopen, and stores neither the identifier nor the token in clear", async () => {
    const cache = new LevelTokenCache(db, cipher, lookupKey);
    await cache.put("key-1", [{ subject: alice, token: "aa".repeat(32) }]);
    expect(await cache.get("key-1", [alice, bob])).toEqual(["aa".repeat(32), undefined]);
    expect(await cache.get("key-2", [alice])).toEqual([undefined]);
    await db.close();
    db = await NodeDatabase.open(dir);
    expect(await new LevelTokenCache(db, cipher, lookupKey).get("key-1", [alice])).toEqual(["aa".repeat(32)]);
    // Another node's lookup key finds nothing: the keys are not a function of the identifier alone.
    expect(await new LevelTokenCache(db, cipher, randomBytes(32)).get("key-1", [alice])).toEqual([undefined]);
    // After a data-key rotation retired the sealing key, an entry is a miss, not an error.
    expect(await new LevelTokenCache(db, new DataCipher([{ id: "k2", key: new Uint8Array(randomBytes(32)) }]), lookupKey).get("key-1", [alice])).toEqual([undefined]);
    for await (const [k, v] of db.levels.tcache.iterator()) {
      expect(k).not.toContain(alice.normalizedId);
      expect(Buffer.from(v).toString("latin1")).not.toContain("aa".repeat(32));
    }
  });

  it("reads in place what the async read returns: hits, misses and entries sealed under a retired key", async () => {
    const cache = new LevelTokenCache(db, cipher, lookupKey);
    await cache.put("key-1", [{ subject: alice, token: "bb".repeat(32) }]);
    expect(cache.getSync("key-1", [bob, alice])).toEqual([undefined, "bb".repeat(32)]);
    expect(cache.getSync("key-1", [bob, alice])).toEqual(await cache.get("key-1", [bob, alice]));
    const rotated = new LevelTokenCache(db, new DataCipher([{ id: "k2", key: new Uint8Array(randomBytes(32)) }]), lookupKey);
    expect(rotated.getSync("key-1", [alice])).toEqual([undefined]);
  });
});
