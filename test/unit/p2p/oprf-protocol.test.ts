import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { CreditMeshError, isCreditMeshError } from "../../../src/errors.js";
import { OprfAnswer, OprfRefusal } from "../../../src/gen/creditmesh/v1/oprf.js";
import { Signed } from "../../../src/gen/creditmesh/v1/peer.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import type { PeerComponents } from "../../../src/p2p/components.js";
import { OprfProtocol } from "../../../src/p2p/oprf-protocol.js";
import { OPRF_PROTOCOL } from "../../../src/p2p/protocols.js";
import { Committee } from "../../../src/subject/oprf/committee.js";
import { MemoryNonceGate, MemoryQuotaLedger, OprfEvaluatorService, type EvaluationAuditEntry } from "../../../src/subject/oprf/evaluator-service.js";
import { encodeElement, mulBase } from "../../../src/subject/oprf/group.js";
import { oprfInput } from "../../../src/subject/oprf/input.js";
import { splitSecret } from "../../../src/subject/oprf/shamir.js";
import { randomScalar } from "../../../src/subject/oprf/suite.js";
import { ShareEvaluator } from "../../../src/subject/oprf/threshold.js";
import { ThresholdOprfTokenizer, type SubjectKey } from "../../../src/subject/oprf/tokenizer.js";
import { evaluateDirect } from "../../../src/subject/oprf/voprf.js";
import { manifestFor } from "./net-fixture.js";

const operator = generateNodeKey();
const requesterKey = generateNodeKey();
const evaluatorKeys = [generateNodeKey(), generateNodeKey(), generateNodeKey()];
const outsiderKey = generateNodeKey();
const membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: requesterKey }, ...evaluatorKeys.map((key) => ({ key }))], 1));
const idOf = (key: NodeKey) => membership.byPeerId(key.peerId)!.institutionId;
const clock = new ManualClock("2026-03-01T00:00:00Z");
const LIMITS = { maxClockSkewMs: 60_000, maxFrameBytes: 64 * 1024, handlerTimeoutMs: 5_000 };
const subjects: SubjectKey[] = [
  { idTypeName: "CN_RESIDENT_ID", normalizedId: "11010519491231002X" },
  { idTypeName: "UNIFIED_PHONE", normalizedId: "13800138000" },
];

/** A requester and three evaluators (2 of 3) whose requests go straight to each other's handlers, as the transport would carry them. */
function network(quota = 1_000, unreachable: (peerId: string) => boolean = () => false) {
  const key = randomScalar();
  const shares = splitSecret(key, 2, 3).map((s) => new ShareEvaluator({ index: s.index, secret: s.value }));
  const committee = new Committee({
    epoch: 3, threshold: 2, publicKey: encodeElement(mulBase(key)),
    members: shares.map((s, k) => ({ institutionId: idOf(evaluatorKeys[k]), index: s.public.index, publicShare: s.public.bytes })),
  });
  const audits: EvaluationAuditEntry[] = [];
  const sent: Uint8Array[] = [];
  const protocols = new Map<string, OprfProtocol>();
  const protocolOf = (k: NodeKey, evaluator?: OprfEvaluatorService) => {
    const rpc: PeerComponents["rpc"] = {
      request: async (peerId, protocol, body, signal) => {
        expect(protocol).toBe(OPRF_PROTOCOL);
        if (unreachable(peerId)) throw new CreditMeshError("P2P_UNREACHABLE", `cannot reach peer ${peerId}`);
        sent.push(body);
        return protocols.get(peerId)!.handleMessage(body, { peerId: k.peerId }, signal ?? AbortSignal.timeout(10_000));
      },
    };
    const c = { peer: {} as PeerComponents["peer"], rpc, membership, signer: { peerId: k.peerId, sign: (d: Uint8Array) => k.sign(d) }, clock, logger: silentLogger(), evaluator };
    const p = new OprfProtocol(c, { ...LIMITS, institutionId: idOf(k), retry: { initialMs: 1, maxMs: 4 } });
    protocols.set(k.peerId, p);
    return p;
  };
  evaluatorKeys.forEach((k, i) => {
    protocolOf(k, new OprfEvaluatorService(
      { institutionId: idOf(k), networkId: "testnet", epoch: 3, dailyQuota: () => quota, operatorKey: operator.publicKey, now: () => clock.now() },
      {
        share: shares[i],
        nonces: new MemoryNonceGate(),
        quota: new MemoryQuotaLedger(),
        audit: { record: async (e) => void audits.push(e) },
      },
    ));
  });
  const requester = protocolOf(requesterKey);
  const tokenizer = new ThresholdOprfTokenizer({ committee, evaluators: requester }, { hedgeAfterMs: 60_000, deadlineMs: 60_000 });
  const expected = subjects.map((s) => Buffer.from(evaluateDirect(key, oprfInput(s))).toString("hex"));
  return { committee, requester, tokenizer, expected, audits, sent, protocols, tokens: (s: SubjectKey[]) => tokenizer.tokens(s, "ONBOARD") };
}

