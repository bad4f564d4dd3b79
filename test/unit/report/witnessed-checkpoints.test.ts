import { describe, expect, it } from "vitest";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import {
  checkWitnessed,
  mergeCosignedEntry,
  parseCosignedCheckpoints,
  COSIGNED_CHECKPOINTS_FORMAT,
  type CosignedLogEntry,
  type WitnessPolicy,
} from "../../../src/report/witnessed-checkpoints.js";
import {
  addCosignatures,
  consistencyProof,
  cosign,
  leafHash,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  signCheckpoint,
  treeHash,
  type Checkpoint,
} from "../../../src/tlog/index.js";
import { witnessVerifierKey } from "../../../src/tlog/vkey.js";

const HOLDER = "bank-b";
const signerOf = (name: string) => {
  const key = generateNodeKey();
  return { name, publicKey: key.publicKey, sign: (d: Uint8Array) => key.sign(d) };
};
const holder = signerOf(HOLDER);
const impostor = signerOf(HOLDER);
const witnesses = [signerOf("bank-a"), signerOf("bank-c"), signerOf("bank-d")];
const policy = (quorum = 2, who = witnesses): WitnessPolicy => ({
  quorum,
  witnessesOf: () => who.map((w) => parseVerifierKey(witnessVerifierKey(w.name, w.publicKey))),
});

const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
const otherLeaves = leaves.map((l, i) => (i === 3 ? leafHash(Buffer.from("rewritten")) : l));
const T0 = 1_780_000_000;

function checkpointOf(size: number, from = leaves): Checkpoint {
  return { origin: HOLDER, size, root: treeHash(from.slice(0, size)), extensions: [] };
}

/** The holder's note for `size`, cosigned by `by` at `time`. */
function cosigned(size: number, opts: { by?: typeof witnesses; time?: number; from?: typeof leaves; signer?: typeof holder } = {}): string {
  const cp = checkpointOf(size, opts.from);
  const note = signCheckpoint(cp, opts.signer ?? holder);
  const text = parseNote(note).text;
  return addCosignatures(note, (opts.by ?? witnesses.slice(0, 2)).map((w) => cosign(text, w, opts.time ?? T0)));
}

function proofEntry(oldSize: number, treeSize: number, from = leaves) {
  return { old_size: oldSize, tree_size: treeSize, hashes: consistencyProof(oldSize, from.slice(0, treeSize)).map((h) => Buffer.from(h).toString("hex")) };
}

const entry = (note: string, consistency: CosignedLogEntry["consistency"] = []): CosignedLogEntry => ({ institution_id: HOLDER, cosigned: note, consistency });
const check = (answer: Checkpoint, entries: CosignedLogEntry[], p = policy()) => checkWitnessed(HOLDER, holder.publicKey, answer, entries, p);

