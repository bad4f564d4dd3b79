import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeKey } from "../../../src/identity/node-key.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelLogStore } from "../../../src/store/level-log-store.js";
import { createLogHttpHandler } from "../../../src/tlog/http-handler.js";
import { leafHash, perfectRoot } from "../../../src/tlog/merkle.js";
import { TiledLog } from "../../../src/tlog/tiled-log.js";
import { splitBundle, tileHashes } from "../../../src/tlog/tiles.js";
import { tempDir } from "../../helpers/temp.js";

let tmp: ReturnType<typeof tempDir>;
let db: NodeDatabase;
let server: Server;
let base: string;
const entry = (i: number): Uint8Array => Buffer.from(`entry ${i}`);

beforeEach(async () => {
  tmp = tempDir("cm-tlog-http-");
  db = await NodeDatabase.open(tmp.dir);
  const store = new LevelLogStore(db);
  const log = await TiledLog.init(store);
  await log.append(Array.from({ length: 590 }, (_, i) => entry(i)));
  // One leaf at a time from there: the partial tile and bundle served are assembled from several stored pieces.
  for (let i = 590; i < 600; i++) await log.append([entry(i)]);
  const key = NodeKey.fromSeed(new Uint8Array(32).fill(5));
  await log.publishCheckpoint("bank-a", { name: "bank-a", publicKey: key.publicKey, sign: (d) => key.sign(d) });
  const serveLog = createLogHttpHandler(store);
  server = createServer((req, res) => {
    if (serveLog(req, res)) return;
    res.writeHead(418).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await db.close();
  tmp.remove();
});

const get = async (path: string, init?: RequestInit) => {
  const r = await fetch(base + path, init);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()), headers: r.headers };
};

describe("log HTTP handler", () => {
  it("serves the checkpoint, full and partial tiles and bundles at the C2SP paths", async () => {
    const cp = await get("/checkpoint");
    expect(cp.status).toBe(200);
    expect(cp.body.toString().split("\n").slice(0, 2)).toEqual(["bank-a", "600"]);

    const full = await get("/tile/0/001");
    expect(full.status).toBe(200);
    expect(full.headers.get("cache-control")).toContain("immutable");
    const hashes = tileHashes(full.body);
    expect(hashes).toHaveLength(256);
    expect(Buffer.from(hashes[0]!)).toEqual(Buffer.from(leafHash(entry(256))));

    const partial = await get("/tile/0/002.p/88");
    expect(tileHashes(partial.body)).toHaveLength(88);
    expect((await get("/tile/0/002.p/10")).body).toEqual(partial.body.subarray(0, 320));

    const level1 = await get("/tile/1/000.p/2");
    expect(Buffer.from(tileHashes(level1.body)[1]!)).toEqual(Buffer.from(perfectRoot(hashes)));

    const bundle = await get("/tile/entries/002.p/88");
    expect(splitBundle(bundle.body).map((e) => Buffer.from(e).toString())).toEqual(
      Array.from({ length: 88 }, (_, i) => `entry ${512 + i}`),
    );
    expect(splitBundle((await get("/tile/entries/000")).body)).toHaveLength(256);
  });

  it("answers 404 for tiles beyond the log or not yet full, 405 for writes, and leaves other paths alone", async () => {
    expect((await get("/tile/0/002")).status).toBe(404);
    expect((await get("/tile/0/002.p/89")).status).toBe(404);
    expect((await get("/tile/0/003.p/1")).status).toBe(404);
    expect((await get("/tile/entries/002")).status).toBe(404);
    expect((await get("/tile/0/2")).status).toBe(404);
    expect((await get("/checkpoint", { method: "POST", body: "x" })).status).toBe(405);
    expect((await get("/metrics")).status).toBe(418);
  });
});
