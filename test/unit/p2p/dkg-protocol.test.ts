import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { isCreditMeshError } from "../../../src/errors.js";
import { DkgStep, type DkgAnswer, type DkgRequest } from "../../../src/gen/creditmesh/v1/dkg.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import type { PeerComponents } from "../../../src/p2p/components.js";
import { DkgProtocol } from "../../../src/p2p/dkg-protocol.js";
import { RpcRemoteError } from "../../../src/p2p/rpc-client.js";
import { manifestFor } from "./net-fixture.js";

const operator = generateNodeKey();
const coordinatorKey = generateNodeKey();
const participantKey = generateNodeKey();
const outsiderKey = generateNodeKey();
const membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: coordinatorKey }, { key: participantKey }], 1));
const idOf = (key: NodeKey) => membership.byPeerId(key.peerId)!.institutionId;
const COORDINATOR = idOf(coordinatorKey);
const PARTICIPANT = idOf(participantKey);
const clock = new ManualClock("2026-03-01T00:00:00Z");
const PLAN = { body: Buffer.from("plan body"), signature: Buffer.alloc(64, 7) };
const LIMITS = { maxClockSkewMs: 60_000, maxFrameBytes: 256 * 1024, handlerTimeoutMs: 5_000 };

/** A participant that records what it was asked and answers the step it got. */
const recording = (institutionId: string, answer: (r: DkgRequest) => Partial<DkgAnswer> = () => ({})) => {
  const seen: DkgRequest[] = [];
  const senders: string[] = [];
  return {
    seen,
    senders,
    handle: async (r: DkgRequest, sender: string): Promise<DkgAnswer> => {
      seen.push(r);
      senders.push(sender);
      return { sessionId: "net/tokens/1/x", institutionId, step: r.step, round1: undefined, echo: undefined, shares: [], complaints: [], result: undefined, ...answer(r) };
    },
  };
};

const nonces = () => {
  const seen = new Set<string>();
  return { remember: async (r: string, n: string) => (seen.has(`${r}/${n}`) ? false : (seen.add(`${r}/${n}`), true)) };
};

type Handler = (body: Uint8Array, from: { peerId: string }) => Promise<Uint8Array>;

/** A member's protocol, never started: its requests go to `route`, as RpcClient would deliver them. */
const protocolOf = (key: NodeKey, participant: ReturnType<typeof recording>, route: (peerId: string, body: Uint8Array) => Promise<Uint8Array> = async () => {
  throw new Error("not sent in this test");
}) =>
  new DkgProtocol(
    {
      peer: {} as PeerComponents["peer"], rpc: { request: (peerId, _p, body) => route(peerId, body) }, membership, signer: { peerId: key.peerId, sign: (d) => key.sign(d) },
      clock, logger: silentLogger(), participant, nonces: nonces(),
    },
    { ...LIMITS, institutionId: membership.byPeerId(key.peerId)!.institutionId },
  );

/** Delivers to `handler` as the coordinator's connection, turning a refusal into the error frame RpcClient raises. */
const deliver = (handler: Handler, from: NodeKey, sent: Uint8Array[] = []) => async (_peerId: string, body: Uint8Array) => {
  sent.push(body);
  try {
    return await handler(body, { peerId: from.peerId });
  } catch (err) {
    const e = err as { code: string; message: string; field?: string };
    throw new RpcRemoteError("P2P_PROTOCOL", { code: e.code, message: e.message, field: e.field }, `peer answered ${e.code}: ${e.message}`);
  }
};

describe("/creditmesh/dkg/1.0.0", () => {
  it("a step reaches the participant with the plan, from the coordinator the connection names, and the signed answer comes back", async () => {
    const participant = recording(PARTICIPANT);
    const server = protocolOf(participantKey, participant);
    const client = protocolOf(coordinatorKey, recording(COORDINATOR), deliver((b, f) => server.handleMessage(b, f), coordinatorKey));
    const answer = await client.peers(PLAN).send(PARTICIPANT, { step: DkgStep.DKG_STEP_ECHO, round1: { commitments: [], recipientKeys: [] } }, AbortSignal.timeout(5_000));
    expect(answer.institutionId).toBe(PARTICIPANT);
    expect(participant.seen).toHaveLength(1);
    expect(participant.seen[0]!.coordinatorInstitutionId).toBe(COORDINATOR);
    // The member the connection authenticated, which the participant holds the ceremony to.
    expect(participant.senders).toEqual([COORDINATOR]);
    expect(participant.seen[0]!.step).toBe(DkgStep.DKG_STEP_ECHO);
    expect(Buffer.from(participant.seen[0]!.plan!.body)).toEqual(PLAN.body);
  });

  it("a replayed request is refused (nonce), and a peer outside the manifest is refused before anything is decoded", async () => {
    const participant = recording(PARTICIPANT);
    const server = protocolOf(participantKey, participant);
    const sent: Uint8Array[] = [];
    const client = protocolOf(coordinatorKey, recording(COORDINATOR), deliver((b, f) => server.handleMessage(b, f), coordinatorKey, sent));
    await client.peers(PLAN).send(PARTICIPANT, { step: DkgStep.DKG_STEP_ROUND1 }, AbortSignal.timeout(5_000));
    await expect(server.handleMessage(sent[0]!, { peerId: coordinatorKey.peerId })).rejects.toMatchObject({ code: "CONFLICT", field: "nonce" });
    await expect(server.handleMessage(sent[0]!, { peerId: outsiderKey.peerId })).rejects.toMatchObject({ code: "MEMBERSHIP_DENIED" });
    expect(participant.seen).toHaveLength(1);
  });

  it("a request signed by one member but relayed on another's connection is refused", async () => {
    const participant = recording(PARTICIPANT);
    const server = protocolOf(participantKey, participant);
    const sent: Uint8Array[] = [];
    const client = protocolOf(coordinatorKey, recording(COORDINATOR), deliver(async () => new Uint8Array(), coordinatorKey, sent));
    await client.peers(PLAN).send(PARTICIPANT, { step: DkgStep.DKG_STEP_ROUND1 }, AbortSignal.timeout(5_000)).catch(() => undefined);
    const err = await server.handleMessage(sent[0]!, { peerId: participantKey.peerId }).catch((e: unknown) => e);
    expect(isCreditMeshError(err, "SIGNATURE_INVALID")).toBe(true);
    expect(participant.seen).toHaveLength(0);
  });

  it("an answer for another step is not taken as this step's", async () => {
    const server = protocolOf(participantKey, recording(PARTICIPANT, () => ({ step: DkgStep.DKG_STEP_FINISH })));
    const client = protocolOf(coordinatorKey, recording(COORDINATOR), deliver((b, f) => server.handleMessage(b, f), coordinatorKey));
    await expect(client.peers(PLAN).send(PARTICIPANT, { step: DkgStep.DKG_STEP_DEAL, echoes: [] }, AbortSignal.timeout(5_000))).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("the coordinator's own part is called directly (libp2p does not dial itself)", async () => {
    const own = recording(COORDINATOR);
    const client = protocolOf(coordinatorKey, own);
    const answer = await client.peers(PLAN).send(COORDINATOR, { step: DkgStep.DKG_STEP_ROUND1 }, AbortSignal.timeout(5_000));
    expect(answer.institutionId).toBe(COORDINATOR);
    expect(own.seen).toHaveLength(1);
    expect(own.senders).toEqual([COORDINATOR]);
  });
});