describe("checkWitnessed: an answer's checkpoint against the cosigned ones", () => {
  it("passes when the answer names the cosigned checkpoint itself", () => {
    const r = check(checkpointOf(20), [entry(cosigned(20))]);
    expect(r).toEqual({ state: "VERIFIED", reason: expect.stringContaining("is the checkpoint cosigned by bank-a, bank-c") });
  });

  it("passes when a consistency proof shows the answer's tree is a prefix of the cosigned one", () => {
    const r = check(checkpointOf(13), [entry(cosigned(40), [proofEntry(13, 40)])]);
    expect(r.state).toBe("VERIFIED");
    expect(r.reason).toContain("consistent with the checkpoint of size 40");
  });

  it("fails naming the holder when no cosigned checkpoint of its log is given", () => {
    const r = check(checkpointOf(13), [{ ...entry(cosigned(40)), institution_id: "bank-z" }]);
    expect(r).toEqual({ state: "FAILED", reason: "no cosigned checkpoint of bank-b's log was given" });
  });

  it("fails an unsigned checkpoint: not signed by the holder's log key", () => {
    const r = check(checkpointOf(20), [entry(cosigned(20, { signer: impostor }))]);
    expect(r.state).toBe("FAILED");
    expect(r.reason).toMatch(/^unsigned: the cosigned checkpoint is not signed by bank-b's log key/);
  });

  it("fails a tampered cosigned checkpoint (its root changed after signing)", () => {
    const note = cosigned(20);
    const tampered = note.replace(Buffer.from(checkpointOf(20).root).toString("base64"), Buffer.from(checkpointOf(21).root).toString("base64"));
    expect(tampered).not.toBe(note);
    expect(check(checkpointOf(20), [entry(tampered)]).reason).toMatch(/^unsigned:/);
  });

  it("fails a checkpoint no witness signed, and one with fewer cosignatures than the quorum", () => {
    expect(check(checkpointOf(20), [entry(cosigned(20, { by: [] }))]).reason).toBe(
      "too few cosignatures on the cosigned checkpoint (size 20): 0 of the 2 required",
    );
    expect(check(checkpointOf(20), [entry(cosigned(20, { by: witnesses.slice(0, 1) }))]).reason).toBe(
      "too few cosignatures on the cosigned checkpoint (size 20): 1 of the 2 required (by bank-a)",
    );
    // The same note passes a quorum of one.
    expect(check(checkpointOf(20), [entry(cosigned(20, { by: witnesses.slice(0, 1) }))], policy(1)).state).toBe("VERIFIED");
  });

  it("does not count a cosignature that does not verify, nor one by a key that is not a witness", () => {
    const note = cosigned(20, { by: witnesses.slice(0, 2) });
    const text = parseNote(note).text;
    // bank-c's line re-signed over another checkpoint body: right key id, wrong signature.
    const forged = cosign(parseNote(cosigned(21)).text, witnesses[1]!, T0);
    const broken = addCosignatures(note, [forged]);
    expect(check(checkpointOf(20), [entry(broken)]).reason).toBe(
      "too few cosignatures on the cosigned checkpoint (size 20): 1 of the 2 required (by bank-a); not verifying: bank-c",
    );
    const stranger = addCosignatures(signCheckpoint(checkpointOf(20), holder), [cosign(text, witnesses[0]!, T0), cosign(text, signerOf("bank-c"), T0)]);
    expect(check(checkpointOf(20), [entry(stranger)]).reason).toMatch(/1 of the 2 required \(by bank-a\)/);
  });

  it("caps the quorum at the witnesses a holder has, as the nodes do", () => {
    expect(check(checkpointOf(20), [entry(cosigned(20, { by: witnesses.slice(0, 1) }))], policy(2, witnesses.slice(0, 1))).state).toBe("VERIFIED");
    expect(check(checkpointOf(20), [entry(cosigned(20))], policy(2, [])).reason).toMatch(/no witness key/);
  });

  it("fails an answer whose checkpoint has another root than the cosigned one of the same size (equivocation)", () => {
    const r = check(checkpointOf(20, otherLeaves), [entry(cosigned(20))]);
    expect(r.state).toBe("FAILED");
    expect(r.reason).toMatch(/^inconsistent: .*two roots for size 20/);
  });

  it("fails an answer whose tree is not a prefix of the cosigned one", () => {
    // The proof is honest for the cosigned log, but the answer's log had another leaf 3.
    const r = check(checkpointOf(13, otherLeaves), [entry(cosigned(40), [proofEntry(13, 40)])]);
    expect(r.state).toBe("FAILED");
    expect(r.reason).toMatch(/^inconsistent: the answer's checkpoint \(size 13\) and the cosigned one \(size 40\): the consistency proof from 13 to 40 does not verify/);
  });

  it("fails when the consistency proof that would show it is missing", () => {
    const r = check(checkpointOf(13), [entry(cosigned(40))]);
    expect(r).toEqual({ state: "FAILED", reason: "cannot be checked: no consistency proof from size 13 to 40 was given" });
  });

  it("fails an answer beyond every cosigned checkpoint: not witnessed", () => {
    const r = check(checkpointOf(30), [entry(cosigned(20))]);
    expect(r.state).toBe("FAILED");
    expect(r.reason).toMatch(/^not witnessed: the newest cosigned checkpoint has size 20 .* below the answer's size 30/);
  });

  it("orders cosigned checkpoints by size, not by the witnesses' times: a far-future cosignature on the smaller one is no rollback", () => {
    const future = T0 + 10 * 365 * 86_400;
    const r = check(checkpointOf(13), [entry(cosigned(40, { time: T0 })), entry(cosigned(20, { time: future }), [proofEntry(13, 20), proofEntry(20, 40)])]);
    expect(r.state).toBe("VERIFIED");
    expect(r.reason).toContain("size 20");
  });

  it("fails two roots cosigned for one size (a split view), whatever the witnesses' times", () => {
    for (const [t1, t2] of [[T0, T0 + 60], [T0 + 60, T0]] as const) {
      const r = check(checkpointOf(13), [entry(cosigned(20, { time: t1 }), [proofEntry(13, 20)]), entry(cosigned(20, { time: t2, from: otherLeaves }))]);
      expect(r.state).toBe("FAILED");
      expect(r.reason).toBe("inconsistent: cosigned sizes 20 and 20: two roots for size 20 (the log equivocated)");
    }
  });

  it("checks several cosigned checkpoints against each other and uses the smallest that covers the answer", () => {
    const ok = check(checkpointOf(13), [entry(cosigned(20, { time: T0 }), [proofEntry(13, 20), proofEntry(20, 40)]), entry(cosigned(40, { time: T0 + 60 }))]);
    expect(ok.state).toBe("VERIFIED");
    expect(ok.reason).toContain("size 20");
    const forked = check(checkpointOf(13), [entry(cosigned(20, { time: T0 }), [proofEntry(13, 20)]), entry(cosigned(40, { time: T0 + 60, from: otherLeaves }), [proofEntry(20, 40, otherLeaves)])]);
    expect(forked.state).toBe("FAILED");
    expect(forked.reason).toMatch(/^inconsistent: cosigned sizes 20 and 40: the consistency proof from 20 to 40 does not verify/);
  });
});

describe("the cosigned-checkpoints file", () => {
  it("names the bad field", () => {
    expect(() => parseCosignedCheckpoints({ format: "x", logs: [] })).toThrow(/^checkpoints\.format:/);
    expect(() => parseCosignedCheckpoints({ format: COSIGNED_CHECKPOINTS_FORMAT, logs: [{ institution_id: HOLDER, cosigned: "n", consistency: [{ old_size: 1, tree_size: 2, hashes: ["zz"] }] }] })).toThrow(
      /^checkpoints\.logs\[0\]\.consistency\[0\]\.hashes\[0\]: must be 64 lowercase hex digits/,
    );
  });

  it("merges a refetch of the same note into one entry with the proofs of both", () => {
    const note = cosigned(40);
    const a = mergeCosignedEntry(undefined, entry(note, [proofEntry(13, 40)]));
    const b = mergeCosignedEntry(a, entry(note, [proofEntry(20, 40)]));
    expect(b.logs).toHaveLength(1);
    expect(b.logs[0]!.consistency.map((p) => p.old_size)).toEqual([13, 20]);
    expect(parseCosignedCheckpoints(JSON.parse(JSON.stringify(b)))).toEqual(b);
    expect(parseCheckpoint(parseNote(b.logs[0]!.cosigned).text).size).toBe(40);
    const c = mergeCosignedEntry(b, entry(cosigned(20)));
    expect(c.logs).toHaveLength(2);
  });
});
