import { execFile, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeKey } from "../../src/identity/node-key.js";
import { NodeDatabase } from "../../src/store/database.js";
import { LevelLogStore } from "../../src/store/level-log-store.js";
import { createLogHttpHandler } from "../../src/tlog/http-handler.js";
import { answerLeaf, inquiryLeaf, newSalt, recordVersionLeaf, sha256 } from "../../src/tlog/leaves.js";
import { verifierKey } from "../../src/tlog/note.js";
import { TiledLog } from "../../src/tlog/tiled-log.js";
import { tempDir } from "../helpers/temp.js";

const run = promisify(execFile);
const PROGRAM = path.join(import.meta.dirname, "../interop/tlog-verify.go");
const GOPATH = "/usr/share/gocode";
const hasGo = spawnSync("go", ["version"]).status === 0;
const suffix = hasGo ? "" : " (skipped: no `go` on PATH; .ci/run installs golang-go and golang-golang-x-mod-dev)";

const hex = (hs: Uint8Array[]): string => hs.map((h) => Buffer.from(h).toString("hex")).join(",");

describe.skipIf(!hasGo)(`Go's sumdb note and tlog verify a CreditMesh log${suffix}`, () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: NodeDatabase;
  let server: Server;
  let log: TiledLog;
  let base: string;
  let binary: string;
  const key = NodeKey.fromSeed(new Uint8Array(32).fill(21));
  const vkey = verifierKey("bank-a", key.publicKey);

  const verify = (index: number, proof?: Uint8Array[], withKey = vkey) =>
    run(binary, [base, withKey, String(index), ...(proof ? [hex(proof)] : [])], { timeout: 60_000 });

  beforeAll(async () => {
    tmp = tempDir("cm-tlog-interop-");
    // Built from a copy outside the repository: GOPATH mode resolves imports from Debian's tree only.
    const src = path.join(tmp.dir, "go");
    mkdirSync(src);
    copyFileSync(PROGRAM, path.join(src, "tlog-verify.go"));
    binary = path.join(src, "tlog-verify");
    await run("go", ["build", "-o", binary, "tlog-verify.go"], {
      cwd: src,
      timeout: 300_000,
      env: {
        ...process.env,
        GO111MODULE: "off",
        GOPATH,
        GOFLAGS: "",
        GOCACHE: process.env.GOCACHE ?? path.join(tmpdir(), "creditmesh-go-cache"),
      },
    });

    db = await NodeDatabase.open(path.join(tmp.dir, "db"));
    const store = new LevelLogStore(db);
    log = await TiledLog.init(store);
    // Real leaf kinds, in batches, across several tiles and a partial edge.
    for (let batch = 0; batch < 3; batch++) {
      const entries: Uint8Array[] = [];
      for (let i = 0; i < 300; i++) {
        const n = batch * 300 + i;
        if (n % 3 === 0) {
          entries.push(
            recordVersionLeaf({
              recordKind: "account",
              subjectToken: `token-${n % 50}`,
              accountRef: `ref-${n}`,
              version: 1,
              canonicalRecord: Buffer.from(`record ${n}`),
              salt: newSalt(),
            }),
          );
        } else if (n % 3 === 1) entries.push(inquiryLeaf(sha256(Buffer.from(`query ${n}`))));
        else entries.push(answerLeaf(sha256(Buffer.from(`answer ${n}`))));
      }
      await log.append(entries);
    }
    await log.publishCheckpoint("bank-a", { name: "bank-a", publicKey: key.publicKey, sign: (d) => key.sign(d) });
    const serveLog = createLogHttpHandler(store);
    server = createServer((req, res) => {
      if (!serveLog(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 360_000);

  afterAll(async () => {
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await db?.close();
    tmp?.remove();
  });

  it("accepts the checkpoint signature, the tiles against the root, and the node's inclusion proofs", async () => {
    for (const index of [0, 255, 256, 777, 899]) {
      const { stdout } = await verify(index, await log.inclusionProof(index));
      expect(stdout.trim()).toBe(`OK bank-a size=900 leaf=${index}`);
    }
  });

  it("rejects another key, a proof for another leaf, and a changed proof hash", async () => {
    const other = NodeKey.fromSeed(new Uint8Array(32).fill(22));
    await expect(verify(10, undefined, verifierKey("bank-a", other.publicKey))).rejects.toMatchObject({
      stderr: expect.stringContaining("FAIL"),
    });
    await expect(verify(10, await log.inclusionProof(11))).rejects.toMatchObject({ stderr: expect.stringContaining("FAIL") });
    const proof = await log.inclusionProof(10);
    proof[3] = sha256(proof[3]!);
    await expect(verify(10, proof)).rejects.toMatchObject({ stderr: expect.stringContaining("FAIL") });
  });
});
