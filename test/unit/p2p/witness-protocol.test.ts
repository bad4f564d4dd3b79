import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { WitnessAddCheckpoint, WitnessAddCheckpointAnswer } from "../../../src/gen/creditmesh/v1/peer.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { Membership } from "../../../src/identity/manifest.js";
import { silentLogger } from "../../../src/logger.js";
import { WitnessProtocol, type WitnessComponents } from "../../../src/p2p/witness-protocol.js";
import { RateLimiter } from "../../../src/rate-limit.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelWitnessStore } from "../../../src/store/level-witness-store.js";
import { addCosignatures, consistencyProof, leafHash, signCheckpoint, treeHash, verifyCosignature } from "../../../src/tlog/index.js";
import { tempDir } from "../../helpers/temp.js";
import { manifestFor } from "./net-fixture.js";

const operator = generateNodeKey();
const [logKey, witnessKey] = [generateNodeKey(), generateNodeKey()];
const membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: logKey }, { key: witnessKey }], 1));
const idOf = (key: NodeKey): string => membership.byPeerId(key.peerId)!.institutionId;
const [logId, witnessId] = [idOf(logKey), idOf(witnessKey)];
const logSigner = { name: logId, publicKey: logKey.publicKey, sign: (d: Uint8Array) => logKey.sign(d) };

const leaves = Array.from({ length: 10 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
// The same first five entries, then others: both trees of size 10 extend the size-5 tree.
const forked = leaves.map((h, i) => (i < 5 ? h : leafHash(Buffer.from(`other ${i}`))));
const note = (from: Uint8Array[], size: number) => signCheckpoint({ origin: logId, size, root: treeHash(from.slice(0, size)) }, logSigner);
const request = (checkpoint: string, oldSize = 0, proof: Uint8Array[] = []) =>
  WitnessAddCheckpoint.encode({ oldSize: String(oldSize), proof: proof.map((p) => Buffer.from(p)), checkpoint }).finish();

let tmp: ReturnType<typeof tempDir>;
let db: NodeDatabase;
let store: LevelWitnessStore;
beforeEach(async () => {
  tmp = tempDir("cm-witness-protocol-");
  db = await NodeDatabase.open(tmp.dir);
  store = new LevelWitnessStore(db);
});
afterEach(async () => {
  await db.close();
  tmp.remove();
});

function witnessNode(extra: Partial<WitnessComponents> = {}) {
  const found: string[] = [];
  const clock = new ManualClock("2030-01-01T00:00:00Z");
  const protocol = new WitnessProtocol(
    {
      peer: {} as WitnessComponents["peer"],
      rpc: {} as WitnessComponents["rpc"],
      membership,
      clock,
      logger: silentLogger(),
      metrics: null,
      store,
      witness: { name: witnessId, publicKey: witnessKey.publicKey, sign: (d) => witnessKey.sign(d) },
      onEvidence: (_origin, n) => found.push(n),
      ...extra,
    },
    { maxFrameBytes: 64 * 1024, handlerTimeoutMs: 5_000 },
  );
  const ask = async (body: Uint8Array) => WitnessAddCheckpointAnswer.decode(await protocol.handleMessage(body, { peerId: logKey.peerId }));
  return { protocol, ask, found, clock };
}

describe("WitnessProtocol", () => {
  it("cosigns one of two roots for one size sent at once on first contact, never both", async () => {
    const w = witnessNode();
    const [a, b] = [note(leaves, 10), note(forked, 10)];
    const answers = await Promise.all([w.ask(request(a)), w.ask(request(b))]);
    expect(answers.filter((x) => x.cosignature !== "")).toHaveLength(1);
    const loser = answers.find((x) => x.cosignature === "")!;
    expect(loser.conflictSize).toBe("10");
    expect((await store.last(logId))?.note).toBe(answers[0]!.cosignature ? a : b);
  });

  it("cosigns one of two extensions of the cosigned size to one new size sent at once; the other, retried, is kept as equivocation evidence", async () => {
    const w = witnessNode();
    expect((await w.ask(request(note(leaves, 5)))).cosignature).not.toBe("");
    const answers = await Promise.all([
      w.ask(request(note(leaves, 10), 5, consistencyProof(5, leaves))),
      w.ask(request(note(forked, 10), 5, consistencyProof(5, forked))),
    ]);
    expect(answers.filter((x) => x.cosignature !== "")).toHaveLength(1);
    const lost = answers[0]!.cosignature ? note(forked, 10) : note(leaves, 10);
    expect(answers.find((x) => x.cosignature === "")!.conflictSize).toBe("10");

    const retried = await w.ask(request(lost, 10));
    expect(retried.cosignature).toBe("");
    expect(retried.evidence.split("\n")[1]).toBe("EQUIVOCATION");
    expect((await store.evidence()).map((e) => e.origin)).toEqual([logId]);
    expect(w.found).toHaveLength(1);
  });

  it("keeps and reports one piece of evidence per kind however often the log contradicts itself", async () => {
    const w = witnessNode();
    await w.ask(request(note(leaves, 10)));
    for (let i = 0; i < 20; i++) {
      const other = leaves.map((h, j) => (j === 3 ? leafHash(Buffer.from(`rewrite ${i}`)) : h));
      expect((await w.ask(request(note(other, 10), 10))).evidence).not.toBe("");
    }
    expect(await store.evidence()).toHaveLength(1);
    expect(w.found).toHaveLength(1);
  });

  it("names the key each member cosigns with, so its log can check the lines it gets back", async () => {
    const w = witnessNode();
    const checkpoint = note(leaves, 5);
    const { cosignature } = await w.ask(request(checkpoint));
    expect(verifyCosignature(addCosignatures(checkpoint, [cosignature]), w.protocol.witnessKey(witnessId)!)).toBe(1_893_456_000);
    expect(verifyCosignature(addCosignatures(checkpoint, [cosignature]), w.protocol.witnessKey(logId)!)).toBeUndefined();
    expect(w.protocol.witnessKey("not-a-member")).toBeUndefined();
  });

  it("is rate-limited per member like the other request protocols", async () => {
    const clock = new ManualClock("2030-01-01T00:00:00Z");
    const w = witnessNode({ clock, rateLimiter: new RateLimiter(1, 1, clock) });
    expect((await w.ask(request(note(leaves, 5)))).cosignature).not.toBe("");
    await expect(w.ask(request(note(leaves, 5), 5))).rejects.toMatchObject({ code: "RATE_LIMITED" });
    clock.advance(1_000);
    expect((await w.ask(request(note(leaves, 5), 5))).cosignature).not.toBe("");
  });

  it("refuses bytes that are no witness request as P2P_PROTOCOL, storing nothing", async () => {
    const w = witnessNode();
    await expect(w.ask(Uint8Array.of(0xff, 0xff, 0xff))).rejects.toMatchObject({ code: "P2P_PROTOCOL", message: "malformed witness request" });
    expect(await store.last(logId)).toBeUndefined();
  });
});
