import { describe, expect, it } from "vitest";
import { NodeKey } from "../../../src/identity/node-key.js";
import { signCheckpoint } from "../../../src/tlog/checkpoint.js";
import { addCosignatures, verifyCosignature } from "../../../src/tlog/cosignature.js";
import { consistencyProof, leafHash, treeHash } from "../../../src/tlog/merkle.js";
import { type NoteSigner, SIG_COSIGNATURE_V1, openNote, parseVerifierKey, verifierKey } from "../../../src/tlog/note.js";
import { checkEvidence, signEvidence, witnessCheckpoint, type WitnessedCheckpoint } from "../../../src/tlog/witness.js";

function signer(name: string, seedByte: number): NoteSigner {
  const key = NodeKey.fromSeed(new Uint8Array(32).fill(seedByte));
  return { name, publicKey: key.publicKey, sign: (d) => key.sign(d) };
}

const log = signer("bank-a", 1);
const witness = signer("bank-b", 2);
const logV = parseVerifierKey(verifierKey("bank-a", log.publicKey));
const witnessV = parseVerifierKey(verifierKey("bank-b", witness.publicKey, SIG_COSIGNATURE_V1));
const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
const forged = leaves.map((h, i) => (i === 3 ? leafHash(Buffer.from("rewritten")) : h));

const note = (hashes: Uint8Array[], size: number): string =>
  signCheckpoint({ origin: "bank-a", size, root: treeHash(hashes.slice(0, size)) }, log);
const state = (hashes: Uint8Array[], size: number): WitnessedCheckpoint => ({
  note: note(hashes, size),
  size,
  root: treeHash(hashes.slice(0, size)),
});
const step = (last: WitnessedCheckpoint | undefined, next: string, proof: Uint8Array[] = []) =>
  witnessCheckpoint({ log: logV, origin: "bank-a", last, next, proof, witness, now: 1_800_000_000 });

describe("witness", () => {
  it("cosigns the first checkpoint it sees and each consistent extension", () => {
    const first = step(undefined, note(leaves, 10));
    expect(first.outcome).toBe("COSIGNED");
    if (first.outcome !== "COSIGNED") return;
    expect(verifyCosignature(addCosignatures(first.state.note, [first.cosignature]), witnessV)).toBe(1_800_000_000);
    const next = step(first.state, note(leaves, 40), consistencyProof(10, leaves));
    expect(next.outcome).toBe("COSIGNED");
    if (next.outcome === "COSIGNED") expect(next.state.size).toBe(40);
    expect(step(state(leaves, 40), note(leaves, 40)).outcome).toBe("COSIGNED");
  });

  it("records an equivocation for two roots of one size", () => {
    const out = step(state(leaves, 20), note(forged, 20));
    expect(out.outcome).toBe("EVIDENCE");
    if (out.outcome !== "EVIDENCE") return;
    expect(out.evidence.kind).toBe("EQUIVOCATION");
    expect(checkEvidence(out.evidence, logV)).toBe(true);
  });

  it("records a rollback when the size goes backwards, which only this witness can vouch for", () => {
    const out = step(state(leaves, 20), note(leaves, 12));
    expect(out.outcome === "EVIDENCE" && out.evidence.kind).toBe("ROLLBACK");
    if (out.outcome !== "EVIDENCE") return;
    // The two notes alone read the same swapped: a receiver cannot tell a rollback from an honest log.
    expect(checkEvidence(out.evidence, logV)).toBe(false);
    expect(checkEvidence({ ...out.evidence, previous: out.evidence.next, next: out.evidence.previous }, logV)).toBe(false);
  });

  it("records a consistency failure for a rewritten history, whatever proof the log offers", () => {
    // The log rewrote leaf 3 and grew: neither its honest-looking proof nor the old one links the roots.
    for (const proof of [consistencyProof(20, forged), consistencyProof(20, leaves), []]) {
      const out = step(state(leaves, 20), note(forged, 40), proof);
      expect(out.outcome).toBe("EVIDENCE");
      if (out.outcome !== "EVIDENCE") continue;
      expect(out.evidence.kind).toBe("INCONSISTENT");
      expect(checkEvidence(out.evidence, logV)).toBe(true);
    }
  });

  it("refuses a checkpoint the log did not sign, and evidence that does not hold", () => {
    const other = signer("bank-a", 9);
    const fake = signCheckpoint({ origin: "bank-a", size: 20, root: treeHash(forged.slice(0, 20)) }, other);
    expect(() => step(state(leaves, 20), fake)).toThrow(expect.objectContaining({ code: "SIGNATURE_INVALID" }));
    const a = note(leaves, 20);
    expect(checkEvidence({ kind: "EQUIVOCATION", origin: "bank-a", previous: a, next: a, proof: [], reason: "" }, logV)).toBe(false);
    expect(checkEvidence({ kind: "EQUIVOCATION", origin: "bank-a", previous: a, next: fake, proof: [], reason: "" }, logV)).toBe(false);
  });

  it("signs evidence as a note of the witness that holds both of the log's notes", () => {
    const out = step(state(leaves, 20), note(forged, 20));
    if (out.outcome !== "EVIDENCE") throw new Error("expected evidence");
    const signed = signEvidence(out.evidence, witness, 1_800_000_001);
    const opened = openNote(signed, parseVerifierKey(verifierKey("bank-b", witness.publicKey)));
    const lines = opened.text.split("\n");
    expect(lines.slice(0, 4)).toEqual(["creditmesh log evidence/v1", "EQUIVOCATION", "bank-a", "time 1800000001"]);
    expect(Buffer.from(lines[4]!, "base64").toString("utf8")).toBe(out.evidence.previous);
  });
});
