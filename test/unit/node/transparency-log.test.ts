import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifierKey, parseVerifierKey, openCheckpoint, decodeLeaf, LeafKind, splitBundle, verifyInclusion, leafHash } from "../../../src/tlog/index.js";
import { startInProcessNode, type InProcessNode } from "../../helpers/in-process-node.js";
import { TestClient } from "../../helpers/grpc-client.js";
import { account, deletion, repayment } from "../../helpers/records.js";

async function get(base: string, path: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(`http://${base}${path}`);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

async function entries(base: string, size: number): Promise<Uint8Array[]> {
  const { status, body } = await get(base, `/tile/entries/000${size < 256 ? `.p/${size}` : ""}`);
  expect(status).toBe(200);
  return splitBundle(body);
}

describe("the node's transparency log", () => {
  let n: InProcessNode;
  let client: TestClient;

  beforeAll(async () => {
    // A long interval: the test publishes when it wants a checkpoint.
    n = await startInProcessNode({ institutionId: "bank-t", config: { metrics: { enabled: true, host: "127.0.0.1", port: 0 }, tlog: { checkpointIntervalMs: 3_600_000, recordVersions: true } } });
    client = new TestClient(n.address, n.apiKey);
  });
  afterAll(async () => {
    client?.close();
    await n?.stop();
  });

  it("holds a leaf per accepted record version once the batch is acknowledged, then a tombstone for a deletion", async () => {
    const log = n.node.transparencyLog.log;
    const before = log.size;
    await client.submitRecords([account(), repayment()]);
    expect(log.size - before).toBeGreaterThanOrEqual(2);
    await client.submitRecords([account({ creditLimit: "400000" })]);
    await client.submitRecords([deletion()]);
    const size = log.size;
    const kinds = (await entries(n.node.httpAddress, size)).map((e) => decodeLeaf(e).kind);
    const records = kinds.filter((k) => k === LeafKind.RecordVersion);
    expect(records).toHaveLength(3);
    expect(kinds.filter((k) => k === LeafKind.Tombstone)).toHaveLength(1);
    // The tombstone names the account's latest version (the second account leaf).
    const all = await entries(n.node.httpAddress, size);
    const tomb = decodeLeaf(all.find((e) => decodeLeaf(e).kind === LeafKind.Tombstone)!);
    const target = Number(Buffer.from(tomb.fields[0]!).readBigUInt64BE());
    const accountLeaves = all.map((e, i) => ({ d: decodeLeaf(e), i })).filter(({ d }) => d.kind === LeafKind.RecordVersion && Buffer.from(d.fields[0]!).toString() === "account");
    expect(target).toBe(accountLeaves.at(-1)!.i);
    expect(Buffer.from(accountLeaves.at(-1)!.d.fields[1]!).readBigUInt64BE()).toBe(2n);
    // No leaf carries the record's readable content.
    for (const e of all) expect(Buffer.from(e).toString("latin1")).not.toContain("ACC-1");
  });

  it("serves a signed checkpoint over the metrics HTTP port that covers every leaf and proves inclusion", async () => {
    await n.node.transparencyLog.publishNow();
    const { status, body } = await get(n.node.httpAddress, "/checkpoint");
    expect(status).toBe(200);
    const verifier = parseVerifierKey(verifierKey("bank-t", n.node.key.publicKey));
    const { checkpoint } = openCheckpoint(body.toString("utf8"), verifier, "bank-t");
    const log = n.node.transparencyLog.log;
    expect(checkpoint.size).toBe(log.size);
    const all = await entries(n.node.httpAddress, checkpoint.size);
    const proof = await log.inclusionProof(0, checkpoint.size);
    expect(verifyInclusion(0, checkpoint.size, leafHash(all[0]!), proof, checkpoint.root)).toBeNull();
    // The metrics path is still served beside the log's.
    expect((await get(n.node.httpAddress, "/metrics")).body.toString()).toContain("creditmesh_log_leaves_total");
  });
});
