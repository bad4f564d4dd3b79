import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { verifierKey, parseVerifierKey, openCheckpoint, decodeLeaf, LeafKind, splitBundle, verifyInclusion, leafHash, recordVersionLeaf } from "../../../src/tlog/index.js";
import { readSecrets } from "../../../src/config/secrets.js";
import { accountRefFor } from "../../../src/records/ingest.js";
import { LocalTokenKey } from "../../../src/subject/local-token-key.js";
import { startInProcessNode, type InProcessNode } from "../../helpers/in-process-node.js";
import { TestClient } from "../../helpers/grpc-client.js";
import { account, deletion, repayment, residentId } from "../../helpers/records.js";

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
    n = await startInProcessNode({ institutionId: "bank-t", config: { metrics: { enabled: true, host: "127.0.0.1", port: 0 }, tlog: { checkpointIntervalMs: 3_600_000 } } });
    client = new TestClient(n.address, n.apiKey);
  });
  afterAll(async () => {
    client?.close();
    await n?.stop();
  });

  it("holds a leaf per accepted record version by default, and names each account's latest one for an answer's proof", async () => {
    const secrets = readSecrets(path.join(n.dataDir, "secrets.json"));
    const ref = accountRefFor(Buffer.from(secrets.accountRefKey, "hex"), "ACC-P");
    const idNumber = residentId("19850101", 77);
    // A node alone tokenizes with its own 1-of-1 key.
    const token = new LocalTokenKey(secrets.localTokenKey!).token({ idTypeName: "CN_RESIDENT_ID", normalizedId: idNumber });
    await client.submitRecords([account({ accountId: "ACC-P", idNumber }), repayment({ accountId: "ACC-P" })]);
    const first = await n.node.transparencyLog.recordLeaf(ref);
    expect(first).toMatchObject({ version: 1 });
    await client.submitRecords([account({ accountId: "ACC-P", idNumber, creditLimit: "500000" })]);
    const latest = (await n.node.transparencyLog.recordLeaf(ref))!;
    expect(latest.version).toBe(2);
    expect(latest.leafIndex).toBeGreaterThan(first!.leafIndex);
    const all = await entries(n.node.httpAddress, n.node.transparencyLog.log.size);
    // What the holder hands out rebuilds exactly the leaf at that index, and a wrong token or version does not.
    const rebuilt = (over: { subjectToken?: string; version?: number } = {}) =>
      Buffer.from(recordVersionLeaf({ recordKind: "account", subjectToken: token, accountRef: ref, version: latest.version, canonicalHash: latest.canonicalHash, salt: latest.salt, ...over }));
    expect(rebuilt()).toEqual(Buffer.from(all[latest.leafIndex]!));
    expect(rebuilt({ subjectToken: "0".repeat(64) })).not.toEqual(Buffer.from(all[latest.leafIndex]!));
    expect(rebuilt({ version: 1 })).not.toEqual(Buffer.from(all[first!.leafIndex]!));
    // The repayment's leaf was logged with the first account version, in the same batch.
    expect(decodeLeaf(all[first!.leafIndex + 1]!).kind).toBe(LeafKind.RecordVersion);
    expect(Buffer.from(decodeLeaf(all[first!.leafIndex + 1]!).fields[0]!).toString()).toBe("repayment");
  });

  it("proves an answer's tradelines from leaf entries read ahead exactly as it does without them, reading what was not read ahead", async () => {
    const tlog = n.node.transparencyLog;
    const ref = accountRefFor(Buffer.from(readSecrets(path.join(n.dataDir, "secrets.json")).accountRefKey, "hex"), "ACC-P");
    const unlogged = "e1".repeat(32);
    const input = { inquiryIndex: 0, signedQueryHash: tlog.inquiryLeaf(new Uint8Array([1, 2, 3])).queryHash, accountRefs: [unlogged, ref] };
    const plain = (await tlog.prove(input))!;
    expect(plain.records.map((r) => [r.accountRef, r.logged])).toEqual([[unlogged, false], [ref, true]]);
    // Read ahead for the logged account only: the other is read when the proof is built.
    expect(await tlog.prove({ ...input, reads: tlog.readRecordLeaves([ref]) })).toEqual(plain);
    expect(await tlog.prove({ ...input, reads: tlog.readRecordLeaves([ref, unlogged, "0f".repeat(32)]) })).toEqual(plain);
    expect(tlog.readRecordLeaves([])).toBeUndefined();
  });

  it("holds a leaf per accepted record version once the batch is acknowledged, then a tombstone for a deletion", async () => {
    const log = n.node.transparencyLog.log;
    const before = log.size;
    await client.submitRecords([account(), repayment()]);
    expect(log.size - before).toBeGreaterThanOrEqual(2);
    await client.submitRecords([account({ creditLimit: "400000" })]);
    await client.submitRecords([deletion()]);
    expect(await n.node.transparencyLog.recordLeaf(accountRefFor(Buffer.from(readSecrets(path.join(n.dataDir, "secrets.json")).accountRefKey, "hex"), "ACC-1"))).toBeUndefined();
    const size = log.size;
    const kinds = (await entries(n.node.httpAddress, size)).map((e) => decodeLeaf(e).kind);
    const records = kinds.filter((k) => k === LeafKind.RecordVersion);
    // Three from the test before, three here.
    expect(records).toHaveLength(6);
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
