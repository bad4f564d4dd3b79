import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import type { DisputeReceiver } from "../../../src/disputes/service.js";
import { CreditMeshError, isCreditMeshError } from "../../../src/errors.js";
import { DisputeOutcome, DisputeStatus } from "../../../src/gen/creditmesh/v1/common.js";
import { Dispute } from "../../../src/gen/creditmesh/v1/dispute.js";
import { Signed } from "../../../src/gen/creditmesh/v1/peer.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, verifyByPeerId, type NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { createDisputeHandler } from "../../../src/p2p/dispute-handler.js";
import { RemoteDisputes } from "../../../src/p2p/remote-disputes.js";
import { RpcRemoteError } from "../../../src/p2p/rpc-client.js";
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

/** The holder's receiver: stores nothing, answers as a holder would (OPEN, 30 days). */
const accepting = (): DisputeReceiver & { calls: [Dispute, string][] } => {
  const calls: [Dispute, string][] = [];
  return {
    calls,
    receive: async (d, from) => {
      calls.push([d, from]);
      return { ...d, respondBy: new Date(d.filedAt!.getTime() + 30 * 86_400_000) };
    },
  };
};

const handlerFor = (receiver: DisputeReceiver, sign = (data: Uint8Array) => holderKey.sign(data)) =>
  createDisputeHandler(
    { institutionId: HOLDER, maxClockSkewMs: 60_000 },
    { membership, receiver, sign, clock, logger: silentLogger() },
  );

const envelope = (d: Dispute, key: NodeKey = filerKey): Uint8Array => {
  const body = Dispute.encode(d).finish();
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

/** What RpcClient throws when the holder's handler failed with `err` (see rpc-server/rpc-client). */
function asRemote(err: unknown): RpcRemoteError {
  const code = isCreditMeshError(err) ? err.code : "INTERNAL";
  const message = err instanceof Error ? err.message : String(err);
  return new RpcRemoteError(code === "P2P_TIMEOUT" ? "P2P_TIMEOUT" : "P2P_PROTOCOL", code, `peer answered ${code}: ${message}`);
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

describe("dispute protocol, filer side (RemoteDisputes over an in-memory transport)", () => {
  const router = (handle: ReturnType<typeof handlerFor>, filer: NodeKey = filerKey) =>
    new RemoteDisputes({
      membership,
      sign: (data) => filer.sign(data),
      logger: silentLogger(),
      request: async (peerId, body, signal) => {
        expect(peerId).toBe(holderKey.peerId);
        try {
          return await handle(body, { peerId: filer.peerId }, signal);
        } catch (err) {
          throw asRemote(err);
        }
      },
    });

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
    };
    const err = await router(handlerFor(refusing)).send(HOLDER, filing()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CreditMeshError);
    expect((err as CreditMeshError).code).toBe("NOT_FOUND");
    expect((err as CreditMeshError).field).toBe("account_ref");
    const failing: DisputeReceiver = { receive: vi.fn(async () => Promise.reject(new Error("disk on fire"))) };
    expect(await codeOf(router(handlerFor(failing)).send(HOLDER, filing()))).toBe("UNAVAILABLE");
  });

  it("NOT_FOUND on institution_id for an institution that is not a member", async () => {
    const err = await router(handlerFor(accepting())).send("nobody", filing()).catch((e: unknown) => e);
    expect((err as CreditMeshError).code).toBe("NOT_FOUND");
    expect((err as CreditMeshError).field).toBe("institution_id");
  });
});