describe("/creditmesh/oprf/1.0.0", () => {
  it("gives the requester the tokens of the committee's key, each evaluator audited, no identifier on the wire", async () => {
    const n = network();
    expect(await n.tokenizer.tokens(subjects, "ONBOARD")).toEqual(n.expected);
    expect(n.audits.map((a) => [a.requester, a.purpose, a.count, a.outcome])).toEqual([
      [idOf(requesterKey), "ONBOARD", 2, "EVALUATED"],
      [idOf(requesterKey), "ONBOARD", 2, "EVALUATED"],
    ]);
    for (const bytes of n.sent) {
      const text = Buffer.from(bytes).toString("latin1");
      for (const s of subjects) expect(text).not.toContain(s.normalizedId);
    }
  });

  it("an evaluator asking its own share does not go through the transport, and is audited like any requester", async () => {
    const n = network();
    const self = n.protocols.get(evaluatorKeys[0].peerId)!;
    const answer = await self.evaluate(n.committee.members[0], { purpose: "LOOKUP", epoch: 3, blindedElements: [encodeElement(mulBase(randomScalar()))] }, AbortSignal.timeout(10_000));
    expect(answer.evaluatorId).toBe(idOf(evaluatorKeys[0]));
    expect(answer.evaluatedElements).toHaveLength(1);
    expect(n.sent).toEqual([]);
    expect(n.audits.map((a) => [a.requester, a.outcome])).toEqual([[idOf(evaluatorKeys[0]), "EVALUATED"]]);
  });

  it("answers a replayed request with a signed refusal, and the requester turns it into an error", async () => {
    const n = network();
    const member = n.committee.members[0];
    const blinded = [encodeElement(mulBase(randomScalar()))];
    await n.requester.evaluate(member, { purpose: "LOOKUP", epoch: 3, blindedElements: blinded }, AbortSignal.timeout(10_000));
    const answerBytes = await n.protocols.get(evaluatorKeys[0].peerId)!.handleMessage(n.sent[0], { peerId: requesterKey.peerId }, AbortSignal.timeout(10_000));
    const answer = OprfAnswer.decode(Signed.decode(answerBytes).body);
    expect(answer.refusal).toBe(OprfRefusal.OPRF_REFUSAL_REPLAYED);
    expect(answer.evaluatedElements).toEqual([]);
    expect(n.audits.at(-1)?.outcome).toBe("OPRF_REFUSAL_REPLAYED");
  });

  it("over quota the evaluator refuses and the requester sees RATE_LIMITED", async () => {
    const n = network(1);
    const err = await n.requester
      .evaluate(n.committee.members[1], { purpose: "BULK", epoch: 3, blindedElements: [encodeElement(mulBase(randomScalar())), encodeElement(mulBase(randomScalar()))] }, AbortSignal.timeout(10_000))
      .then(() => undefined, (e: unknown) => e);
    expect(isCreditMeshError(err, "RATE_LIMITED")).toBe(true);
  });

  it("a member that holds no share, or a sender that is not a member, is refused before anything is evaluated", async () => {
    const n = network();
    const nonEvaluator = n.protocols.get(requesterKey.peerId)!;
    await expect(nonEvaluator.handleMessage(new Uint8Array(), { peerId: evaluatorKeys[0].peerId }, AbortSignal.timeout(10_000))).rejects.toMatchObject({ code: "MEMBERSHIP_DENIED" });
    await n.requester.evaluate(n.committee.members[0], { purpose: "LOOKUP", epoch: 3, blindedElements: [encodeElement(mulBase(randomScalar()))] }, AbortSignal.timeout(10_000));
    const before = n.audits.length;
    await expect(n.protocols.get(evaluatorKeys[1].peerId)!.handleMessage(n.sent[0], { peerId: outsiderKey.peerId }, AbortSignal.timeout(10_000))).rejects.toMatchObject({ code: "MEMBERSHIP_DENIED" });
    // Another member's signature on the request: refused as not the sender's.
    await expect(n.protocols.get(evaluatorKeys[1].peerId)!.handleMessage(n.sent[0], { peerId: evaluatorKeys[2].peerId }, AbortSignal.timeout(10_000))).rejects.toMatchObject({ code: "SIGNATURE_INVALID" });
    expect(n.audits.length).toBe(before);
  });

  it("evaluators that cannot be reached at first (many members onboarding at once) are asked again with fresh requests, and the tokens come", async () => {
    const failures = new Map(evaluatorKeys.map((k) => [k.peerId, 3]));
    const n = network(1_000, (peerId) => {
      const left = failures.get(peerId) ?? 0;
      failures.set(peerId, left - 1);
      return left > 0;
    });
    expect(await n.tokens(subjects)).toEqual(n.expected);
    // Every request that reached an evaluator was a fresh one: no replay refusals, each audited as evaluated.
    expect(new Set(n.sent.map((b) => Buffer.from(b).toString("hex"))).size).toBe(n.sent.length);
    expect(n.audits.every((a) => a.outcome === "EVALUATED")).toBe(true);
  });

  it("an evaluator that stays unreachable fails the evaluation with P2P_UNREACHABLE once the caller's deadline passes", async () => {
    const n = network(1_000, () => true);
    const err = await n.requester
      .evaluate(n.committee.members[0], { purpose: "LOOKUP", epoch: 3, blindedElements: [encodeElement(mulBase(randomScalar()))] }, AbortSignal.timeout(50))
      .then(() => undefined, (e: unknown) => e);
    expect(isCreditMeshError(err, "P2P_UNREACHABLE")).toBe(true);
    expect(n.sent).toEqual([]);
  });
});
