import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { Membership } from "../../../src/identity/manifest.js";
import { silentLogger } from "../../../src/logger.js";
import { checkLogEvidence, evidenceToShow, LogEvidenceGossip, type LogEvidenceGossipComponents } from "../../../src/p2p/log-evidence-gossip.js";
import type { GossipHandler, GossipValidator, GossipVerdict } from "../../../src/p2p/peer-node.js";
import { LOG_EVIDENCE_TOPIC, MAX_LOG_EVIDENCE_BYTES } from "../../../src/p2p/protocols.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelWitnessStore } from "../../../src/store/level-witness-store.js";
import { signCheckpoint, signEvidence, witnessCheckpoint, parseVerifierKey, sha256, type Evidence } from "../../../src/tlog/index.js";
import { logVerifierKey } from "../../../src/tlog/vkey.js";
import { tempDir } from "../../helpers/temp.js";
import { manifestFor } from "./net-fixture.js";

const signer = (name: string, key: NodeKey) => ({ name, publicKey: key.publicKey, sign: (d: Uint8Array) => key.sign(d) });

const operator = generateNodeKey();
const [logKey, witnessKey, otherKey, outsider] = [generateNodeKey(), generateNodeKey(), generateNodeKey(), generateNodeKey()];
const manifest = manifestFor(operator, [{ key: logKey }, { key: witnessKey }, { key: otherKey }], 1);
const membership = new Membership(operator.publicKey, manifest);
const idOf = (key: NodeKey): string => membership.byPeerId(key.peerId)!.institutionId;
const [logId, witnessId, otherId] = [idOf(logKey), idOf(witnessKey), idOf(otherKey)];
const cp = (size: number, seed: string, key = logKey) => signCheckpoint({ origin: logId, size, root: sha256(Buffer.from(seed)) }, signer(logId, key));
const equivocation: Evidence = { kind: "EQUIVOCATION", origin: logId, previous: cp(5, "a"), next: cp(5, "b"), proof: [], reason: "two roots for size 5" };
const asWitness = signer(witnessId, witnessKey);

