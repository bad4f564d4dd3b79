import type { Stream, StreamHandler } from "@libp2p/interface";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { HolderStatus, IdType, ProductType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { QueryAnswer, QueryRequest, Signed } from "../../src/gen/creditmesh/v1/peer.js";
import { HolderAnswer } from "../../src/gen/creditmesh/v1/report.js";
import { PeerNode } from "../../src/p2p/peer-node.js";
import { QUERY_PROTOCOL, REVOCATIONS_TOPIC } from "../../src/p2p/protocols.js";
import { RpcClient } from "../../src/p2p/rpc-client.js";
import { FrameDecoder, FrameKind } from "../../src/p2p/rpc-frame.js";
import { normalizeSubject } from "../../src/subject/normalize.js";
import { HmacSubjectTokenizer } from "../../src/subject/tokenizer.js";
import { startInProcessNetwork, waitUntil, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";
import { account, repayment, residentId } from "../helpers/records.js";

/**
 * DESIGN §2.1: raw personal data never leaves its node. Three institutions run
 * in this process; two furnish accounts for one borrower, the third pulls a
 * unified report. Every byte of the query protocol is recorded twice — on the
 * holder's libp2p streams (the plaintext Noise encrypts, so both directions of
 * the real stream) and at the requester's RPC client — together with every
 * gossip message published; none may contain the borrower's ID number, name,
 * phone or any furnisher account number, while all must carry the subject
 * token (the proof that the recording saw the traffic).
 */

// A resident ID whose check character is X, so its lowercase spelling differs.
const ID_NUMBER = residentId("19870921", 106, "440106");
const NAME = "欧阳明轩";
const PHONE = "13912345678";
const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: ID_NUMBER, name: NAME, phone: PHONE };
const ACCOUNTS: Record<string, string[]> = {
  "bank-a": ["HXB-MORT-5521-0098"],
  "cfc-b": ["JXCF-INST-20260105-7781", "JXCF-CASH-88231-Q"],
  "ecom-c": ["SHL-REVOLVE-00912-XZ"],
};
const ALL_ACCOUNT_IDS = Object.values(ACCOUNTS).flat();
const AS_OF = "2026-04-20";
const DAY = 24 * 3600 * 1000;

interface Needle {
  label: string;
  bytes: Buffer;
}

/** Every spelling of the raw values that could plausibly end up in bytes or logs. */
const FORBIDDEN: Needle[] = [
  { label: "ID number", bytes: Buffer.from(ID_NUMBER, "utf8") },
  { label: "ID number, lowercase", bytes: Buffer.from(ID_NUMBER.toLowerCase(), "utf8") },
  { label: "ID number, region and birth date", bytes: Buffer.from(ID_NUMBER.slice(0, 14), "utf8") },
  { label: "ID number, UTF-16", bytes: Buffer.from(ID_NUMBER, "utf16le") },
  { label: "name", bytes: Buffer.from(NAME, "utf8") },
  { label: "name, UTF-16", bytes: Buffer.from(NAME, "utf16le") },
  { label: "name, \\u-escaped", bytes: Buffer.from([...NAME].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""), "utf8") },
  { label: "phone", bytes: Buffer.from(PHONE, "utf8") },
  { label: "phone, UTF-16", bytes: Buffer.from(PHONE, "utf16le") },
  ...ALL_ACCOUNT_IDS.flatMap((id) => [
    { label: `account ${id}`, bytes: Buffer.from(id, "utf8") },
    { label: `account ${id}, lowercase`, bytes: Buffer.from(id.toLowerCase(), "utf8") },
    { label: `account ${id}, UTF-16`, bytes: Buffer.from(id, "utf16le") },
  ]),
];

function leaks(data: Uint8Array): string[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return FORBIDDEN.filter((n) => buf.includes(n.bytes)).map((n) => n.label);
}

function contains(data: Uint8Array, text: string): boolean {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).includes(Buffer.from(text, "utf8"));
}

function chunkBytes(data: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return Uint8Array.from(data instanceof Uint8Array ? data : data.subarray());
}

/** One direction of one stream the holder served, as the bytes that crossed it, in order. */
interface StreamTap {
  protocol: string;
  holderPeerId: string;
  remotePeerId: string;
  inbound: Uint8Array[];
  outbound: Uint8Array[];
}

