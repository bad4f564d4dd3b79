import { databasePath, loadConfig } from "../../src/config/load.js";
import { NodeDatabase } from "../../src/store/database.js";
import { LevelLogStore } from "../../src/store/level-log-store.js";
import { TILE_WIDTH } from "../../src/tlog/tiles.js";

/**
 * Test hook: a holder rewriting its log in place. With the node stopped,
 * replaces the hash of the last leaf where it is stored (the right-edge
 * tile's last stored part: the full tile, or the piece the last append wrote)
 * — what a holder would do to change a record version it logged — leaving
 * the size alone. Returns the size the log claims.
 */
export async function rewriteLastLeaf(configFile: string): Promise<number> {
  const db = await NodeDatabase.open(databasePath(loadConfig(configFile)));
  try {
    const size = await new LevelLogStore(db).size();
    const row = `t!00!${Math.floor((size - 1) / TILE_WIDTH).toString(16).padStart(12, "0")}`;
    // The row's own key, then its pieces in order: the last leaf's hash ends the last of them.
    const parts = await db.levels.tlog.iterator({ gte: row, lt: `${row}"` }).all();
    const [key, value] = parts[parts.length - 1]!;
    const part = Buffer.from(value);
    part[part.length - 32] = part[part.length - 32]! ^ 0xff;
    await db.write([{ type: "put", sublevel: db.levels.tlog, key, value: part }]);
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
