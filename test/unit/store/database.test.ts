import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Level } from "level";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeDatabase } from "../../../src/store/database.js";
import { openStores } from "../../../src/store/index.js";
import { SCHEMA_VERSION } from "../../../src/store/keys.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-db-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rawPut(key: string, value: string): Promise<void> {
  const raw = new Level<string, string>(dir);
  await raw.open();
  await raw.put(key, value);
  await raw.close();
}

describe("NodeDatabase", () => {
  it("stamps a new database with the schema version and reopens it", async () => {
    const db = await NodeDatabase.open(dir);
    expect(await db.levels.meta.get("schema")).toBe(String(SCHEMA_VERSION));
    await db.close();
    const again = await NodeDatabase.open(dir);
    expect(again.isOpen).toBe(true);
    await again.close();
  });

  it("refuses a database whose schema version was changed", async () => {
    const db = await NodeDatabase.open(dir);
    await db.close();
    await rawPut("!meta!schema", String(SCHEMA_VERSION + 1));
    await expect(NodeDatabase.open(dir)).rejects.toMatchObject({ code: "STORE_SCHEMA_MISMATCH" });
  });

  it("opens a database of an earlier schema it can upgrade, and raises its version only when told", async () => {
    const db = await NodeDatabase.open(dir);
    await db.close();
    await rawPut("!meta!schema", "1");
    const earlier = await NodeDatabase.open(dir);
    try {
      expect(earlier.earlierSchema).toBe(1);
      expect(await earlier.levels.meta.get("schema")).toBe("1");
      await earlier.markSchemaCurrent();
      expect(earlier.earlierSchema).toBeUndefined();
      expect(await earlier.levels.meta.get("schema")).toBe(String(SCHEMA_VERSION));
    } finally {
      await earlier.close();
    }
  });

  it("names the versions it takes when it refuses one", async () => {
    await rawPut("!meta!schema", "7");
    await expect(NodeDatabase.open(dir)).rejects.toThrow(`has schema version "7", this node needs ${SCHEMA_VERSION} (or 1, which it upgrades)`);
  });

  it("refuses a database that holds data but no schema version", async () => {
    await rawPut("!acct!deadbeef", "{}");
    await expect(NodeDatabase.open(dir)).rejects.toMatchObject({ code: "STORE_SCHEMA_MISMATCH" });
  });

  it("releases the database after a refused open, so it can be opened again", async () => {
    await rawPut("!meta!schema", "0");
    await expect(NodeDatabase.open(dir)).rejects.toMatchObject({ code: "STORE_SCHEMA_MISMATCH" });
    await rawPut("!meta!schema", String(SCHEMA_VERSION));
    const db = await NodeDatabase.open(dir);
    await db.close();
  });

  it("closes idempotently", async () => {
    const db = await NodeDatabase.open(dir);
    await Promise.all([db.close(), db.close()]);
    await db.close();
    expect(db.isOpen).toBe(false);
  });

  it("reports a database held by another handle as UNAVAILABLE", async () => {
    const db = await NodeDatabase.open(dir);
    try {
      await expect(NodeDatabase.open(dir)).rejects.toMatchObject({ code: "UNAVAILABLE" });
    } finally {
      await db.close();
    }
  });

  it("writes a multi-sublevel batch atomically and durably", async () => {
    const db = await NodeDatabase.open(dir);
    await db.write([
      { type: "put", sublevel: db.levels.acct, key: "r1", value: "a" },
      { type: "put", sublevel: db.levels.audit, key: "0001", value: new Uint8Array([1, 2, 3]) },
      { type: "put", sublevel: db.levels.nonce, key: "n!x!y", value: "z" },
    ]);
    await db.close();
    const again = await NodeDatabase.open(dir);
    expect(await again.levels.acct.get("r1")).toBe("a");
    expect([...((await again.levels.audit.get("0001")) ?? [])]).toEqual([1, 2, 3]);
    expect(await again.levels.nonce.get("n!x!y")).toBe("z");
    await again.close();
  });
});

describe("openStores", () => {
  it("builds every repository over one database and closes it", async () => {
    const stores = await openStores(dir, { dataKeys: [{ id: "k1", key: new Uint8Array(32).fill(7) }] });
    expect(await stores.records.counts()).toEqual({ accounts: 0, subjects: 0 });
    expect(stores.cipher.currentKeyId).toBe("k1");
    await stores.close();
    await stores.close();
    expect(stores.db.isOpen).toBe(false);
  });

  it("fails on a bad data key before locking the database", async () => {
    await expect(openStores(dir, { dataKeys: [{ id: "k1", key: new Uint8Array(16) }] })).rejects.toMatchObject({
      code: "CONFIG_INVALID",
    });
    const db = await NodeDatabase.open(dir);
    await db.close();
  });
});