describe("what crosses the protocol carries no raw personal data", () => {
  let net: InProcessNetwork;
  let lender: NetworkMember;
  let holders: NetworkMember[];
  let token: string;
  let consentId: string;
  const streams: StreamTap[] = [];
  const rpcCalls: { peerId: string; protocol: string; body: Uint8Array; answer?: Uint8Array }[] = [];
  const published: { topic: string; data: Uint8Array }[] = [];

  beforeAll(async () => {
    // Taps, installed before any node starts. Each one calls the real method:
    // nothing is stubbed, the traffic is only recorded on its way.
    const handle = PeerNode.prototype.handle;
    vi.spyOn(PeerNode.prototype, "handle").mockImplementation(async function (this: PeerNode, protocol, handler, options) {
      const holderPeerId = this.peerId;
      const tapped: StreamHandler = (stream: Stream, connection) => {
        const tap: StreamTap = { protocol, holderPeerId, remotePeerId: connection.remotePeer.toString(), inbound: [], outbound: [] };
        streams.push(tap);
        stream.addEventListener("message", (evt) => tap.inbound.push(chunkBytes(evt.data)));
        const send = stream.send.bind(stream);
        stream.send = (data) => {
          tap.outbound.push(chunkBytes(data));
          return send(data);
        };
        return handler(stream, connection);
      };
      return handle.call(this, protocol, tapped, options);
    });
    const request = RpcClient.prototype.request;
    vi.spyOn(RpcClient.prototype, "request").mockImplementation(async function (this: RpcClient, peerId, protocol, body, signal) {
      const call: (typeof rpcCalls)[number] = { peerId, protocol, body: Uint8Array.from(body) };
      rpcCalls.push(call);
      const answer = await request.call(this, peerId, protocol, body, signal);
      call.answer = Uint8Array.from(answer);
      return answer;
    });
    const publish = PeerNode.prototype.publish;
    vi.spyOn(PeerNode.prototype, "publish").mockImplementation(async function (this: PeerNode, topic, data, signal) {
      published.push({ topic, data: Uint8Array.from(data) });
      return publish.call(this, topic, data, signal);
    });

    net = await startInProcessNetwork({ nodes: 3 });
    [lender, ...holders] = net.members;
    token = new HmacSubjectTokenizer(Buffer.from(net.tokenKey, "hex")).token(normalizeSubject(SUBJECT));

    for (const m of net.members) {
      const ids = ACCOUNTS[m.layout.institutionId]!;
      // One furnisher spells the ID with a lowercase x: the same person, the same token.
      const idNumber = m.layout.institutionId === "ecom-c" ? ID_NUMBER.toLowerCase() : ID_NUMBER;
      const acks = await m.client!.submit([
        {
          records: ids.flatMap((accountId, i) => [
            account({
              accountId,
              subject: { ...SUBJECT, idNumber },
              productType: i === 0 ? ProductType.INSTALLMENT_LOAN : ProductType.CASH_LOAN,
              openedOn: `2026-01-0${5 + i}`,
            }),
            repayment({ accountId, installment: 1, dueOn: `2026-02-0${5 + i}`, paidOn: `2026-02-0${5 + i}` }),
          ]),
        },
      ]);
      expect(acks).toEqual([expect.objectContaining({ accepted: ids.length * 2, rejected: [] })]);
    }
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await net?.stop();
  });

  it("a unified report pulls every holder's tradelines over the recorded protocol", async () => {
    const consent = await lender.client!.unary("grantConsent", {
      subject: SUBJECT,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - DAY),
      validUntil: new Date(Date.now() + 30 * DAY),
      evidenceRef: "sha256:5f1c0a9e3b7d2c4e",
    });
    consentId = consent.consentId;
    expect(consent.subjectToken).toBe(token);

    const report = await lender.client!.unary("getCreditReport", {
      subject: SUBJECT,
      purpose: Purpose.LOAN_ORIGINATION,
      consentId,
      asOf: AS_OF,
      deadlineMs: 10_000,
    });
    const outcomes = Object.fromEntries(report.holders.map((h: { institutionId: string; status: HolderStatus }) => [h.institutionId, h.status]));
    expect(outcomes).toEqual({ "bank-a": HolderStatus.OK, "cfc-b": HolderStatus.OK, "ecom-c": HolderStatus.OK });
    const byInstitution = (id: string) => report.tradelines.filter((t: { institutionId: string }) => t.institutionId === id).length;
    expect([byInstitution("bank-a"), byInstitution("cfc-b"), byInstitution("ecom-c")]).toEqual([1, 2, 1]);

    // The requester's view: one signed query per holder, one signed answer back.
    const queries = rpcCalls.filter((c) => c.protocol === QUERY_PROTOCOL);
    expect(queries.map((c) => c.peerId).sort()).toEqual(holders.map((h) => h.key.peerId).sort());
    for (const call of queries) {
      const query = QueryRequest.decode(Signed.decode(call.body).body);
      expect(query).toMatchObject({ requesterInstitutionId: "bank-a", subjectToken: token, purpose: Purpose.LOAN_ORIGINATION });
      const answer = HolderAnswer.decode(QueryAnswer.decode(call.answer!).signedAnswer);
      expect(answer.status).toBe(HolderStatus.OK);
      expect(answer.tradelines.length).toBeGreaterThan(0);
    }
  });

  it("the query streams, in both directions, hold the subject token and tradelines but no raw ID, name, phone or account number", () => {
    const queryStreams = streams.filter((s) => s.protocol === QUERY_PROTOCOL);
    // Exactly the two holders served the lender on the query protocol.
    expect(queryStreams.map((s) => [s.holderPeerId, s.remotePeerId]).sort()).toEqual(
      holders.map((h) => [h.key.peerId, lender.key.peerId]).sort(),
    );
    for (const tap of queryStreams) {
      const holder = holders.find((h) => h.key.peerId === tap.holderPeerId)!;
      const inbound = Buffer.concat(tap.inbound);
      const outbound = Buffer.concat(tap.outbound);

      // Positive control: the recording is the real traffic. The requests decode
      // as frames carrying the signed query; the answers carry the holder's
      // tradelines, each under its pseudonymous account_ref.
      const requests = new FrameDecoder(1 << 22).push(inbound);
      const answers = new FrameDecoder(1 << 22).push(outbound);
      expect(requests.map((f) => f.kind)).toEqual([FrameKind.Request]);
      expect(answers.map((f) => f.kind)).toEqual([FrameKind.Response]);
      expect(QueryRequest.decode(Signed.decode(requests[0]!.payload).body).subjectToken).toBe(token);
      const answer = HolderAnswer.decode(QueryAnswer.decode(answers[0]!.payload).signedAnswer);
      expect(answer.holderInstitutionId).toBe(holder.layout.institutionId);
      expect(answer.tradelines).toHaveLength(ACCOUNTS[holder.layout.institutionId]!.length);
      expect(contains(inbound, token)).toBe(true);
      expect(contains(outbound, token)).toBe(true);
      for (const t of answer.tradelines) {
        expect(t.accountRef).toMatch(/^[0-9a-f]{16,}$/);
        expect(contains(outbound, t.accountRef)).toBe(true);
      }

      expect({ holder: holder.layout.institutionId, direction: "requester → holder", leaks: leaks(inbound) }).toEqual({
        holder: holder.layout.institutionId,
        direction: "requester → holder",
        leaks: [],
      });
      expect({ holder: holder.layout.institutionId, direction: "holder → requester", leaks: leaks(outbound) }).toEqual({
        holder: holder.layout.institutionId,
        direction: "holder → requester",
        leaks: [],
      });
    }
  });

  it("the requester's RPC client sent and received no raw values", () => {
    const queries = rpcCalls.filter((c) => c.protocol === QUERY_PROTOCOL);
    expect(queries.length).toBeGreaterThanOrEqual(2);
    for (const call of queries) {
      expect(call.answer).toBeDefined();
      expect(contains(call.body, token)).toBe(true);
      expect(contains(call.answer!, token)).toBe(true);
    }
    // Every protocol the client speaks (query, revocation catch-up, disputes) is checked for leaks.
    for (const call of rpcCalls) {
      expect([...leaks(call.body), ...(call.answer ? leaks(call.answer) : [])]).toEqual([]);
    }
  });

  it("a revocation gossiped to the holders carries the consent id and no raw values", async () => {
    const revoked = await lender.client!.unary("revokeConsent", { consentId });
    expect(revoked.consentId).toBe(consentId);
    // Both holders received and stored it: the gossip really crossed.
    for (const h of holders) {
      await waitUntil(
        () => h.logs.lines.some((l) => l.includes('"msg":"revocation stored"') && l.includes(consentId)),
        15_000,
        `${h.layout.institutionId} to store the revocation`,
      );
    }
    const revocations = published.filter((p) => p.topic === REVOCATIONS_TOPIC);
    expect(revocations).toHaveLength(1);
    expect(contains(revocations[0]!.data, consentId)).toBe(true);
    for (const p of published) expect({ topic: p.topic, leaks: leaks(p.data) }).toEqual({ topic: p.topic, leaks: [] });
  });

  it("no node's logs hold the raw values, though they log the work they did", () => {
    for (const m of net.members) {
      const text = m.logs.text;
      // Positive control: the logs are the nodes' real logs of this exchange.
      expect(text).toContain(token);
      expect({ node: m.layout.institutionId, leaks: leaks(Buffer.from(text, "utf8")) }).toEqual({ node: m.layout.institutionId, leaks: [] });
    }
    for (const h of holders) expect(h.logs.text).toContain('"msg":"query answered"');
    expect(lender.logs.text).toContain('"msg":"report assembled"');
  });
});
