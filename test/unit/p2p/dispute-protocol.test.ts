import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import type { DisputeReceiver } from "../../../src/disputes/service.js";
import { CreditMeshError, isCreditMeshError } from "../../../src/errors.js";
import { DisputeOutcome, DisputeStatus } from "../../../src/gen/creditmesh/v1/common.js";
import { Dispute } from "../../../src/gen/creditmesh/v1/dispute.js";
import { DisputeStatusRequest, Signed } from "../../../src/gen/creditmesh/v1/peer.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, verifyByPeerId, type NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import type { PeerComponents } from "../../../src/p2p/components.js";
import { DisputeProtocol } from "../../../src/p2p/dispute-protocol.js";
import { DisputeStatusProtocol } from "../../../src/p2p/dispute-status-protocol.js";
import { DISPUTE_PROTOCOL } from "../../../src/p2p/protocols.js";
import { RpcRemoteError } from "../../../src/p2p/rpc-client.js";
import { decodeErrorPayload, encodeErrorPayload } from "../../../src/p2p/rpc-frame.js";
import { manifestFor } from "./net-fixture.js";

const operator = generateNodeKey();
const filerKey = generateNodeKey();
const holderKey = generateNodeKey();
const otherKey = generateNodeKey();
const outsiderKey = generateNodeKey();
const membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: filerKey }, { key: holderKey }, { key: otherKey }], 1));
const idOf = (key: NodeKey) => membership.byPeerId(key.peerId)!.institutionId;
const FILER = idOf(filerKey);
const HOLDER = idOf(holderKey);
const clock = new ManualClock("2026-03-01T00:00:00Z");

const filing = (over: Partial<Dispute> = {}): Dispute => ({
  disputeId: "5b0f3c1e-2f7d-4c55-9d0a-1f2e3d4c5b6a",
  subjectToken: "ab".repeat(32),
  institutionId: HOLDER,
  accountRef: "0123456789abcdef0123456789abcdef",
  reason: "never late",
  status: DisputeStatus.OPEN,
  outcome: DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED,
  note: "",
  filedAt: clock.now(),
  respondBy: undefined,
  resolvedAt: undefined,
  filedViaInstitutionId: FILER,
  ...over,
});

/** The holder's receiver: stores nothing, answers as a holder would (OPEN, 30 days; status: resolved, to the filer only). */
const accepting = (): DisputeReceiver & { calls: [Dispute, string][]; statusCalls: [string, string][] } => {
  const calls: [Dispute, string][] = [];
  const statusCalls: [string, string][] = [];
  return {
    calls,
    statusCalls,
    receive: async (d, from) => {
      calls.push([d, from]);
      return { ...d, respondBy: new Date(d.filedAt!.getTime() + 30 * 86_400_000) };
    },
    statusFor: async (id, from) => {
      statusCalls.push([id, from]);
      if (id !== filing().disputeId || from !== FILER) throw new CreditMeshError("NOT_FOUND", `dispute_id: no dispute ${id} filed through ${from} is held here`, { field: "dispute_id" });
      return { ...filing(), status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.VERIFIED_ACCURATE, note: "checked", resolvedAt: clock.now() };
    },
  };
};
const notAsked = async (): Promise<never> => {
  throw new Error("not asked in this test");
};

type Handler = (body: Uint8Array, from: { peerId: string }, signal: AbortSignal) => Promise<Uint8Array>;
const LIMITS = { maxClockSkewMs: 60_000, maxFrameBytes: 64 * 1024, handlerTimeoutMs: 5_000 };
const notStarted = () => {
  throw new Error("not started in this test");
};

/** A member's dispute protocols, never started: handlers are called directly, requests go over `rpc`. */
const protocolsOf = (key: NodeKey, receiver: DisputeReceiver, rpc: PeerComponents["rpc"] = { request: notStarted }, sign = (data: Uint8Array) => key.sign(data)) => {
  const c = { peer: {} as PeerComponents["peer"], rpc, membership, signer: { peerId: key.peerId, sign }, clock, logger: silentLogger(), receiver };
  const init = { ...LIMITS, institutionId: membership.byPeerId(key.peerId)!.institutionId };
  return { dispute: new DisputeProtocol(c, init), status: new DisputeStatusProtocol(c, init) };
};

const handlerFor = (receiver: DisputeReceiver, sign = (data: Uint8Array) => holderKey.sign(data)): Handler => {
  const { dispute } = protocolsOf(holderKey, receiver, undefined, sign);
  return (body, from) => dispute.handleMessage(body, from);
};

const envelope = (d: Dispute, key: NodeKey = filerKey): Uint8Array => {
  const body = Dispute.encode(d).finish();
  return Signed.encode({ body: Buffer.from(body), signature: Buffer.from(key.sign(body)) }).finish();
};

const statusHandlerFor = (receiver: DisputeReceiver, sign = (data: Uint8Array) => holderKey.sign(data)): Handler => {
  const { status } = protocolsOf(holderKey, receiver, undefined, sign);
  return (body, from) => status.handleMessage(body, from);
};

