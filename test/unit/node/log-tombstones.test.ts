import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecrets } from "../../../src/config/secrets.js";
import { DisputeOutcome, IdType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Dispute } from "../../../src/gen/creditmesh/v1/dispute.js";
import { accountRefFor } from "../../../src/records/ingest.js";
import { LeafKind, decodeLeaf, splitBundle } from "../../../src/tlog/index.js";
import { TestClient } from "../../helpers/grpc-client.js";
import { startInProcessNode, type InProcessNode } from "../../helpers/in-process-node.js";
import { account, repayment, residentId } from "../../helpers/records.js";

/** Every entry of the node's log, decoded, with its index. */
async function leaves(n: InProcessNode): Promise<{ kind: string; fields: Uint8Array[]; index: number; raw: Buffer }[]> {
  const log = n.node.transparencyLog.log;
  const out: { kind: string; fields: Uint8Array[]; index: number; raw: Buffer }[] = [];
  for (let bundle = 0; bundle * 256 < log.size; bundle++) {
    const width = Math.min(256, log.size - bundle * 256);
    const res = await fetch(`http://${n.node.httpAddress}/tile/entries/${String(bundle).padStart(3, "0")}${width < 256 ? `.p/${width}` : ""}`);
    splitBundle(Buffer.from(await res.arrayBuffer())).forEach((e, i) => out.push({ ...decodeLeaf(e), index: bundle * 256 + i, raw: Buffer.from(e) }));
  }
  return out;
}

const tombstones = async (n: InProcessNode) =>
  (await leaves(n))
    .filter((l) => l.kind === LeafKind.Tombstone)
    .map((l) => ({ target: Number(Buffer.from(l.fields[0]!).readBigUInt64BE()), reason: Buffer.from(l.fields[1]!).toString("ascii") }));

describe("tombstones on every path that destroys an account", () => {
  let n: InProcessNode;
  let client: TestClient;
  let refOf: (accountId: string) => string;

  beforeAll(async () => {
    n = await startInProcessNode({ institutionId: "bank-d", config: { metrics: { enabled: true, host: "127.0.0.1", port: 0 }, tlog: { checkpointIntervalMs: 3_600_000 } } });
    client = new TestClient(n.address, n.apiKey);
    const key = Buffer.from(readSecrets(path.join(n.dataDir, "secrets.json")).accountRefKey, "hex");
    refOf = (id) => accountRefFor(key, id);
  });
  afterAll(async () => {
    client?.close();
    await n?.stop();
  });

  it("an erased subject's accounts each get a SUBJECT_ERASURE tombstone naming their latest leaf, and nothing of them is in it", async () => {
    const idNumber = residentId("19770412", 31);
    await client.submitRecords([account({ accountId: "ERASE-1", idNumber }), account({ accountId: "ERASE-2", idNumber }), repayment({ accountId: "ERASE-1" })]);
    const targets = await Promise.all(["ERASE-1", "ERASE-2"].map(async (id) => (await n.node.transparencyLog.recordLeaf(refOf(id)))!.leafIndex));
    const purged = await client.unary("purgeSubject", { subject: { idType: IdType.CN_RESIDENT_ID, idNumber, name: "张伟", phone: "13800138000" }, requestRef: "ERASURE-T-1" } as never, 60_000);
    expect(purged).toMatchObject({ accounts: 2 });
    const found = (await tombstones(n)).filter((t) => t.reason === "SUBJECT_ERASURE");
    expect(found.map((t) => t.target).sort((a, b) => a - b)).toEqual([...targets].sort((a, b) => a - b));
    // The entries that opened the erased accounts' leaves are gone.
    for (const id of ["ERASE-1", "ERASE-2"]) expect(await n.node.transparencyLog.recordLeaf(refOf(id))).toBeUndefined();
    const all = await leaves(n);
    for (const l of all) {
      expect(l.raw.toString("latin1")).not.toContain(idNumber);
      expect(l.raw.toString("latin1")).not.toContain(refOf("ERASE-1"));
    }
  });

  it("an account deleted by a dispute's resolution gets a DISPUTE_DELETED tombstone", async () => {
    const idNumber = residentId("19810923", 45);
    const subject = { idType: IdType.CN_RESIDENT_ID, idNumber, name: "张伟", phone: "13800138000" };
    await client.submitRecords([account({ accountId: "DISPUTED-1", idNumber })]);
    const target = (await n.node.transparencyLog.recordLeaf(refOf("DISPUTED-1")))!.leafIndex;
    // A dispute is filed on the borrower's behalf: the node records the borrower's consent first.
    await client.unary("grantConsent", { subject, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + 365 * 86_400_000), evidenceRef: "sha256:log-tombstones-consent" } as never);
    const filed = (await client.unary("fileDispute", { subject, institutionId: "bank-d", accountRef: refOf("DISPUTED-1"), reason: "not my account" } as never)) as Dispute;
    await client.unary("resolveDispute", { disputeId: filed.disputeId, outcome: DisputeOutcome.DELETED, note: "deleted" } as never);
    expect(await tombstones(n)).toContainEqual({ target, reason: "DISPUTE_DELETED" });
    expect(await n.node.transparencyLog.recordLeaf(refOf("DISPUTED-1"))).toBeUndefined();
  });
});
