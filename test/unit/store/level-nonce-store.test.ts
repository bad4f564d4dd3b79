import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelNonceStore } from "../../../src/store/level-nonce-store.js";
import { opsOf } from "../../../src/store/write-batch.js";

let dir: string;
let db: NodeDatabase;
let store: LevelNonceStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-nonce-"));
  db = await NodeDatabase.open(dir);
  store = new LevelNonceStore(db);
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const at = (iso: string) => new Date(iso);

describe("LevelNonceStore", () => {
  it("accepts a nonce once and reports the replay, also after a reopen", async () => {
    const exp = at("2026-01-01T00:05:00Z");
    expect(await store.remember("bank-a", "n1", exp)).toBe(true);
    expect(await store.remember("bank-a", "n1", exp)).toBe(false);
    // The same nonce from another requester is a different request.
    expect(await store.remember("bank-b", "n1", exp)).toBe(true);
    await db.close();
    db = await NodeDatabase.open(dir);
    store = new LevelNonceStore(db);
    expect(await store.remember("bank-a", "n1", exp)).toBe(false);
  });

  it("lets exactly one of many concurrent calls with one nonce through", async () => {
    const exp = at("2026-01-01T00:05:00Z");
    const results = await Promise.all(Array.from({ length: 25 }, () => store.remember("bank-a", "same", exp)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const distinct = await Promise.all(Array.from({ length: 25 }, (_, i) => store.remember("bank-a", `n${i}`, exp)));
    expect(distinct.every(Boolean)).toBe(true);
  });

  it("prunes what expired at or before now, and only that", async () => {
    await store.remember("bank-a", "old1", at("2026-01-01T00:00:00.000Z"));
    await store.remember("bank-b", "old2", at("2026-01-01T00:01:00.000Z"));
    await store.remember("bank-a", "live", at("2026-01-01T00:01:00.001Z"));
    expect(await store.prune(at("2026-01-01T00:01:00.000Z"))).toBe(2);
    expect(await store.prune(at("2026-01-01T00:01:00.000Z"))).toBe(0);
    // Pruned nonces are forgotten; the live one is still a replay.
    expect(await store.remember("bank-a", "old1", at("2026-01-01T00:10:00Z"))).toBe(true);
    expect(await store.remember("bank-a", "live", at("2026-01-01T00:10:00Z"))).toBe(false);
    const keys = await db.levels.nonce.keys().all();
    expect(keys.filter((k) => k.includes("old2"))).toEqual([]);
  });

  it("prunes more than one internal batch", async () => {
    const exp = at("2026-01-01T00:00:00Z");
    await Promise.all(Array.from({ length: 2500 }, (_, i) => store.remember("bank-a", `n${i}`, exp)));
    expect(await store.prune(at("2026-01-02T00:00:00Z"))).toBe(2500);
    expect(await db.levels.nonce.keys().all()).toEqual([]);
  });

  it("claims a nonce without I/O; it counts as seen while its writes are pending and once they are committed", async () => {
    const exp = at("2026-01-01T00:05:00Z");
    const claim = store.claim("bank-a", "n1", exp);
    expect(claim).toBeDefined();
    // Not on disk yet, but reserved: a concurrent replay is refused.
    expect(await db.levels.nonce.keys().all()).toEqual([]);
    expect(store.claim("bank-a", "n1", exp)).toBeUndefined();
    // The caller commits the writes in a batch of its own.
    await db.write([...opsOf(claim!.batch), { type: "put", sublevel: db.levels.meta, key: "other", value: "x" }]);
    claim!.settled();
    expect(store.claim("bank-a", "n1", exp)).toBeUndefined();
    await db.close();
    db = await NodeDatabase.open(dir);
    store = new LevelNonceStore(db);
    expect(store.claim("bank-a", "n1", exp)).toBeUndefined();
    expect(await store.prune(at("2026-01-01T00:05:00Z"))).toBe(1);
  });

  it("frees a claim whose writes were never committed", () => {
    const exp = at("2026-01-01T00:05:00Z");
    store.claim("bank-a", "n1", exp)!.settled();
    expect(store.claim("bank-a", "n1", exp)).toBeDefined();
  });

  it("rejects nonces that would corrupt the key layout", async () => {
    await expect(store.remember("bank!a", "n", at("2026-01-01T00:00:00Z"))).rejects.toMatchObject({ field: "requester" });
    await expect(store.remember("bank-a", "", at("2026-01-01T00:00:00Z"))).rejects.toMatchObject({ field: "nonce" });
    await expect(store.remember("bank-a", "n", at("never"))).rejects.toMatchObject({ field: "expires_at" });
  });
});