const statusRequest = (over: Partial<DisputeStatusRequest> = {}, key: NodeKey = filerKey): Uint8Array => {
  const body = DisputeStatusRequest.encode({ disputeId: filing().disputeId, requesterInstitutionId: FILER, issuedAt: clock.now(), ...over }).finish();
  return Signed.encode({ body: Buffer.from(body), signature: Buffer.from(key.sign(body)) }).finish();
};

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isCreditMeshError(err)) return err.code;
    throw err;
  }
  return "OK";
}

/** What RpcClient throws when the holder's handler failed with `err`: the error frame rpc-server sends, decoded. */
function asRemote(err: unknown): RpcRemoteError {
  const code = isCreditMeshError(err) ? err.code : "INTERNAL";
  const message = err instanceof Error ? err.message : String(err);
  const remote = decodeErrorPayload(encodeErrorPayload(code, message, isCreditMeshError(err) ? err.field : undefined));
  return new RpcRemoteError(code === "P2P_TIMEOUT" ? "P2P_TIMEOUT" : "P2P_PROTOCOL", remote, `peer answered ${code}: ${message}`);
}

describe("dispute protocol, holder side", () => {
  it("passes an authenticated filing to the domain and answers Signed(Dispute) by the holder", async () => {
    const receiver = accepting();
    const answer = Signed.decode(await handlerFor(receiver)(envelope(filing()), { peerId: filerKey.peerId }, new AbortController().signal));
    expect(verifyByPeerId(holderKey.peerId, answer.body, answer.signature)).toBe(true);
    expect(Dispute.decode(answer.body)).toMatchObject({ disputeId: filing().disputeId, respondBy: new Date("2026-03-31T00:00:00Z") });
    expect(receiver.calls.map(([d, from]) => [d.disputeId, from])).toEqual([[filing().disputeId, FILER]]);
  });

  it("refuses non-members, forged signatures, a filer other than the sender, stale filings and garbage, before the domain sees them", async () => {
    const receiver = accepting();
    const handle = handlerFor(receiver);
    const signal = new AbortController().signal;
    expect(await codeOf(handle(envelope(filing(), outsiderKey), { peerId: outsiderKey.peerId }, signal))).toBe("MEMBERSHIP_DENIED");
    // Signed by another member but sent on the filer's connection.
    expect(await codeOf(handle(envelope(filing(), otherKey), { peerId: filerKey.peerId }, signal))).toBe("SIGNATURE_INVALID");
    // A member filing in another member's name.
    expect(await codeOf(handle(envelope(filing(), otherKey), { peerId: otherKey.peerId }, signal))).toBe("MEMBERSHIP_DENIED");
    const stale = new Date(clock.now().getTime() - 61_000);
    expect(await codeOf(handle(envelope(filing({ filedAt: stale })), { peerId: filerKey.peerId }, signal))).toBe("VALIDATION_FAILED");
    expect(await codeOf(handle(envelope(filing({ filedAt: undefined })), { peerId: filerKey.peerId }, signal))).toBe("VALIDATION_FAILED");
    expect(await codeOf(handle(new Uint8Array([0xff, 0xff, 0xff]), { peerId: filerKey.peerId }, signal))).toBe("P2P_PROTOCOL");
    expect(receiver.calls).toEqual([]);
  });
});

describe("dispute status protocol, holder side", () => {
  it("answers the filing member with the dispute as the holder has it, signed by the holder", async () => {
    const receiver = accepting();
    const answer = Signed.decode(await statusHandlerFor(receiver)(statusRequest(), { peerId: filerKey.peerId }, new AbortController().signal));
    expect(verifyByPeerId(holderKey.peerId, answer.body, answer.signature)).toBe(true);
    expect(Dispute.decode(answer.body)).toMatchObject({ disputeId: filing().disputeId, status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.VERIFIED_ACCURATE });
    expect(receiver.statusCalls).toEqual([[filing().disputeId, FILER]]);
  });

  it("asks the domain in the name of the connection's member, so another member gets NOT_FOUND", async () => {
    const receiver = accepting();
    const request = statusRequest({ requesterInstitutionId: idOf(otherKey) }, otherKey);
    expect(await codeOf(statusHandlerFor(receiver)(request, { peerId: otherKey.peerId }, new AbortController().signal))).toBe("NOT_FOUND");
    expect(receiver.statusCalls).toEqual([[filing().disputeId, idOf(otherKey)]]);
  });

  it("refuses non-members, forged signatures, a requester other than the sender, stale requests and garbage, before the domain sees them", async () => {
    const receiver = accepting();
    const handle = statusHandlerFor(receiver);
    const signal = new AbortController().signal;
    expect(await codeOf(handle(statusRequest({}, outsiderKey), { peerId: outsiderKey.peerId }, signal))).toBe("MEMBERSHIP_DENIED");
    expect(await codeOf(handle(statusRequest({}, otherKey), { peerId: filerKey.peerId }, signal))).toBe("SIGNATURE_INVALID");
    // A member asking in the filer's name.
    expect(await codeOf(handle(statusRequest({}, otherKey), { peerId: otherKey.peerId }, signal))).toBe("MEMBERSHIP_DENIED");
    const stale = new Date(clock.now().getTime() - 61_000);
    expect(await codeOf(handle(statusRequest({ issuedAt: stale }), { peerId: filerKey.peerId }, signal))).toBe("VALIDATION_FAILED");
    expect(await codeOf(handle(statusRequest({ issuedAt: undefined }), { peerId: filerKey.peerId }, signal))).toBe("VALIDATION_FAILED");
    expect(await codeOf(handle(new Uint8Array([0xff, 0xff, 0xff]), { peerId: filerKey.peerId }, signal))).toBe("P2P_PROTOCOL");
    expect(receiver.statusCalls).toEqual([]);
  });
});

