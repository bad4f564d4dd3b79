import { EventEmitter } from "node:events";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../../src/api/auth.js";
import { createHandlers, type ApiModules } from "../../../src/api/handlers.js";
import { ManualClock } from "../../../src/clock.js";
import { NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { LeafSaltKey } from "../../../src/tlog/leaf-salt.js";
import { NodeTransparencyLog } from "../../../src/node/transparency-log.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { leafHash, parseCheckpoint, verifyConsistency, verifyInclusion } from "../../../src/tlog/index.js";
import { tempDir } from "../../helpers/temp.js";

const key = NodeKey.fromSeed(Buffer.alloc(32, 7));

function call<T>(request: T) {
  const metadata = new Metadata();
  metadata.set("authorization", "Bearer k");
  return Object.assign(new EventEmitter(), { request, metadata, getDeadline: () => Infinity, getPeer: () => "test", cancelled: false });
}

function invoke<T>(handler: unknown, request: unknown): Promise<{ err: Partial<ServiceError> | null; res?: T }> {
  return new Promise((resolve) => {
    (handler as (c: unknown, cb: (err: Partial<ServiceError> | null, res?: T) => void) => void)(call(request), (err, res) => resolve({ err, res }));
  });
}

const fromHex = (hashes: string[]): Uint8Array[] => hashes.map((h) => Buffer.from(h, "hex"));

describe("GetLogCheckpoint and GetLogProof", () => {
  const tmp = tempDir("cm-log-api-");
  let db: NodeDatabase;
  let tlog: NodeTransparencyLog;
  let handlers: ReturnType<typeof createHandlers>;
  const entries = Array.from({ length: 300 }, (_, i) => Buffer.from(`entry ${i}`));

  beforeAll(async () => {
    db = await NodeDatabase.open(tmp.dir);
    tlog = await NodeTransparencyLog.open(
      db,
      { origin: "bank-a", checkpointIntervalMs: 3_600_000, auditHeadEvery: 1 },
      { signer: { name: "bank-a", publicKey: key.publicKey, sign: (d) => key.sign(d) }, logger: silentLogger(), metrics: null, saltKey: new LeafSaltKey(new Uint8Array(32).fill(7)) },
    );
    await tlog.log.append(entries);
    await tlog.publishNow();
    const unused = {} as never;
    const m: ApiModules = {
      auth: { authenticate: () => ({ keyId: "key-1", roles: new Set(["SUBJECT_SERVICE"]) }) satisfies Principal },
      ingest: unused,
      consents: unused,
      reports: unused,
      tokenizer: unused,
      status: async () => unused,
      log: tlog.api(),
      clock: new ManualClock("2026-03-01T12:00:00Z"),
      logger: silentLogger(),
      metrics: null,
    };
    handlers = createHandlers({ maxBatchRecords: 100 }, m);
  });
  afterAll(async () => {
    await db?.close();
    tmp.remove();
  });

  it("give the published checkpoint, and refuse another member's institution id with NOT_FOUND naming the field", async () => {
    const { err, res } = await invoke<{ checkpoint: string }>(handlers.getLogCheckpoint, { institutionId: "" });
    expect(err).toBeNull();
    expect(parseCheckpoint(res!.checkpoint.slice(0, res!.checkpoint.indexOf("\n\n") + 1))).toMatchObject({ origin: "bank-a", size: 300 });
    const other = await invoke(handlers.getLogCheckpoint, { institutionId: "bank-b" });
    expect(other.err?.code).toBe(status.NOT_FOUND);
    expect(other.err?.details).toContain("institution_id");
  });

  it("give inclusion proofs that verify against the log's root, with the leaf's hash", async () => {
    const root = await tlog.log.root(300);
    for (const index of [0, 5, 255, 256, 299]) {
      const { err, res } = await invoke<{ hashes: string[]; leafHash: string }>(handlers.getLogProof, { institutionId: "bank-a", leafIndex: String(index), treeSize: "300" });
      expect(err).toBeNull();
      expect(res!.leafHash).toBe(Buffer.from(leafHash(entries[index]!)).toString("hex"));
      expect(verifyInclusion(index, 300, leafHash(entries[index]!), fromHex(res!.hashes), root)).toBeNull();
    }
  });

  it("give consistency proofs between two sizes", async () => {
    const [oldRoot, newRoot] = [await tlog.log.root(17), await tlog.log.root(300)];
    const { err, res } = await invoke<{ hashes: string[] }>(handlers.getLogProof, { institutionId: "", oldSize: "17", treeSize: "300" });
    expect(err).toBeNull();
    expect(verifyConsistency(17, 300, fromHex(res!.hashes), oldRoot, newRoot)).toBeNull();
  });

  it.each([
    [{ leafIndex: "3", treeSize: "301" }, "tree_size"],
    [{ leafIndex: "300", treeSize: "300" }, "leaf_index"],
    [{ treeSize: "300" }, "leaf_index"],
    [{ oldSize: "0", treeSize: "300" }, "old_size"],
    [{ oldSize: "301", treeSize: "300" }, "tree_size"],
    [{ leafIndex: "1", oldSize: "2", treeSize: "300" }, "old_size"],
    [{ leafIndex: "1", treeSize: "0" }, "tree_size"],
  ])("refuse %j with INVALID_ARGUMENT naming %s", async (req, field) => {
    const { err } = await invoke(handlers.getLogProof, { institutionId: "", ...req });
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toContain(field);
  });
});
