import { describe, expect, it } from "vitest";
import { HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { HolderAnswer } from "../../../src/gen/creditmesh/v1/report.js";
import { generateNodeKey, verifySignature } from "../../../src/identity/node-key.js";
import { assembleReport, type HolderResult } from "../../../src/report/assemble.js";
import { verifyReport, type VerifyOptions } from "../../../src/report/verify.js";
import type { CosignedLogEntry } from "../../../src/report/witnessed-checkpoints.js";
import {
  addCosignatures,
  consistencyProof,
  cosign,
  inclusionProof,
  inquiryLeaf,
  leafHash,
  parseNote,
  parseVerifierKey,
  sha256,
  signCheckpoint,
  treeHash,
} from "../../../src/tlog/index.js";
import { witnessVerifierKey } from "../../../src/tlog/vkey.js";
import { answer, AS_OF } from "./fixtures.js";

/**
 * A report whose only holder answered NO_DATA with a log proof (its
 * inquiry leaf at index 9 of a 10-leaf checkpoint), and the holder's log
 * growing on to 25 leaves, cosigned by the other two members.
 */
function setup() {
  const keys = new Map(["bank-a", "lender-c", "lender-e"].map((id) => [id, generateNodeKey()]));
  const signer = (id: string) => ({ name: id, publicKey: keys.get(id)!.publicKey, sign: (d: Uint8Array) => keys.get(id)!.sign(d) });
  const queryHash = sha256(Buffer.from("the signed query"));
  const leaves = [...Array.from({ length: 9 }, (_, i) => leafHash(Buffer.from(`before ${i}`))), leafHash(inquiryLeaf(queryHash))];
  for (let i = 0; i < 15; i++) leaves.push(leafHash(Buffer.from(`after ${i}`)));
  const checkpointAt = (size: number) => signCheckpoint({ origin: "lender-c", size, root: treeHash(leaves.slice(0, size)) }, signer("lender-c"));
  const signed = answer({
    holderInstitutionId: "lender-c",
    status: HolderStatus.NO_DATA,
    logProof: {
      checkpoint: checkpointAt(10),
      signedQueryHash: Buffer.from(queryHash),
      inquiry: { leafIndex: "9", hashes: inclusionProof(9, leaves.slice(0, 10)).map((h) => Buffer.from(h)) },
      records: [],
    },
  });
  const bytes = HolderAnswer.encode(signed).finish();
  const holder: HolderResult = {
    answer: signed,
    outcome: {
      institutionId: "lender-c",
      status: signed.status,
      reason: "",
      latencyMs: 3,
      tradelines: 0,
      tradelinesTotal: 0,
      peerId: "peer-lender-c",
      signedAnswer: Buffer.from(bytes),
      signature: Buffer.from(keys.get("lender-c")!.sign(bytes)),
    },
  };
  const report = assembleReport({
    reportId: "req-0001",
    requesterInstitutionId: "bank-a",
    purpose: Purpose.LOAN_ORIGINATION,
    subjectToken: "tok-subject",
    asOf: AS_OF,
    generatedAt: new Date("2026-03-31T08:00:02Z"),
    holders: [holder],
    memberNames: new Map([["lender-c", "Lender C"]]),
    audience: "LENDER",
  });
  const note = checkpointAt(25);
  const cosignedBy = (ids: string[]) => addCosignatures(note, ids.map((id) => cosign(parseNote(note).text, signer(id), 1_780_000_000)));
  const proof = { old_size: 10, tree_size: 25, hashes: consistencyProof(10, leaves).map((h) => Buffer.from(h).toString("hex")) };
  const witnesses = ["bank-a", "lender-e"].map((id) => parseVerifierKey(witnessVerifierKey(id, keys.get(id)!.publicKey)));
  const opts = (logs: CosignedLogEntry[]): VerifyOptions => ({
    memberPublicKey: (id) => keys.get(id)?.publicKey,
    verify: verifySignature,
    requireProofs: true,
    witnessed: { logs, policy: { quorum: 2, witnessesOf: () => witnesses } },
  });
  return { report, cosignedBy, proof, opts };
}

describe("verifyReport with cosigned checkpoints", () => {
  it("passes when the answer's checkpoint is a proved prefix of one both witnesses cosigned", () => {
    const { report, cosignedBy, proof, opts } = setup();
    const result = verifyReport(report, opts([{ institution_id: "lender-c", cosigned: cosignedBy(["bank-a", "lender-e"]), consistency: [proof] }]));
    expect(result.failures).toEqual([]);
    expect(result.holders[0]).toMatchObject({ institutionId: "lender-c", proof: "VERIFIED", witnessed: "VERIFIED" });
    // Without the file nothing is said about witnessing.
    expect(verifyReport(report, { ...opts([]), witnessed: undefined }).holders[0]!.witnessed).toBe("NONE");
  });

  it("fails the report naming the holder and the reason when too few witnesses cosigned", () => {
    const { report, cosignedBy, proof, opts } = setup();
    const result = verifyReport(report, opts([{ institution_id: "lender-c", cosigned: cosignedBy(["bank-a"]), consistency: [proof] }]));
    expect(result.ok).toBe(false);
    expect(result.holders[0]).toMatchObject({ state: "FAILED", witnessed: "FAILED" });
    expect(result.failures).toEqual(["holder lender-c: witnessed: too few cosignatures on the cosigned checkpoint (size 25): 1 of the 2 required (by bank-a)"]);
  });

  it("fails when the holder's log is missing from the file", () => {
    const { report, opts } = setup();
    expect(verifyReport(report, opts([])).failures).toEqual(["holder lender-c: witnessed: no cosigned checkpoint of lender-c's log was given"]);
  });
});