describe("dispute protocol, filer side (over an in-memory transport)", () => {
  const router = (handle: Handler, filer: NodeKey = filerKey, statusHandle = statusHandlerFor(accepting())) => {
    const rpc: PeerComponents["rpc"] = {
      request: async (peerId, protocol, body, signal) => {
        expect(peerId).toBe(holderKey.peerId);
        try {
          return await (protocol === DISPUTE_PROTOCOL ? handle : statusHandle)(body, { peerId: filer.peerId }, signal ?? new AbortController().signal);
        } catch (err) {
          throw asRemote(err);
        }
      },
    };
    const { dispute, status } = protocolsOf(filer, { receive: notAsked, statusFor: notAsked }, rpc);
    return { send: dispute.send.bind(dispute), status: status.fetch.bind(status) };
  };

  it("returns the holder's dispute once its signature verifies", async () => {
    const d = await router(handlerFor(accepting())).send(HOLDER, filing());
    expect(d.respondBy).toEqual(new Date("2026-03-31T00:00:00Z"));
  });

  it("rejects an answer not signed by the holder's key", async () => {
    const forging = handlerFor(accepting(), (data) => otherKey.sign(data));
    expect(await codeOf(router(forging).send(HOLDER, filing()))).toBe("UNAVAILABLE");
  });

  it("turns the holder's typed refusals back into the same codes, with the field", async () => {
    const refusing: DisputeReceiver = {
      receive: async () => {
        throw new CreditMeshError("NOT_FOUND", "account_ref: institution x holds no account y of this subject", { field: "account_ref" });
      },
      statusFor: notAsked,
    };
    const err = await router(handlerFor(refusing)).send(HOLDER, filing()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CreditMeshError);
    expect((err as CreditMeshError).code).toBe("NOT_FOUND");
    expect((err as CreditMeshError).field).toBe("account_ref");
    const failing: DisputeReceiver = { receive: vi.fn(async () => Promise.reject(new Error("disk on fire"))), statusFor: notAsked };
    expect(await codeOf(router(handlerFor(failing)).send(HOLDER, filing()))).toBe("UNAVAILABLE");
  });

  it("passes the holder's refusal of the filer's consent through as CONSENT_DENIED on consent", async () => {
    const refusing: DisputeReceiver = {
      receive: async () => {
        throw new CreditMeshError("CONSENT_DENIED", "consent: consent was granted to another institution", { field: "consent" });
      },
      statusFor: notAsked,
    };
    const err = await router(handlerFor(refusing)).send(HOLDER, filing()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CreditMeshError);
    expect((err as CreditMeshError).code).toBe("CONSENT_DENIED");
    expect((err as CreditMeshError).field).toBe("consent");
    expect((err as CreditMeshError).message).toContain("granted to another institution");
  });

  it("NOT_FOUND on institution_id for an institution that is not a member", async () => {
    const err = await router(handlerFor(accepting())).send("nobody", filing()).catch((e: unknown) => e);
    expect((err as CreditMeshError).code).toBe("NOT_FOUND");
    expect((err as CreditMeshError).field).toBe("institution_id");
  });

  it("status() returns the holder's current record once its signature verifies", async () => {
    const d = await router(handlerFor(accepting())).status(HOLDER, filing().disputeId);
    expect(d).toMatchObject({ disputeId: filing().disputeId, status: DisputeStatus.RESOLVED, note: "checked" });
  });

  it("status() rejects an answer not signed by the holder, and passes NOT_FOUND through", async () => {
    const forging = statusHandlerFor(accepting(), (data) => otherKey.sign(data));
    expect(await codeOf(router(handlerFor(accepting()), filerKey, forging).status(HOLDER, filing().disputeId))).toBe("UNAVAILABLE");
    const err = await router(handlerFor(accepting())).status(HOLDER, "00000000-0000-4000-8000-000000000000").catch((e: unknown) => e);
    expect((err as CreditMeshError).code).toBe("NOT_FOUND");
    expect((err as CreditMeshError).field).toBe("dispute_id");
  });
});
