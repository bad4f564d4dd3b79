import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logVerifierKey } from "../../src/tlog/vkey.js";
import { TestClient } from "../helpers/grpc-client.js";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";
import { cli } from "../helpers/node-process.js";
import { account, repayment } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

describe("creditmesh log checkpoint | proof | verify", () => {
  const tmp = tempDir("cm-log-cli-");
  let n: InProcessNode;
  let client: TestClient;
  let conn: string[];

  beforeAll(async () => {
    n = await startInProcessNode({ institutionId: "cli-bank", config: { tlog: { checkpointIntervalMs: 3_600_000, recordVersions: true } } });
    client = new TestClient(n.address, n.apiKey);
    conn = ["--addr", n.address, "--api-key", n.apiKey];
    await client.submitRecords([account(), repayment()]);
    await n.node.transparencyLog.publishNow();
  });
  afterAll(async () => {
    client?.close();
    await n?.stop();
    tmp.remove();
  });

  it("prints the checkpoint and proofs, and verifies them against the node's verifier key", { timeout: 120_000 }, async () => {
    const cp = await cli(["log", "checkpoint", ...conn]);
    expect(cp.code, cp.stderr).toBe(0);
    const [origin, size] = cp.stdout.split("\n");
    expect(origin).toBe("cli-bank");
    expect(Number(size)).toBe(n.node.transparencyLog.log.size);
    const oldFile = path.join(tmp.dir, "old.checkpoint");
    writeFileSync(oldFile, cp.stdout);

    const proof = await cli(["log", "proof", "--tree-size", size!, "--index", "1", ...conn]);
    expect(proof.code, proof.stderr).toBe(0);
    expect(JSON.parse(proof.stdout)).toMatchObject({ tree_size: Number(size), leaf_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });

    await client.submitRecords([repayment({ installment: 2, dueOn: "2026-03-05" })]);
    await n.node.transparencyLog.publishNow();
    const vkey = logVerifierKey("cli-bank", n.node.key.publicKey);
    const ok = await cli(["log", "verify", "--vkey", vkey, "--index", "0", "--old-checkpoint", oldFile, ...conn]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("signature OK");
    expect(ok.stdout).toContain("leaf 0");
    expect(ok.stdout).toContain(`consistent with the checkpoint of size ${size}`);

    // Another key under the same name does not open the node's checkpoint.
    const wrong = await cli(["log", "verify", "--vkey", logVerifierKey("cli-bank", new Uint8Array(32).fill(9)), ...conn]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toBe("");

    const bad = await cli(["log", "proof", "--tree-size", "x1", "--index", "0", ...conn]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("tree-size");
  });
});
