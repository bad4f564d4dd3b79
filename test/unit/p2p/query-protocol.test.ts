import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { AuditAction } from "../../../src/audit/trail.js";
import { systemClock } from "../../../src/clock.js";
import { HolderStatus, Purpose, Role } from "../../../src/gen/creditmesh/v1/common.js";
import { QueryAnswer, QueryRequest, Signed, type Member } from "../../../src/gen/creditmesh/v1/peer.js";
import type { InquiryProof } from "../../../src/gen/creditmesh/v1/report.js";
import { INQUIRY_PROOF_V1, querySignedBytes } from "../../../src/report/inquiry-proof.js";
import { sha256 } from "../../../src/tlog/sha256.js";
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
const otherLenderKey = generateNodeKey();
const members: Member[] = [
  { institutionId: "bank-a", name: "Bank A", peerId: lenderKey.peerId, roles: [Role.LENDER], addrs: [] },
  { institutionId: "cfc-b", name: "CFC B", peerId: furnisherKey.peerId, roles: [Role.FURNISHER], addrs: [] },
  { institutionId: "ecom-x", name: "Ecom X", peerId: otherLenderKey.peerId, roles: [Role.LENDER], addrs: [] },
];
const membership = { byPeerId: (peerId: string) => members.find((m) => m.peerId === peerId) } as unknown as Membership;

function setup(
  opts: { maxConcurrentQueries?: number; maxConcurrentQueriesPerMember?: number; answerTurns?: number; answerGate?: Promise<void> | ((requestId: string) => Promise<void>) } = {},
) {
  const entries: { action: AuditAction; actor: string; details: Record<string, string> }[] = [];
  let answered = 0;
  /** Request ids in the order the domain started answering them. */
  const started: string[] = [];
  const proofs: (InquiryProof | undefined)[] = [];
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
        answer: async (query, answerOpts) => {
          answered++;
          started.push(query.requestId);
          proofs.push(answerOpts?.requesterProof);
          await (typeof opts.answerGate === "function" ? opts.answerGate(query.requestId) : opts.answerGate);
          const answer = HolderAnswer.fromPartial({ requestId: query.requestId, status: HolderStatus.NO_DATA });
          const signedAnswer = HolderAnswer.encode(answer).finish();
          return { answer, signedAnswer, signature: holderKey.sign(signedAnswer) };
        },
      },
      nonces: { claim: () => ({ batch: EMPTY_BATCH, settled: () => undefined }), prune: async () => 0 },
    },
    {
      institutionId: "holder-h",
      maxClockSkewMs: 60_000,
      maxFrameBytes: 1024 * 1024,
      handlerTimeoutMs: 5_000,
      maxConcurrentQueries: opts.maxConcurrentQueries,
      maxConcurrentQueriesPerMember: opts.maxConcurrentQueriesPerMember,
      answerTurns: opts.answerTurns,
    },
  );
  const handler = (bytes: Uint8Array, from: { peerId: string }, signal?: AbortSignal) => protocol.handleMessage(bytes, from, signal);
  return { handler, entries, answered: () => answered, started, proofs };
}

function queryOf(over: Partial<QueryRequest>): QueryRequest {
  return QueryRequest.fromPartial({
    requestId: "request-1",
    requesterInstitutionId: "bank-a",
    subjectToken: "ab".repeat(32),
    purpose: Purpose.LOAN_ORIGINATION,
    issuedAt: new Date(),
    nonce: randomBytes(16),
    asOf: "2026-03-01",
    inquiryProof: INQUIRY_PROOF_V1,
    ...over,
  });
}

function body(over: Partial<QueryRequest>, signer: NodeKey): Uint8Array {
  const query = queryOf(over);
  const bytes = QueryRequest.encode(query).finish();
  return Signed.encode({ body: Buffer.from(bytes), signature: Buffer.from(signer.sign(querySignedBytes(bytes, query))) }).finish();
}

const statusOf = (bytes: Uint8Array) => HolderAnswer.decode(QueryAnswer.decode(bytes).signedAnswer).status;

