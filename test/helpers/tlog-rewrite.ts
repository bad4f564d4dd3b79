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
