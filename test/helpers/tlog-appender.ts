/**
 * A child process for the log's crash test: appends entries `entry <i>` to
 * the log in the database at argv[2] in batches of argv[3], printing
 * `committed <size>` once each append has resolved, until it is killed.
 */
import { NodeDatabase } from "../../src/store/database.js";
import { LevelLogStore } from "../../src/store/level-log-store.js";
import { TiledLog } from "../../src/tlog/tiled-log.js";

const [dir, batchArg] = process.argv.slice(2);
const batch = Number(batchArg);
const db = await NodeDatabase.open(dir!);
const log = await TiledLog.init(new LevelLogStore(db));
for (;;) {
  const start = log.size;
  const { size } = await log.append(Array.from({ length: batch }, (_, i) => Buffer.from(`entry ${start + i}`)));
  process.stdout.write(`committed ${size}\n`);
}
