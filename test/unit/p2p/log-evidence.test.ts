import { describe, expect, it } from "vitest";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { Membership } from "../../../src/identity/manifest.js";
import { checkLogEvidence } from "../../../src/p2p/log-evidence-gossip.js";
import { signCheckpoint, signEvidence, witnessCheckpoint, parseVerifierKey, sha256, type Evidence } from "../../../src/tlog/index.js";
import { logVerifierKey } from "../../../src/tlog/vkey.js";
import { manifestFor } from "./net-fixture.js";

const signer = (name: string, key: NodeKey) => ({ name, publicKey: key.publicKey, sign: (d: Uint8Array) => key.sign(d) });

describe("gossiped log evidence is re-checked by its receiver", () => {
  const operator = generateNodeKey();
  const [logKey, witnessKey, outsider] = [generateNodeKey(), generateNodeKey(), generateNodeKey()];
  const manifest = manifestFor(operator, [{ key: logKey }, { key: witnessKey }], 1);
  const membership = new Membership(operator.publicKey, manifest);
  const idOf = (key: NodeKey): string => membership.byPeerId(key.peerId)!.institutionId;
  const [logId, witnessId] = [idOf(logKey), idOf(witnessKey)];
  const cp = (size: number, seed: string, key = logKey) => signCheckpoint({ origin: logId, size, root: sha256(Buffer.from(seed)) }, signer(logId, key));

  const found = (previous: string, next: string): Evidence => {
    const first = witnessCheckpoint({ log: parseVerifierKey(logVerifierKey(logId, logKey.publicKey)), origin: logId, last: undefined, next: previous, proof: [], witness: signer(witnessId, witnessKey), now: 1 });
    if (first.outcome !== "COSIGNED") throw new Error("first checkpoint not cosigned");
    const second = witnessCheckpoint({ log: parseVerifierKey(logVerifierKey(logId, logKey.publicKey)), origin: logId, last: first.state, next, proof: [], witness: signer(witnessId, witnessKey), now: 2 });
    if (second.outcome !== "EVIDENCE") throw new Error("no evidence");
    return second.evidence;
  };

  it("accepts an equivocation and a rollback the log signed, naming the log", () => {
    expect(checkLogEvidence(signEvidence(found(cp(5, "a"), cp(5, "b")), signer(witnessId, witnessKey), 3), membership)).toBe(logId);
    expect(checkLogEvidence(signEvidence(found(cp(5, "a"), cp(4, "b")), signer(witnessId, witnessKey), 3), membership)).toBe(logId);
  });

  it("refuses evidence signed by a non-member, a claim the checkpoints do not show, a checkpoint the log did not sign, and an edited note", () => {
    const evidence = found(cp(5, "a"), cp(5, "b"));
    expect(() => checkLogEvidence(signEvidence(evidence, signer(witnessId, outsider), 3), membership)).toThrow();
    expect(() => checkLogEvidence(signEvidence({ ...evidence, kind: "ROLLBACK" }, signer(witnessId, witnessKey), 3), membership)).toThrow(/ROLLBACK/);
    expect(() => checkLogEvidence(signEvidence({ ...evidence, kind: "INCONSISTENT" }, signer(witnessId, witnessKey), 3), membership)).toThrow(/INCONSISTENT/);
    const forged = { ...evidence, next: cp(5, "b", outsider) };
    expect(() => checkLogEvidence(signEvidence(forged, signer(witnessId, witnessKey), 3), membership)).toThrow();
    const note = signEvidence(evidence, signer(witnessId, witnessKey), 3);
    expect(() => checkLogEvidence(note.replace("EQUIVOCATION", "ROLLBACK"), membership)).toThrow();
  });
});
