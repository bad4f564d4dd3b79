import { describe, expect, it } from "vitest";
import { sizesToProve } from "../../../src/cli/commands/log-witnessed.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { checkWitnessed, mergeCosignedEntry, type CosignedCheckpoints, type CosignedLogEntry } from "../../../src/report/witnessed-checkpoints.js";
import { addCosignatures, consistencyProof, cosign, leafHash, parseNote, parseVerifierKey, signCheckpoint, treeHash, type Checkpoint } from "../../../src/tlog/index.js";
import { witnessVerifierKey } from "../../../src/tlog/vkey.js";

const signerOf = (name: string) => {
  const key = generateNodeKey();
  return { name, publicKey: key.publicKey, sign: (d: Uint8Array) => key.sign(d) };
};
const holder = signerOf("bank-b");
const witnesses = [signerOf("bank-a"), signerOf("bank-c")];
const policy = { quorum: 2, witnessesOf: () => witnesses.map((w) => parseVerifierKey(witnessVerifierKey(w.name, w.publicKey))) };
const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
const checkpointOf = (size: number): Checkpoint => ({ origin: "bank-b", size, root: treeHash(leaves.slice(0, size)), extensions: [] });

/** What one run of `log witnessed` adds: the node's cosigned checkpoint and the proofs of the sizes it is told to prove. */
function fetched(file: CosignedCheckpoints | undefined, treeSize: number, prove: number[]): CosignedCheckpoints {
  const note = signCheckpoint(checkpointOf(treeSize), holder);
  const cosigned = addCosignatures(note, witnesses.map((w) => cosign(parseNote(note).text, w, 1_900_000_000)));
  const consistency = prove.map((old) => ({
    old_size: old,
    tree_size: treeSize,
    hashes: consistencyProof(old, leaves.slice(0, treeSize)).map((h) => Buffer.from(h).toString("hex")),
  }));
  const entry: CosignedLogEntry = { institution_id: "bank-b", cosigned, consistency };
  return mergeCosignedEntry(file, entry);
}

describe("log witnessed: a second run beside an earlier one", () => {
  it("proves the earlier cosigned checkpoint against the new one, so both reports' answers verify", () => {
    const first = fetched(undefined, 20, sizesToProve([13], undefined, "bank-b", 20));
    expect(sizesToProve([30], first, "bank-b", 40)).toEqual([20, 30]);
    expect(sizesToProve([30], first, "bank-z", 40)).toEqual([30]);
    const second = fetched(first, 40, sizesToProve([30], first, "bank-b", 40));
    for (const answer of [13, 20, 30, 40]) {
      expect(checkWitnessed("bank-b", holder.publicKey, checkpointOf(answer), second.logs, policy).state).toBe("VERIFIED");
    }
    // With the answers' sizes alone, the two cosigned checkpoints could not be checked against each other.
    const answersOnly = fetched(first, 40, [30]);
    expect(checkWitnessed("bank-b", holder.publicKey, checkpointOf(30), answersOnly.logs, policy).reason).toMatch(/no consistency proof from size 20 to 40/);
  });

  it("refuses a file whose cosigned checkpoint does not parse, naming --out", () => {
    const broken: CosignedCheckpoints = { format: "creditmesh/cosigned-checkpoints/v1", logs: [{ institution_id: "bank-b", cosigned: "not a note", consistency: [] }] };
    expect(() => sizesToProve([], broken, "bank-b", 40)).toThrow(expect.objectContaining({ field: "out" }));
  });
});
