import { execFile, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicKeyFromPeerId } from "../../src/identity/node-key.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { parseCheckpoint } from "../../src/tlog/checkpoint.js";
import { logVerifierKey } from "../../src/tlog/vkey.js";
import { eventually } from "../helpers/eventually.js";
import { account, repayment } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

const run = promisify(execFile);
const PROGRAM = path.join(import.meta.dirname, "../interop/tlog-verify.go");
const hasGo = spawnSync("go", ["version"]).status === 0;
const suffix = hasGo ? "" : " (skipped: no `go` on PATH; .ci/run installs golang-go and golang-golang-x-mod-dev)";

describe.skipIf(!hasGo)(`Go's sumdb verifies a live node's log through the node's own HTTP port${suffix}`, () => {
  const tmp = tempDir("cm-tlog-live-");
  const net = new TestNetwork({ nodes: 2, metrics: true, configOverrides: { tlog: { checkpointIntervalMs: 200, recordVersions: true } } });
  let binary: string;

  beforeAll(async () => {
    const src = path.join(tmp.dir, "go");
    mkdirSync(src);
    copyFileSync(PROGRAM, path.join(src, "tlog-verify.go"));
    binary = path.join(src, "tlog-verify");
    await run("go", ["build", "-o", binary, "tlog-verify.go"], {
      cwd: src,
      timeout: 300_000,
      env: { ...process.env, GO111MODULE: "off", GOPATH: "/usr/share/gocode", GOFLAGS: "", GOCACHE: process.env.GOCACHE ?? path.join(tmpdir(), "creditmesh-go-cache") },
    });
    await net.start();
  }, 360_000);

  afterAll(async () => {
    await net.stop();
    tmp.remove();
  });

  it("accepts the checkpoint the node signed after ingest, its tiles, and the node's own inclusion proofs", { timeout: 180_000 }, async () => {
    const node = net.nodes[0]!;
    const client = net.client(node.institutionId);
    // Enough record versions to fill a tile and leave a partial edge.
    const records = Array.from({ length: 150 }, (_, i) => [account({ accountId: `ACC-${i}` }), repayment({ accountId: `ACC-${i}` })]).flat();
    await client.submitRecords(records);

    const { checkpoint } = await eventually("a checkpoint covering the ingested records", async () => {
      const res = (await client.unary("getLogCheckpoint", { institutionId: "" }, 5_000)) as { checkpoint: string };
      return res.checkpoint && parseCheckpoint(res.checkpoint.slice(0, res.checkpoint.indexOf("\n\n") + 1)).size >= 300 ? res : undefined;
    }, 30_000);
    const size = parseCheckpoint(checkpoint.slice(0, checkpoint.indexOf("\n\n") + 1)).size;
    const vkey = logVerifierKey(node.institutionId, publicKeyFromPeerId(node.peerId));
    const base = `http://127.0.0.1:${node.metricsPort!}`;

    for (const index of [0, 255, 256, size - 1]) {
      const proof = (await client.unary("getLogProof", { institutionId: node.institutionId, leafIndex: String(index), treeSize: String(size) }, 5_000)) as { hashes: string[] };
      // Nothing is appended after the ingest, so the served checkpoint is the one the proof is for.
      const { stdout } = await run(binary, [base, vkey, String(index), proof.hashes.join(",")], { timeout: 60_000 });
      expect(stdout.trim()).toBe(`OK ${node.institutionId} size=${size} leaf=${index}`);
    }

    // The other member's key does not open this node's checkpoint.
    const other = net.nodes[1]!;
    const wrong = logVerifierKey(node.institutionId, publicKeyFromPeerId(other.peerId));
    await expect(run(binary, [base, wrong, "0"], { timeout: 60_000 })).rejects.toMatchObject({ stderr: expect.stringContaining("FAIL") });
  });
});
