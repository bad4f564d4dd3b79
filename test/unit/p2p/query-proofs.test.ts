import { INQUIRY_PROOF_V1 } from "../../../src/report/inquiry-proof.js";
import { describe, expect, it } from "vitest";
import { HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { QueryAnswer, type QueryRequest } from "../../../src/gen/creditmesh/v1/peer.js";
import { type AnswerLogProof, HolderAnswer } from "../../../src/gen/creditmesh/v1/report.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import type { QueryProtocol } from "../../../src/p2p/query-protocol.js";
import { inclusionProof, inquiryLeaf, leafHash, sha256, signCheckpoint, treeHash } from "../../../src/tlog/index.js";
import { requesterQueryProtocol } from "../../helpers/query-requester.js";
import { manifestFor } from "./net-fixture.js";

const operator = generateNodeKey();
const [lender, honest, tampering, silent] = [generateNodeKey(), generateNodeKey(), generateNodeKey(), generateNodeKey()];
const membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: lender }, { key: honest }, { key: tampering }, { key: silent }], 1));
const idOf = (key: NodeKey) => membership.byPeerId(key.peerId)!.institutionId;

const query: QueryRequest = {
  requestId: "req-proofs-1",
  requesterInstitutionId: idOf(lender),
  subjectToken: "ab".repeat(32),
  purpose: Purpose.LOAN_ORIGINATION,
  consent: undefined,
  issuedAt: new Date(),
  nonce: Buffer.alloc(16, 7),
  asOf: "2026-03-01",
  inquiryProof: INQUIRY_PROOF_V1,
};

/** The holder's log: a few other leaves, then this query's inquiry leaf; a checkpoint at that size. */
function proofFor(holder: NodeKey, envelope: Uint8Array): AnswerLogProof {
  const entries = [...Array.from({ length: 5 }, (_, i) => Buffer.from(`earlier ${i}`)), inquiryLeaf(sha256(envelope))];
  const hashes = entries.map(leafHash);
  const name = idOf(holder);
  const checkpoint = signCheckpoint({ origin: name, size: hashes.length, root: treeHash(hashes) }, { name, publicKey: holder.publicKey, sign: (d) => holder.sign(d) });
  return {
    checkpoint,
    signedQueryHash: Buffer.from(sha256(envelope)),
    inquiry: { leafIndex: "5", hashes: inclusionProof(5, hashes).map((h) => Buffer.from(h)) },
    records: [],
  };
}

function answerOf(holder: NodeKey, logProof: AnswerLogProof | undefined): Uint8Array {
  const answer = HolderAnswer.fromPartial({
    requestId: query.requestId,
    holderInstitutionId: idOf(holder),
    requesterInstitutionId: query.requesterInstitutionId,
    subjectToken: query.subjectToken,
    asOf: query.asOf,
    status: HolderStatus.NO_DATA,
    logProof,
  });
  const bytes = HolderAnswer.encode(answer).finish();
  return QueryAnswer.encode({ signedAnswer: Buffer.from(bytes), signature: Buffer.from(holder.sign(bytes)) }).finish();
}

function requester(requireAnswerProofs: boolean): QueryProtocol {
  return requesterQueryProtocol({
    membership,
    signer: lender,
    request: async (peerId, _protocol, envelope) => {
      if (peerId === honest.peerId) return answerOf(honest, proofFor(honest, envelope));
      if (peerId === tampering.peerId) {
        const proof = proofFor(tampering, envelope);
        proof.inquiry!.hashes[1]![0] ^= 1;
        return answerOf(tampering, proof);
      }
      return answerOf(silent, undefined);
    },
    init: { requireAnswerProofs },
  });
}

describe("query protocol, requester side: answer log proofs", () => {
  it("merges an answer whose proof verifies; a tampered proof, or none where one is required, is ERROR \"proof\" with its data dropped", async () => {
    const results = await requester(true).ask(query, AbortSignal.timeout(5_000));
    const by = new Map(results.map((r) => [r.outcome.institutionId, r]));
    expect(by.get(idOf(honest))!.outcome.status).toBe(HolderStatus.NO_DATA);
    expect(by.get(idOf(honest))!.answer).toBeDefined();
    const bad = by.get(idOf(tampering))!;
    expect(bad.outcome).toMatchObject({ status: HolderStatus.ERROR, reason: expect.stringMatching(/^proof: inquiry: leaf 5 is not in the checkpoint of size 6 \(root does not match\); data dropped$/) });
    expect(bad.answer).toBeUndefined();
    expect(by.get(idOf(silent))!.outcome).toMatchObject({ status: HolderStatus.ERROR, reason: "proof: the answer carries no log proof; data dropped" });
  });

  it("accepts an answer without a proof when proofs are not required, but still checks one that is there", async () => {
    const results = await requester(false).ask(query, AbortSignal.timeout(5_000));
    const by = new Map(results.map((r) => [r.outcome.institutionId, r.outcome]));
    expect(by.get(idOf(silent))!.status).toBe(HolderStatus.NO_DATA);
    expect(by.get(idOf(honest))!.status).toBe(HolderStatus.NO_DATA);
    expect(by.get(idOf(tampering))!.status).toBe(HolderStatus.ERROR);
  });
});
