import { databasePath, loadConfig } from "../../src/config/load.js";
import { NodeDatabase } from "../../src/store/database.js";
import { LevelLogStore } from "../../src/store/level-log-store.js";
import { TILE_WIDTH } from "../../src/tlog/tiles.js";

/**
 * Test hook: a holder rewriting its log in place. With the node stopped,
 * replaces the hash of the last leaf in its right-edge tile (what a holder
 * would do to change a record version it logged), leaving the size alone.
 * Returns the size the log claims.
 */
export async function rewriteLastLeaf(configFile: string): Promise<number> {
  const db = await NodeDatabase.open(databasePath(loadConfig(configFile)));
  try {
    const size = await new LevelLogStore(db).size();
    const index = Math.floor((size - 1) / TILE_WIDTH);
    const key = `t!00!${index.toString(16).padStart(12, "0")}`;
    const tile = Buffer.from((await db.levels.tlog.get(key))!);
    const at = ((size - 1) % TILE_WIDTH) * 32;
    tile[at] = tile[at]! ^ 0xff;
    await db.write([{ type: "put", sublevel: db.levels.tlog, key, value: tile }]);
    return size;
  } finally {
    await db.close();
  }
}

/**
 * Test hook: a holder that no longer opens its record leaves honestly. With
 * the node stopped, changes the canonical hash kept in every account's
 * latest-leaf entry (`i!<account ref>` → `<index> <version> <hash hex>`), so
 * the leaves its answers open are not the ones it logged. Returns how many.
 */
export async function corruptRecordLeafEntries(configFile: string): Promise<number> {
  const db = await NodeDatabase.open(databasePath(loadConfig(configFile)));
  try {
    const entries = await db.levels.tlog.iterator({ gt: "i!", lt: "i\"" }).all();
    const changed = entries.map(([key, value]) => {
      const [index, version, hash] = Buffer.from(value).toString("latin1").split(" ") as [string, string, string];
      const flipped = (hash[0] === "0" ? "1" : "0") + hash.slice(1);
      return { type: "put" as const, sublevel: db.levels.tlog, key, value: Buffer.from(`${index} ${version} ${flipped}`, "latin1") };
    });
    await db.write(changed);
    return changed.length;
  } finally {
    await db.close();
  }
}