describe("gossiped log evidence is re-checked by its receiver", () => {
  const found = (previous: string, next: string): Evidence => {
    const first = witnessCheckpoint({ log: parseVerifierKey(logVerifierKey(logId, logKey.publicKey)), origin: logId, last: undefined, next: previous, proof: [], witness: asWitness, now: 1 });
    if (first.outcome !== "COSIGNED") throw new Error("first checkpoint not cosigned");
    const second = witnessCheckpoint({ log: parseVerifierKey(logVerifierKey(logId, logKey.publicKey)), origin: logId, last: first.state, next, proof: [], witness: asWitness, now: 2 });
    if (second.outcome !== "EVIDENCE") throw new Error("no evidence");
    return second.evidence;
  };

  it("accepts an equivocation the log signed, found by another member, naming the log", () => {
    expect(checkLogEvidence(signEvidence(found(cp(5, "a"), cp(5, "b")), asWitness, 3), membership)).toBe(logId);
    expect(checkLogEvidence(signEvidence(equivocation, signer(otherId, otherKey), 3), membership)).toBe(logId);
  });

  it("refuses a rollback: two honest checkpoints (5, then 10) swapped by another member prove nothing", () => {
    const forged: Evidence = { kind: "ROLLBACK", origin: logId, previous: cp(10, "ten"), next: cp(5, "five"), proof: [], reason: "size went from 10 back to 5" };
    expect(() => checkLogEvidence(signEvidence(forged, signer(otherId, otherKey), 3), membership)).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED", field: "evidence" }));
    // Not even from the witness that really saw it: a receiver cannot tell the two apart.
    expect(() => checkLogEvidence(signEvidence(found(cp(10, "ten"), cp(5, "five")), asWitness, 3), membership)).toThrow(/ROLLBACK/);
  });

  it("refuses evidence signed by a non-member, by the accused log itself, a claim the checkpoints do not show, a checkpoint the log did not sign, and an edited note", () => {
    const evidence = found(cp(5, "a"), cp(5, "b"));
    expect(() => checkLogEvidence(signEvidence(evidence, signer(witnessId, outsider), 3), membership)).toThrow();
    expect(() => checkLogEvidence(signEvidence(evidence, signer(logId, logKey), 3), membership)).toThrow(/accused log's own institution/);
    expect(() => checkLogEvidence(signEvidence({ ...evidence, kind: "INCONSISTENT" }, asWitness, 3), membership)).toThrow(/INCONSISTENT/);
    expect(() => checkLogEvidence(signEvidence({ ...evidence, next: cp(5, "a") }, asWitness, 3), membership)).toThrow(/not shown/);
    const forged = { ...evidence, next: cp(5, "b", outsider) };
    expect(() => checkLogEvidence(signEvidence(forged, asWitness, 3), membership)).toThrow();
    const note = signEvidence(evidence, asWitness, 3);
    expect(() => checkLogEvidence(note.replace("two roots", "2 roots"), membership)).toThrow();
  });

  it("refuses a note larger than a few KiB, even a validly signed equivocation", () => {
    const big = signEvidence({ ...equivocation, reason: "x".repeat(MAX_LOG_EVIDENCE_BYTES) }, asWitness, 3);
    expect(() => checkLogEvidence(big, membership)).toThrow(/larger than/);
  });
});

describe("LogEvidenceGossip", () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: NodeDatabase;
  let store: LevelWitnessStore;
  beforeEach(async () => {
    tmp = tempDir("cm-evidence-");
    db = await NodeDatabase.open(tmp.dir);
    store = new LevelWitnessStore(db);
  });
  afterEach(async () => {
    await db.close();
    tmp.remove();
  });

  /** The topic as a peer node runs it: the validator judges each message first; only an accepted one reaches the handler. */
  function started() {
    let handler: GossipHandler | undefined;
    let validate: GossipValidator | undefined;
    const published: string[] = [];
    const peer = {
      subscribe: (topic: string, h: GossipHandler, v?: GossipValidator) => {
        expect(topic).toBe(LOG_EVIDENCE_TOPIC);
        [handler, validate] = [h, v];
        return () => undefined;
      },
      publish: async (_topic: string, data: Uint8Array) => {
        published.push(Buffer.from(data).toString("utf8"));
        return 1;
      },
    } as unknown as LogEvidenceGossipComponents["peer"];
    const gossip = new LogEvidenceGossip({ peer, membership, clock: new ManualClock(), logger: silentLogger(), store });
    gossip.start();
    const from = { peerId: otherKey.peerId };
    return {
      gossip,
      published,
      async deliver(note: string, sender = from): Promise<GossipVerdict> {
        const data = Buffer.from(note, "utf8");
        const verdict = validate ? validate(data, sender) : "accept";
        if (verdict === "accept") await handler!(data, sender);
        return verdict;
      },
      /** As if the validator had let it through. */
      async handle(note: string): Promise<void> {
        await handler!(Buffer.from(note, "utf8"), from);
      },
    };
  }

  it("stores nothing of 1,000 distinct notes a member signs about its own log, and relays none", async () => {
    const t = started();
    const self = signer(logId, logKey);
    for (let i = 0; i < 1_000; i++) {
      const note = signEvidence({ ...equivocation, next: cp(5, `b${i}`) }, self, 1_000 + i);
      expect(await t.deliver(note)).toBe("reject");
      await t.handle(note);
    }
    expect(await store.evidence()).toEqual([]);
  });

  it("stores a forged rollback nowhere and does not relay it", async () => {
    const t = started();
    const forged = signEvidence({ kind: "ROLLBACK", origin: logId, previous: cp(10, "ten"), next: cp(5, "five"), proof: [], reason: "back" }, signer(otherId, otherKey), 3);
    expect(await t.deliver(forged)).not.toBe("accept");
    await t.handle(forged);
    expect(await store.evidence()).toEqual([]);
  });

  it("keeps one entry per log and kind of 50 distinct valid notes from a witness, and relays only the first", async () => {
    const t = started();
    const verdicts: GossipVerdict[] = [];
    for (let i = 0; i < 50; i++) verdicts.push(await t.deliver(signEvidence({ ...equivocation, reason: `finding ${i}` }, asWitness, 1_000 + i)));
    expect(verdicts[0]).toBe("accept");
    expect(verdicts.slice(1).every((v) => v === "ignore")).toBe(true);
    // Even delivered past the validator, they are dropped.
    for (let i = 50; i < 60; i++) await t.handle(signEvidence({ ...equivocation, reason: `finding ${i}` }, asWitness, 1_000 + i));
    const held = await store.evidence();
    expect(held).toHaveLength(1);
    expect(held[0]!.origin).toBe(logId);
    expect(held[0]!.note).toContain("finding 0");
  });

  it("rejects a valid note published by a non-member, as the peer node does for topics without a validator", async () => {
    const t = started();
    expect(await t.deliver(signEvidence(equivocation, asWitness, 3), { peerId: outsider.peerId })).toBe("reject");
    expect(await store.evidence()).toEqual([]);
  });

  it("refuses an oversize note before relaying it", async () => {
    const t = started();
    const big = signEvidence({ ...equivocation, reason: "x".repeat(MAX_LOG_EVIDENCE_BYTES) }, asWitness, 3);
    expect(await t.deliver(big)).toBe("reject");
    await t.handle(big);
    expect(await store.evidence()).toEqual([]);
  });

  it("gossips only the kind others can check; a witness keeps its rollback finding as its own record", async () => {
    const t = started();
    await t.gossip.publish(signEvidence({ ...equivocation, kind: "ROLLBACK", next: cp(4, "c") }, asWitness, 3));
    const eq = signEvidence(equivocation, asWitness, 3);
    await t.gossip.publish(eq);
    expect(t.published).toEqual([eq]);
  });
});

describe("evidenceToShow", () => {
  it("shows this node's own findings and others' equivocations, one per log and kind, leaving out what gossip no longer takes", () => {
    const at = "2030-01-01T00:00:00.000Z";
    const row = (note: string) => ({ origin: logId, observedAt: at, note });
    const forgedRollback = row(signEvidence({ ...equivocation, kind: "ROLLBACK", next: cp(4, "c") }, signer(otherId, otherKey), 3));
    const selfSigned = row(signEvidence(equivocation, signer(logId, logKey), 3));
    const ownRollback = row(signEvidence({ ...equivocation, kind: "ROLLBACK", next: cp(4, "c") }, asWitness, 3));
    const first = row(signEvidence(equivocation, signer(otherId, otherKey), 3));
    const second = row(signEvidence(equivocation, asWitness, 4));
    expect(evidenceToShow([forgedRollback, selfSigned, ownRollback, first, second], witnessId)).toEqual([ownRollback, first]);
  });
});