describe("query protocol, holder side: refusals", () => {
  it("records each refusal with the authenticated member as actor", async () => {
    const { handler, entries } = setup();
    expect(statusOf(await handler(body({}, furnisherKey), { peerId: lenderKey.peerId }))).toBe(HolderStatus.DENIED);
    expect(statusOf(await handler(body({ requestId: "request-2" }, furnisherKey), { peerId: furnisherKey.peerId }))).toBe(HolderStatus.DENIED);
    expect(statusOf(await handler(body({ issuedAt: new Date(Date.now() - 3_600_000), requestId: "request-3" }, lenderKey), { peerId: lenderKey.peerId }))).toBe(
      HolderStatus.DENIED,
    );
    expect(entries).toEqual([
      {
        action: "QUERY_REFUSED",
        actor: "bank-a",
        details: {
          requester: "bank-a",
          requestId: "request-1",
          subjectToken: "ab".repeat(32),
          purpose: "LOAN_ORIGINATION",
          consentId: "",
          reason: "request signature does not verify",
        },
      },
      {
        action: "QUERY_REFUSED",
        actor: "cfc-b",
        details: expect.objectContaining({ requester: "bank-a", requestId: "request-2", reason: "requester institution does not match the connection's peer" }),
      },
      { action: "QUERY_REFUSED", actor: "bank-a", details: expect.objectContaining({ requestId: "request-3", reason: "request is stale or from the future" }) },
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
      expect(statusOf(await handler(body({ asOf, requestId: `request-d${i}` }, lenderKey), { peerId: lenderKey.peerId })), asOf).toBe(HolderStatus.DENIED);
    }
    expect(answered()).toBe(0);
    expect(entries.map((e) => e.details.reason)).toEqual(Array(4).fill("as_of is not a date up to today"));
    // Today is fine, even where the requester's day has begun and the holder's not yet.
    const soon = new Date(Date.now() + 30_000).toISOString().slice(0, 10);
    expect(statusOf(await handler(body({ asOf: soon, requestId: "request-d9" }, lenderKey), { peerId: lenderKey.peerId }))).toBe(HolderStatus.NO_DATA);
  });

  it("refuses a request id that could not be an inquiry's id (too short, too long, other bytes), before the domain sees it", async () => {
    const { handler, entries, answered } = setup();
    const odd = ["r1", "x".repeat(65), "a".repeat(200_000), "request\n-forged", "请求-00000001"];
    for (const requestId of odd) {
      const bytes = await handler(body({ requestId }, lenderKey), { peerId: lenderKey.peerId });
      expect(statusOf(bytes), requestId.slice(0, 20)).toBe(HolderStatus.DENIED);
      // The refusal's entry is small whatever the id was (the trail keeps at most 128 plain characters).
      expect(entries.at(-1)!.details.requestId.length).toBeLessThanOrEqual(128);
    }
    expect(answered()).toBe(0);
    expect(entries.map((e) => e.details.reason)).toEqual(Array(odd.length).fill("request_id is not 8-64 letters, digits or '-'"));
    expect(statusOf(await handler(body({ requestId: "0f0e3a52-9a4c-4c1d-8b55-0b6f3f6a2e11" }, lenderKey), { peerId: lenderKey.peerId }))).toBe(HolderStatus.NO_DATA);
  });

  it("leaves accepted queries to the domain's answer (no entry here), with the requester's proof to keep with the inquiry", async () => {
    const { handler, entries, answered, proofs } = setup();
    const sent = body({}, lenderKey);
    expect(statusOf(await handler(sent, { peerId: lenderKey.peerId }))).toBe(HolderStatus.NO_DATA);
    expect(answered()).toBe(1);
    expect(entries).toEqual([]);
    // The envelope's own signature, and the digest of the query it covers.
    const envelope = Signed.decode(sent);
    expect(Buffer.from(proofs[0]!.signature)).toEqual(Buffer.from(envelope.signature));
    expect(Buffer.from(proofs[0]!.queryDigest)).toEqual(sha256(envelope.body));
  });

  it("refuses a query signed over its body alone (no inquiry proof) before the domain sees it, naming inquiry_proof", async () => {
    const { handler, entries, answered } = setup();
    const query = queryOf({ requestId: "request-legacy-1", inquiryProof: 0 });
    const bytes = QueryRequest.encode(query).finish();
    const legacy = Signed.encode({ body: Buffer.from(bytes), signature: Buffer.from(lenderKey.sign(bytes)) }).finish();
    expect(statusOf(await handler(legacy, { peerId: lenderKey.peerId }))).toBe(HolderStatus.DENIED);
    expect(answered()).toBe(0);
    expect(entries.map((e) => e.details.reason)).toEqual(["inquiry_proof is not 1: the query must be signed over its inquiry statement"]);
  });
});

describe("query protocol, holder side: capacity", () => {
  it("answers a query beyond its concurrent capacity with a signed BUSY about that request, writing nothing, and serves again once there is room", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { handler, entries, answered } = setup({ maxConcurrentQueries: 2, answerGate: gate });
    const first = [handler(body({ requestId: "request-1" }, lenderKey), { peerId: lenderKey.peerId }), handler(body({ requestId: "request-2" }, lenderKey), { peerId: lenderKey.peerId })];
    await new Promise((r) => setImmediate(r));
    const busy = QueryAnswer.decode(await handler(body({ requestId: "request-3" }, lenderKey), { peerId: lenderKey.peerId }));
    const answer = HolderAnswer.decode(busy.signedAnswer);
    expect(answer).toMatchObject({ status: HolderStatus.BUSY, requestId: "request-3", requesterInstitutionId: "bank-a", holderInstitutionId: "holder-h" });
    expect(answer.reason).toMatch(/busy/);
    expect(holderKey.verify(busy.signedAnswer, busy.signature)).toBe(true);
    expect(answered()).toBe(2);
    expect(entries).toEqual([]);
    open();
    expect((await Promise.all(first)).map(statusOf)).toEqual([HolderStatus.NO_DATA, HolderStatus.NO_DATA]);
    expect(statusOf(await handler(body({ requestId: "request-4" }, lenderKey), { peerId: lenderKey.peerId }))).toBe(HolderStatus.NO_DATA);
  });

  it("holds one member to its share of that capacity: past it that member gets BUSY while another member is still answered", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { handler, answered } = setup({ maxConcurrentQueries: 4, maxConcurrentQueriesPerMember: 2, answerGate: gate });
    const ask = (key: NodeKey, requestId: string) => handler(body({ requestId, requesterInstitutionId: key === lenderKey ? "bank-a" : "ecom-x" }, key), { peerId: key.peerId });
    const held = [ask(lenderKey, "request-a1"), ask(lenderKey, "request-a2")];
    await new Promise((r) => setImmediate(r));
    const busy = HolderAnswer.decode(QueryAnswer.decode(await ask(lenderKey, "request-a3")).signedAnswer);
    expect(busy).toMatchObject({ status: HolderStatus.BUSY, requestId: "request-a3" });
    expect(busy.reason).toMatch(/from this member, its share/);
    // The other member still gets a slot.
    const other = ask(otherLenderKey, "request-x1");
    await new Promise((r) => setImmediate(r));
    expect(answered()).toBe(3);
    open();
    expect((await Promise.all([...held, other])).map(statusOf)).toEqual([HolderStatus.NO_DATA, HolderStatus.NO_DATA, HolderStatus.NO_DATA]);
    // Its slots come back once answered.
    expect(statusOf(await ask(lenderKey, "request-a4"))).toBe(HolderStatus.NO_DATA);
  });

  describe("turns at the holder's work", () => {
    /** One gate per request id, opened by the test. */
    function gates() {
      const open = new Map<string, () => void>();
      const gated = new Map<string, Promise<void>>();
      const gate = (id: string) => {
        let p = gated.get(id);
        if (p === undefined) {
          p = new Promise<void>((r) => open.set(id, r));
          gated.set(id, p);
        }
        return p;
      };
      return { gate, open: (id: string) => (gate(id), open.get(id)!()) };
    }
    const settle = () => new Promise((r) => setImmediate(r));
    const askAs = (handler: ReturnType<typeof setup>["handler"], key: NodeKey, requestId: string, signal?: AbortSignal) =>
      handler(body({ requestId, requesterInstitutionId: key === lenderKey ? "bank-a" : "ecom-x" }, key), { peerId: key.peerId }, signal);

    it("gives a member's first query the next free turn although another member has many waiting, and works on no more than answerTurns at once", async () => {
      const g = gates();
      const { handler, started } = setup({ answerTurns: 2, answerGate: g.gate });
      const flood = Array.from({ length: 8 }, (_, i) => askAs(handler, lenderKey, `request-a${i + 1}`));
      await settle();
      expect(started).toEqual(["request-a1", "request-a2"]);
      const honest = askAs(handler, otherLenderKey, "request-x1");
      await settle();
      expect(started).toHaveLength(2);
      // bank-a's queue was first in line: it gets one turn, then ecom-x's turn comes, before bank-a's six others.
      g.open("request-a1");
      await settle();
      expect(started).toEqual(["request-a1", "request-a2", "request-a3"]);
      g.open("request-a2");
      await settle();
      expect(started).toEqual(["request-a1", "request-a2", "request-a3", "request-x1"]);
      g.open("request-x1");
      expect(statusOf(await honest)).toBe(HolderStatus.NO_DATA);
      for (let i = 3; i <= 8; i++) g.open(`request-a${i}`);
      expect((await Promise.all(flood)).map(statusOf)).toEqual(Array(8).fill(HolderStatus.NO_DATA));
      expect(started.slice(4)).toEqual(["request-a4", "request-a5", "request-a6", "request-a7", "request-a8"]);
    });

    it("lets a waiting query whose requester gave up leave without a turn, and gives its turn to the next", async () => {
      const g = gates();
      const { handler, started } = setup({ answerTurns: 1, answerGate: g.gate });
      const first = askAs(handler, lenderKey, "request-a1");
      const cancelled = new AbortController();
      const gaveUp = askAs(handler, lenderKey, "request-a2", cancelled.signal);
      const next = askAs(handler, otherLenderKey, "request-x1");
      await settle();
      cancelled.abort(new DOMException("cancelled by the requester", "AbortError"));
      await expect(gaveUp).rejects.toMatchObject({ name: "AbortError" });
      g.open("request-a1");
      g.open("request-x1");
      expect((await Promise.all([first, next])).map(statusOf)).toEqual([HolderStatus.NO_DATA, HolderStatus.NO_DATA]);
      expect(started).toEqual(["request-a1", "request-x1"]);
    });
  });
});
