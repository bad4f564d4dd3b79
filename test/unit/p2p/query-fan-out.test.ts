import { INQUIRY_PROOF_V1 } from "../../../src/report/inquiry-proof.js";
import { describe, expect, it } from "vitest";
import { CreditMeshError } from "../../../src/errors.js";
import { HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { QueryAnswer, QueryRequest } from "../../../src/gen/creditmesh/v1/peer.js";
import { HolderAnswer } from "../../../src/gen/creditmesh/v1/report.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { createMetrics } from "../../../src/metrics.js";
import { requesterQueryProtocol } from "../../helpers/query-requester.js";
import { manifestFor } from "./net-fixture.js";

const operator = generateNodeKey();
const [lender, answering, down, forging] = [generateNodeKey(), generateNodeKey(), generateNodeKey(), generateNodeKey()];
const membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: lender }, { key: answering }, { key: down }, { key: forging }], 1));
const idOf = (key: NodeKey) => membership.byPeerId(key.peerId)!.institutionId;

const query: QueryRequest = {
  requestId: "req-metrics-1",
  requesterInstitutionId: idOf(lender),
  subjectToken: "ab".repeat(32),
  purpose: Purpose.LOAN_ORIGINATION,
  consent: undefined,
  issuedAt: new Date(),
  nonce: Buffer.alloc(16, 1),
  asOf: "2026-03-01",
  inquiryProof: INQUIRY_PROOF_V1,
};

function answerOf(holder: NodeKey, signer: NodeKey): Uint8Array {
  const answer = HolderAnswer.fromPartial({
    requestId: query.requestId,
    holderInstitutionId: idOf(holder),
    requesterInstitutionId: query.requesterInstitutionId,
    subjectToken: query.subjectToken,
    asOf: query.asOf,
    status: HolderStatus.NO_DATA,
  });
  const bytes = HolderAnswer.encode(answer).finish();
  return QueryAnswer.encode({ signedAnswer: Buffer.from(bytes), signature: Buffer.from(signer.sign(bytes)) }).finish();
}

const metrics = createMetrics({ processMetrics: false });

async function observations(holder: string): Promise<Record<string, number>> {
  const metric = await metrics.holderLatency.get();
  const counts: Record<string, number> = {};
  for (const v of metric.values as { labels: Record<string, string | number>; value: number; metricName?: string }[]) {
    if (v.labels.holder === holder && v.metricName === "creditmesh_holder_answer_seconds_count") counts[String(v.labels.status)] = v.value;
  }
  return counts;
}

describe("query protocol, requester side (ask)", () => {
  it("one outcome per member, a forged answer is ERROR, and each is timed per member in creditmesh_holder_answer_seconds", async () => {
    const before = await Promise.all([answering, down, forging].map((k) => observations(idOf(k))));
    const holders = requesterQueryProtocol({
      membership,
      signer: lender,
      metrics,
      request: async (peerId) => {
        if (peerId === answering.peerId) return answerOf(answering, answering);
        if (peerId === forging.peerId) return answerOf(forging, down);
        throw new CreditMeshError("P2P_UNREACHABLE", "no connection");
      },
    });
    const results = await holders.ask(query, new AbortController().signal);
    expect(results.map((r) => [r.outcome.institutionId, HolderStatus[r.outcome.status]])).toEqual([
      [idOf(answering), "NO_DATA"],
      [idOf(down), "UNREACHABLE"],
      [idOf(forging), "ERROR"],
    ]);
    const after = await Promise.all([answering, down, forging].map((k) => observations(idOf(k))));
    const added = (i: number, status: string) => (after[i]![status] ?? 0) - (before[i]![status] ?? 0);
    expect([added(0, "NO_DATA"), added(1, "UNREACHABLE"), added(2, "ERROR")]).toEqual([1, 1, 1]);
  });
});
