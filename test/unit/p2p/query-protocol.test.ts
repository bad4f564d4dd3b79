import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { AuditAction } from "../../../src/audit/trail.js";
import { systemClock } from "../../../src/clock.js";
import { HolderStatus, Purpose, Role } from "../../../src/gen/creditmesh/v1/common.js";
import { QueryAnswer, QueryRequest, Signed, type Member } from "../../../src/gen/creditmesh/v1/peer.js";
import { HolderAnswer } from "../../../src/gen/creditmesh/v1/report.js";
import type { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import type { PeerComponents } from "../../../src/p2p/components.js";
import { QueryProtocol } from "../../../src/p2p/query-protocol.js";
import { HolderService } from "../../../src/report/holder.js";
import { EMPTY_BATCH } from "../../../src/store/write-batch.js";

const holderKey = generateNodeKey();
const lenderKey = generateNodeKey();
const furnisherKey = generateNodeKey();
const members: Member[] = [
  { institutionId: "bank-a", name: "Bank A", peerId: lenderKey.peerId, roles: [Role.LENDER], addrs: [] },
  { institutionId: "cfc-b", name: "CFC B", peerId: furnisherKey.peerId, roles: [Role.FURNISHER], addrs: [] },
];
const membership = { byPeerId: (peerId: string) => members.find((m) => m.peerId === peerId) } as unknown as Membership;

function setup(opts: { maxConcurrentQueries?: number; answerGate?: Promise<void> } = {}) {
  const entries: { action: AuditAction; actor: string; details: Record<string, string> }[] = [];
  let answered = 0;
  // The real refusal path (signed DENIED answer and its audit entry); accepted queries go to a stub.
  const holder = new HolderService(
    { institutionId: "holder-h" },
    {
      subjects: {} as never,
      records: {} as never,
      consents: {} as never,
      inquiries: {} as never,
      sign: (d) => holderKey.sign(d),
      verifyGranteeSignature: () => false,
      inquirerPseudonym: (_t, id) => id,
      clock: systemClock,
      logger: silentLogger(),
      audit: { append: async (action, actor, details) => void entries.push({ action, actor, details }) },
    },
  );
  const protocol = new QueryProtocol(
    {
      peer: {} as PeerComponents["peer"],
      rpc: { request: async () => new Uint8Array() },
      membership,
      signer: holderKey,
      clock: systemClock,
      logger: silentLogger(),
      metrics: null,
      holder: {
        refuse: (query, reason, opts) => holder.refuse(query, reason, opts),
        busy: (query, reason) => holder.busy(query, reason),
        answer: async (query) => {
          answered++;
          await opts.answerGate;
          const answer = HolderAnswer.fromPartial({ requestId: query.requestId, status: HolderStatus.NO_DATA });
          const signedAnswer = HolderAnswer.encode(answer).finish();
          return { answer, signedAnswer, signature: holderKey.sign(signedAnswer) };
        },
      },
      nonces: { claim: () => ({ batch: EMPTY_BATCH, settled: () => undefined }), prune: async () => 0 },
    },
    { institutionId: "holder-h", maxClockSkewMs: 60_000, maxFrameBytes: 1024 * 1024, handlerTimeoutMs: 5_000, maxConcurrentQueries: opts.maxConcurrentQueries },
  );
  const handler = (bytes: Uint8Array, from: { peerId: string }) => protocol.handleMessage(bytes, from);
  return { handler, entries, answered: () => answered };
}

function body(over: Partial<QueryRequest>, signer: NodeKey): Uint8Array {
  const query = QueryRequest.fromPartial({
    requestId: "req-1",
    requesterInstitutionId: "bank-a",
    subjectToken: "ab".repeat(32),
    purpose: Purpose.LOAN_ORIGINATION,
    issuedAt: new Date(),
    nonce: randomBytes(16),
    asOf: "2026-03-01",
    ...over,
  });
  const bytes = QueryRequest.encode(query).finish();
  return Signed.encode({ body: Buffer.from(bytes), signature: Buffer.from(signer.sign(bytes)) }).finish();
}

const statusOf = (bytes: Uint8Array) => HolderAnswer.decode(QueryAnswer.decode(bytes).signedAnswer).status;

describe("query protocol, holder side: refusals", () => {
  it("records each refusal with the authenticated member as actor", async () => {
    const { handler, entries } = setup();
    expect(statusOf(await handler(body({}, furnisherKey), { peerId: lenderKey.peerId }))).toBe(HolderStatus.DENIED);
    expect(statusOf(await handler(body({ requestId: "req-2" }, furnisherKey), { peerId: furnisherKey.peerId }))).toBe(HolderStatus.DENIED);
    expect(statusOf(await handler(body({ issuedAt: new Date(Date.now() - 3_600_000), requestId: "req-3" }, lenderKey), { peerId: lenderKey.peerId }))).toBe(
      HolderStatus.DENIED,
    );
    expect(entries).toEqual([
      {
        action: "QUERY_REFUSED",
        actor: "bank-a",
        details: {
          requester: "bank-a",
          requestId: "req-1",
          subjectToken: "ab".repeat(32),
          purpose: "LOAN_ORIGINATION",
          consentId: "",
          reason: "request signature does not verify",
        },
      },
      {
        action: "QUERY_REFUSED",
        actor: "cfc-b",
        details: expect.objectContaining({ requester: "bank-a", requestId: "req-2", reason: "requester institution does not match the connection's peer" }),
      },
      { action: "QUERY_REFUSED", actor: "bank-a", details: expect.objectContaining({ requestId: "req-3", reason: "request is stale or from the future" }) },
    ]);
  });

  it("keeps peer-supplied values out of the trail unless they look like ids or tokens", async () => {
    const { handler, entries } = setup();
    await handler(body({ requestId: "11010519920315421X", subjectToken: "张伟" }, furnisherKey), { peerId: lenderKey.peerId });
    expect(entries[0]!.details).toMatchObject({ requestId: "(invalid)", subjectToken: "(invalid)" });
  });

  it("refuses a report date that is malformed or after today (beyond the clock skew), before the domain sees it", async () => {
    const { handler, entries, answered } = setup();
    const tomorrow = new Date(Date.now() + 86_400_000 + 120_000).toISOString().slice(0, 10);
    for (const [i, asOf] of [tomorrow, "2026-02-30", "", "yesterday"].entries()) {
      expect(statusOf(await handler(body({ asOf, requestId: `req-d${i}` }, lenderKey), { peerId: lenderKey.peerId })), asOf).toBe(HolderStatus.DENIED);
    }
    expect(answered()).toBe(0);
    expect(entries.map((e) => e.details.reason)).toEqual(Array(4).fill("as_of is not a date up to today"));
    // Today is fine, even where the requester's day has begun and the holder's not yet.
    const soon = new Date(Date.now() + 30_000).toISOString().slice(0, 10);
    expect(statusOf(await handler(body({ asOf: soon, requestId: "req-d9" }, lenderKey), { peerId: lenderKey.peerId }))).toBe(HolderStatus.NO_DATA);
  });

  it("leaves accepted queries to the domain's answer (no entry here)", async () => {
    const { handler, entries, answered } = setup();
    expect(statusOf(await handler(body({}, lenderKey), { peerId: lenderKey.peerId }))).toBe(HolderStatus.NO_DATA);
    expect(answered()).toBe(1);
    expect(entries).toEqual([]);
  });
});

describe("query protocol, holder side: capacity", () => {
  it("answers a query beyond its concurrent capacity with a signed BUSY about that request, writing nothing, and serves again once there is room", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { handler, entries, answered } = setup({ maxConcurrentQueries: 2, answerGate: gate });
    const first = [handler(body({ requestId: "req-1" }, lenderKey), { peerId: lenderKey.peerId }), handler(body({ requestId: "req-2" }, lenderKey), { peerId: lenderKey.peerId })];
    await new Promise((r) => setImmediate(r));
    const busy = QueryAnswer.decode(await handler(body({ requestId: "req-3" }, lenderKey), { peerId: lenderKey.peerId }));
    const answer = HolderAnswer.decode(busy.signedAnswer);
    expect(answer).toMatchObject({ status: HolderStatus.BUSY, requestId: "req-3", requesterInstitutionId: "bank-a", holderInstitutionId: "holder-h" });
    expect(answer.reason).toMatch(/busy/);
    expect(holderKey.verify(busy.signedAnswer, busy.signature)).toBe(true);
    expect(answered()).toBe(2);
    expect(entries).toEqual([]);
    open();
    expect((await Promise.all(first)).map(statusOf)).toEqual([HolderStatus.NO_DATA, HolderStatus.NO_DATA]);
    expect(statusOf(await handler(body({ requestId: "req-4" }, lenderKey), { peerId: lenderKey.peerId }))).toBe(HolderStatus.NO_DATA);
  });
});
