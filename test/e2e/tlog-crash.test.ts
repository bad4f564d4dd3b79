import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NodeDatabase } from "../../src/store/database.js";
import { LevelLogStore } from "../../src/store/level-log-store.js";
import { leafHash, treeHash, verifyInclusion } from "../../src/tlog/merkle.js";
import { TiledLog } from "../../src/tlog/tiled-log.js";
import { tempDir } from "../helpers/temp.js";

const APPENDER = path.join(import.meta.dirname, "../helpers/tlog-appender.ts");
const entry = (i: number): Buffer => Buffer.from(`entry ${i}`);

describe("transparency log crash safety (child process, SIGKILL)", () => {
  const tmp = tempDir("cm-tlog-crash-");
  afterAll(() => tmp.remove());

  it("keeps every append that resolved and no partial one, and goes on appending after SIGKILL", { timeout: 180_000 }, async () => {
    const dir = path.join(tmp.dir, "db");
    // 300 per batch: appends end mid-tile and mid-bundle, so the partial edge is what must survive.
    const child = spawn(process.execPath, ["--import", "tsx", APPENDER, dir, "300"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    let committed = 0;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      let buffer = "";
      child.stdout.on("data", (d: Buffer) => {
        buffer += d.toString();
        for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
          const m = /^committed (\d+)$/.exec(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
          if (m) committed = Number(m[1]);
          if (committed >= 20_000 && child.exitCode === null) {
            child.kill("SIGKILL");
            resolve();
          }
        }
      });
      void exited.then(() => (committed >= 20_000 ? resolve() : reject(new Error(`appender exited early: ${stderr}`))));
    });
    await exited;

    const db = await NodeDatabase.open(dir);
    try {
      const log = await TiledLog.init(new LevelLogStore(db));
      // Whatever was in flight either landed whole or not at all.
      expect(log.size).toBeGreaterThanOrEqual(committed);
      expect(log.size % 300).toBe(0);
      const hashes = Array.from({ length: log.size + 300 }, (_, i) => leafHash(entry(i)));
      const root = await log.root();
      expect(Buffer.from(root).toString("hex")).toBe(Buffer.from(treeHash(hashes.slice(0, log.size))).toString("hex"));
      const last = log.size - 1;
      expect(verifyInclusion(last, log.size, hashes[last]!, await log.inclusionProof(last), root)).toBeNull();

      const before = log.size;
      await log.append(Array.from({ length: 300 }, (_, i) => entry(before + i)));
      expect(Buffer.from(await log.root()).toString("hex")).toBe(Buffer.from(treeHash(hashes.slice(0, before + 300))).toString("hex"));
    } finally {
      await db.close();
    }
  });
});
