import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeKey } from "../../../src/identity/node-key.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelWitnessStore } from "../../../src/store/level-witness-store.js";
import { signCheckpoint } from "../../../src/tlog/checkpoint.js";
import { consistencyProof, leafHash, treeHash } from "../../../src/tlog/merkle.js";
import { type NoteSigner, parseVerifierKey, verifierKey } from "../../../src/tlog/note.js";
import { signEvidence, witnessCheckpoint } from "../../../src/tlog/witness.js";
import { tempDir } from "../../helpers/temp.js";

function signer(name: string, seedByte: number): NoteSigner {
  const key = NodeKey.fromSeed(new Uint8Array(32).fill(seedByte));
  return { name, publicKey: key.publicKey, sign: (d) => key.sign(d) };
}
const log = signer("bank-a", 1);
const witness = signer("bank-b", 2);
const logV = parseVerifierKey(verifierKey("bank-a", log.publicKey));
const leaves = Array.from({ length: 30 }, (_, i) => leafHash(Buffer.from(`e${i}`)));
const note = (hashes: Uint8Array[], size: number) => signCheckpoint({ origin: "bank-a", size, root: treeHash(hashes.slice(0, size)) }, log);

let tmp: ReturnType<typeof tempDir>;
let db: NodeDatabase;
beforeEach(async () => {
  tmp = tempDir("cm-witness-");
  db = await NodeDatabase.open(tmp.dir);
});
afterEach(async () => {
  await db.close();
  tmp.remove();
});

describe("LevelWitnessStore", () => {
  it("remembers the last cosigned checkpoint across a restart, so a later equivocation is caught and kept", async () => {
    let store = new LevelWitnessStore(db);
    const step = async (next: string, proof: Uint8Array[] = []) =>
      witnessCheckpoint({ log: logV, origin: "bank-a", last: await store.last("bank-a"), next, proof, witness, now: 1_900_000_000 });
    const first = await step(note(leaves, 10));
    if (first.outcome !== "COSIGNED") throw new Error("expected a cosignature");
    await store.cosigned("bank-a", first.state);
    const grown = await step(note(leaves, 30), consistencyProof(10, leaves));
    if (grown.outcome !== "COSIGNED") throw new Error("expected a cosignature");
    await store.cosigned("bank-a", grown.state);

    await db.close();
    db = await NodeDatabase.open(tmp.dir);
    store = new LevelWitnessStore(db);
    expect((await store.last("bank-a"))?.size).toBe(30);
    expect(await store.last("bank-c")).toBeUndefined();

    const forged = leaves.map((h, i) => (i === 7 ? leafHash(Buffer.from("rewritten")) : h));
    const caught = await step(note(forged, 30));
    expect(caught.outcome === "EVIDENCE" && caught.evidence.kind).toBe("EQUIVOCATION");
    if (caught.outcome !== "EVIDENCE") return;
    const signed = signEvidence(caught.evidence, witness, 1_900_000_000);
    expect(await store.addEvidence("bank-a", "EQUIVOCATION", new Date(1_900_000_000_000), signed)).toBe(true);
    const kept = await store.evidence();
    expect(kept).toEqual([{ origin: "bank-a", observedAt: "2030-03-17T17:46:40.000Z", note: signed }]);
    // The cosigned state is untouched by evidence.
    expect((await store.last("bank-a"))?.note).toBe(grown.state.note);
  });

  it("refuses an origin that would break its key, naming the field", async () => {
    const store = new LevelWitnessStore(db);
    await expect(store.last("a!b")).rejects.toMatchObject({ field: "origin" });
    await expect(store.addEvidence("bank-a", "EQUIVOCATION", new Date(Number.NaN), "x")).rejects.toMatchObject({ field: "observed_at" });
    await expect(store.addEvidence("a!b", "EQUIVOCATION", new Date(0), "x")).rejects.toMatchObject({ field: "origin" });
    expect(await store.evidence()).toEqual([]);
  });

  it("keeps one piece of evidence per log and kind, however many distinct notes arrive, even at once, and across a restart", async () => {
    let store = new LevelWitnessStore(db);
    const notes = (kind: string, n: number) => Array.from({ length: n }, (_, i) => `creditmesh log evidence/v1\n${kind}\nbank-a\ntime ${i}\n`);
    const kept = await Promise.all([
      ...notes("EQUIVOCATION", 50).map((n, i) => store.addEvidence("bank-a", "EQUIVOCATION", new Date(1_900_000_000_000 + i), n)),
      ...notes("ROLLBACK", 50).map((n, i) => store.addEvidence("bank-a", "ROLLBACK", new Date(1_900_000_000_000 + i), n)),
    ]);
    expect(kept.filter(Boolean)).toHaveLength(2);
    expect(await store.addEvidence("bank-c", "EQUIVOCATION", new Date(1_900_000_000_000), "about bank-c")).toBe(true);

    await db.close();
    db = await NodeDatabase.open(tmp.dir);
    store = new LevelWitnessStore(db);
    expect(await store.addEvidence("bank-a", "EQUIVOCATION", new Date(1_900_000_001_000), "one more")).toBe(false);
    const held = await store.evidence();
    expect(held.map((e) => [e.origin, e.note.split("\n")[1]]).sort()).toEqual([["bank-a", "EQUIVOCATION"], ["bank-a", "ROLLBACK"], ["bank-c", undefined]]);
  });

  it("still reads evidence stored before one note per log and kind was kept", async () => {
    // The earlier layout: `e!<ISO time>!<seq>!<origin>` only, several of one kind possible.
    await db.levels.witness.put("e!2030-03-17T17:46:40.000Z!000000!bank-a", "first");
    await db.levels.witness.put("e!2030-03-17T17:46:40.000Z!000001!bank-a", "second");
    const store = new LevelWitnessStore(db);
    expect(await store.evidence()).toEqual([
      { origin: "bank-a", observedAt: "2030-03-17T17:46:40.000Z", note: "first" },
      { origin: "bank-a", observedAt: "2030-03-17T17:46:40.000Z", note: "second" },
    ]);
    expect(await store.addEvidence("bank-a", "EQUIVOCATION", new Date(1_900_000_001_000), "third")).toBe(true);
    expect(await store.addEvidence("bank-a", "EQUIVOCATION", new Date(1_900_000_002_000), "fourth")).toBe(false);
    expect((await store.evidence()).map((e) => e.note)).toEqual(["first", "second", "third"]);
  });
});
