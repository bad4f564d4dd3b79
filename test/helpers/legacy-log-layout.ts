import type { NodeDatabase, WriteOp } from "../../src/store/database.js";
import { leafHash, perfectRoot } from "../../src/tlog/merkle.js";
import { bundleEntry } from "../../src/tlog/tiles.js";

/**
 * The transparency log as databases written before per-append pieces hold it
 * (frozen here on purpose, so that layout stays tested): `size`, every tile
 * under `t!<LL>!<N>` (the right edge's partial tiles whole, exactly as wide as
 * the size makes them) and every entry bundle under `e!<N>` (the partial one
 * whole). Each append rewrote the partial rows, so at any size the stored
 * keys are exactly these.
 */
export async function writeLegacyLog(db: NodeDatabase, entries: readonly Uint8Array[]): Promise<void> {
  const level = db.levels.tlog;
  const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");
  const ops: WriteOp[] = [];
  let hashes = entries.map(leafHash);
  for (let l = 0; hashes.length > 0; l++) {
    const above: Uint8Array[] = [];
    for (let n = 0; n * 256 < hashes.length; n++) {
      const row = hashes.slice(n * 256, n * 256 + 256);
      ops.push({ type: "put", sublevel: level, key: `t!${hex(l, 2)}!${hex(n, 12)}`, value: Buffer.concat(row) });
      if (row.length === 256) above.push(perfectRoot(row));
    }
    hashes = above;
  }
  for (let n = 0; n * 256 < entries.length; n++) {
    const value = Buffer.concat(entries.slice(n * 256, n * 256 + 256).map(bundleEntry));
    ops.push({ type: "put", sublevel: level, key: `e!${hex(n, 12)}`, value });
  }
  ops.push({ type: "put", sublevel: level, key: "size", value: Buffer.from(String(entries.length), "latin1") });
  await db.write(ops);
}
