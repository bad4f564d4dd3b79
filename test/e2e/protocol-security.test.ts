import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { isoDate } from "../../src/clock.js";
import { signConsent } from "../../src/consent/artefact.js";
import { isCreditMeshError } from "../../src/errors.js";
import { ConsentStatus, HolderStatus, IdType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import { Revocation, type Consent } from "../../src/gen/creditmesh/v1/consent.js";
import { QueryAnswer, QueryRequest, Signed } from "../../src/gen/creditmesh/v1/peer.js";
import { HolderAnswer } from "../../src/gen/creditmesh/v1/report.js";
import { Membership, signManifest } from "../../src/identity/manifest.js";
import { generateNodeKey, verifyByPeerId, type NodeKey } from "../../src/identity/node-key.js";
import { PeerNode } from "../../src/p2p/peer-node.js";
import { QUERY_PROTOCOL, REVOCATIONS_TOPIC } from "../../src/p2p/protocols.js";
import { encodeRevocation } from "../../src/p2p/revocations.js";
import { normalizeSubject } from "../../src/subject/normalize.js";
import { INQUIRY_PROOF_V1, querySignedBytes } from "../../src/report/inquiry-proof.js";
import { HmacSubjectTokenizer } from "../../src/subject/tokenizer.js";
import { startBarePeer, type BarePeer } from "../helpers/bare-peer.js";
import type { LogCapture } from "../helpers/in-process-node.js";
import { startInProcessNetwork, waitUntil, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";
import { account, repayment, residentId } from "../helpers/records.js";

/**
 * DESIGN §2.2–2.3 and §5: only manifest members connect, and the holder — not
 * the requester — enforces signatures, freshness, replay protection and
 * consent. The network: bank-a (LENDER) and bank-d (FURNISHER only) exist only
 * as keys in the manifest, used here by bare PeerNodes that send hand-crafted
 * requests; cfc-b and ecom-c run as CreditNodes holding the borrower's data.
 */

const ID_NUMBER = residentId("19920214", 100, "310104");
const NAME = "司马静怡";
const PHONE = "13698765432";
const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: ID_NUMBER, name: NAME, phone: PHONE };
const ACCOUNT_IDS: Record<string, string[]> = {
  "cfc-b": ["JXCF-LN-4410-0071", "JXCF-LN-4410-0072"],
  "ecom-c": ["SHL-CL-77120-AB"],
};
const DAY = 24 * 3600 * 1000;
const HOUR = 3600 * 1000;
/** The holders' configured p2p.maxClockSkewMs (the default). */
const SKEW_MS = 60_000;

function rawValuesIn(text: string): string[] {
  const raw = [ID_NUMBER, ID_NUMBER.toLowerCase(), ID_NUMBER.slice(0, 14), NAME, PHONE, ...Object.values(ACCOUNT_IDS).flat()];
  return raw.filter((v) => text.includes(v));
}

interface LogLine {
  msg: string;
  module?: string;
  requestId?: string;
  reason?: string;
  consentId?: string;
  [k: string]: unknown;
}

function parsed(logs: LogCapture): LogLine[] {
  return logs.lines.map((l) => JSON.parse(l) as LogLine);
}

describe("protocol security at the holder", () => {
  let net: InProcessNetwork;
  let lenderMember: NetworkMember;
  let furnisherOnly: NetworkMember;
  let holders: NetworkMember[];
  let token: string;
  /** Every libp2p node created in this file, by peer id: the running holders' too. */
  const peers = new Map<string, PeerNode>();

  beforeAll(async () => {
    // Records each PeerNode as it is built (the real one, unchanged), so the
    // test can ask a running holder whom it is connected to.
    const create = PeerNode.create.bind(PeerNode);
    vi.spyOn(PeerNode, "create").mockImplementation(async (opts) => {
      const peer = await create(opts);
      peers.set(peer.peerId, peer);
      return peer;
    });
    net = await startInProcessNetwork({
      nodes: 4,
      run: (i) => i === 1 || i === 2,
      roles: (i) => [[Role.LENDER], [Role.FURNISHER, Role.LENDER], [Role.FURNISHER], [Role.FURNISHER]][i]!,
    });
    [lenderMember, , , furnisherOnly] = net.members;
    holders = net.running;
    expect(holders.map((h) => h.layout.institutionId)).toEqual(["cfc-b", "ecom-c"]);
    expect([lenderMember.layout.institutionId, furnisherOnly.layout.institutionId]).toEqual(["bank-a", "bank-d"]);
    token = new HmacSubjectTokenizer(Buffer.from(net.tokenKey, "hex")).token(normalizeSubject(SUBJECT));

    for (const h of holders) {
      const ids = ACCOUNT_IDS[h.layout.institutionId]!;
      const acks = await h.client!.submit([
        {
          records: ids.flatMap((accountId) => [
            account({ accountId, subject: SUBJECT, openedOn: "2026-01-05" }),
            repayment({ accountId, installment: 1 }),
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

  describe("a peer whose key is not in the manifest", () => {
    let outsider: BarePeer;
    let outsiderKey: NodeKey;
    /** Times a running member was seen holding any connection (in any state) to the outsider. */
    let memberSawOutsider = 0;
    let sampler: NodeJS.Timeout | undefined;

    beforeAll(async () => {
      // The outsider trusts a manifest of its own operator that names it as
      // bank-a next to the real holders, so it dials them as members would.
      outsiderKey = generateNodeKey();
      const fakeOperator = generateNodeKey();
      const fake = signManifest(
        {
          networkId: net.layout.networkId,
          version: "99",
          issuedAt: new Date(),
          members: [
            { institutionId: "bank-a", name: "Huaxia Commercial Bank", peerId: outsiderKey.peerId, roles: [Role.LENDER], addrs: [] },
            ...holders.map((h) => ({
              institutionId: h.layout.institutionId,
              name: h.layout.name,
              peerId: h.key.peerId,
              roles: h.layout.roles,
              addrs: [`/ip4/127.0.0.1/tcp/${h.layout.p2pPort}`],
            })),
          ],
        },
        fakeOperator,
      );
      sampler = setInterval(() => {
        for (const h of holders) {
          const conns = peers.get(h.key.peerId)?.libp2p.getConnections() ?? [];
          if (conns.some((c) => c.remotePeer.toString() === outsiderKey.peerId)) memberSawOutsider++;
        }
      }, 2);
      outsider = await startBarePeer(outsiderKey, new Membership(fakeOperator.publicKey, fake), ["/ip4/127.0.0.1/tcp/0"]);
    });

    afterAll(async () => {
      clearInterval(sampler);
      await outsider?.stop();
    });

    it("keeps trying, is refused by every member's gater, and never holds a usable connection", async () => {
      const refusal = "refused a connection from a peer not in the manifest";
      for (const h of holders) {
        // The member saw the outsider's handshake and refused it, and logged that.
        await waitUntil(
          () => parsed(h.logs).some((l) => l.msg === refusal && l.peer_id === outsiderKey.peerId),
          15_000,
          `${h.layout.institutionId} to log the refused connection`,
        );
        // The outsider's dialer keeps coming back: each attempt ends refused.
        await waitUntil(
          () =>
            parsed(outsider.logs).filter((l) => (l.msg === "member dial failed" || l.msg === "connected to member") && l.peer_id === h.key.peerId)
              .length >= 3,
          15_000,
          `the outsider to dial ${h.layout.institutionId} three times`,
        );
      }
      for (const h of holders) {
        const holderPeer = peers.get(h.key.peerId)!;
        expect(holderPeer).toBeDefined();
        // Noise lets the initiator finish its handshake before the responder has
        // learnt who it is, so the outsider's dial may resolve; the member then
        // aborts that connection at once and no stream can ever be opened on it.
        const attempt = await outsider.peer.connect(h.key.peerId).then(
          (conn) => ({ conn }),
          (err: unknown) => ({ err }),
        );
        if ("err" in attempt) {
          expect(isCreditMeshError(attempt.err, "P2P_UNREACHABLE")).toBe(true);
        } else {
          await waitUntil(() => attempt.conn.status !== "open", 5_000, "the member to close the outsider's connection");
          await expect(attempt.conn.newStream(QUERY_PROTOCOL)).rejects.toThrow();
        }
        // Its dialer keeps retrying, and each retry may hold a half-made connection
        // for the moment the member takes to abort it: none of them lasts.
        await waitUntil(() => !outsider.peer.isConnected(h.key.peerId), 5_000, "the outsider to hold no connection to the member");
        // The member's own view: no connection from the outsider, ever, while
        // the members stay connected to each other (the gater refuses only it).
        expect(holderPeer.isConnected(outsiderKey.peerId)).toBe(false);
        expect(holderPeer.connectedPeers()).toEqual(holders.filter((o) => o !== h).map((o) => o.key.peerId));
      }
      expect(memberSawOutsider).toBe(0);
    });

    it("cannot query any member: the request never reaches a query handler", async () => {
      const consent = signConsent(
        {
          consentId: randomUUID(),
          subjectToken: token,
          granteeInstitutionId: "bank-a",
          purpose: Purpose.LOAN_ORIGINATION,
          validFrom: new Date(Date.now() - DAY),
          validUntil: new Date(Date.now() + DAY),
          evidenceRef: "sha256:aa55aa55aa55aa55",
          status: ConsentStatus.ACTIVE,
          issuedAt: new Date(Date.now() - DAY),
          signature: Buffer.alloc(0),
          revokedAt: undefined,
        },
        outsiderKey,
      );
      const body = QueryRequest.encode({
        requestId: randomUUID(),
        requesterInstitutionId: "bank-a",
        subjectToken: token,
        purpose: Purpose.LOAN_ORIGINATION,
        consent,
        issuedAt: new Date(),
        nonce: randomBytes(16),
        asOf: isoDate(new Date()),
        inquiryProof: 0,
      }).finish();
      const envelope = Signed.encode({ body: Buffer.from(body), signature: Buffer.from(outsiderKey.sign(body)) }).finish();
      for (const h of holders) {
        const err = await outsider.client.request(h.key.peerId, QUERY_PROTOCOL, envelope, AbortSignal.timeout(10_000)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isCreditMeshError(err, "P2P_UNREACHABLE")).toBe(true);
        const handled = parsed(h.logs).filter((l) => l.msg === "query answered" || l.msg === "query refused");
        expect(handled).toEqual([]);
      }
    });

    it("does not show in any member's GetNodeStatus, nor make the member it impersonates look connected", async () => {
      for (const h of holders) {
        const status = await h.client!.unary("getNodeStatus", {});
        expect(status.members.map((m: { peerId: string }) => m.peerId)).not.toContain(outsiderKey.peerId);
        const connected = Object.fromEntries(status.members.map((m: { institutionId: string; connected: boolean }) => [m.institutionId, m.connected]));
        expect(connected).toEqual({ "bank-a": false, "cfc-b": true, "ecom-c": true, "bank-d": false });
      }
    });
  });

  describe("hand-crafted queries from members", () => {
    let lender: BarePeer;
    let furnisher: BarePeer;
    const lenderKey = () => lenderMember.key;
    /** Request ids each holder answered OK, to check its inquiry log. */
    const answeredOk = new Map<string, string[]>();

    function consentFor(over: Partial<Consent> = {}, signer: NodeKey = lenderKey()): Consent {
      return signConsent(
        {
          consentId: randomUUID(),
          subjectToken: token,
          granteeInstitutionId: "bank-a",
          purpose: Purpose.LOAN_ORIGINATION,
          validFrom: new Date(Date.now() - DAY),
          validUntil: new Date(Date.now() + 30 * DAY),
          evidenceRef: "sha256:0f9e8d7c6b5a4938",
          status: ConsentStatus.ACTIVE,
          issuedAt: new Date(Date.now() - DAY),
          signature: Buffer.alloc(0),
          revokedAt: undefined,
          ...over,
        },
        signer,
      );
    }

    function queryFor(over: Partial<QueryRequest> = {}): QueryRequest {
      return {
        requestId: randomUUID(),
        requesterInstitutionId: "bank-a",
        subjectToken: token,
        purpose: Purpose.LOAN_ORIGINATION,
        consent: consentFor(),
        issuedAt: new Date(),
        nonce: randomBytes(16),
        asOf: isoDate(new Date()),
        inquiryProof: INQUIRY_PROOF_V1,
        ...over,
      };
    }

    function envelope(query: QueryRequest, signer: NodeKey = lenderKey()): Uint8Array {
      const body = QueryRequest.encode(query).finish();
      return Signed.encode({ body: Buffer.from(body), signature: Buffer.from(signer.sign(querySignedBytes(body, query))) }).finish();
    }

    /** Sends the bytes as they are; the answer must be signed by that holder. */
    async function send(from: BarePeer, holder: NetworkMember, bytes: Uint8Array): Promise<HolderAnswer> {
      const raw = await from.client.request(holder.key.peerId, QUERY_PROTOCOL, bytes, AbortSignal.timeout(10_000));
      const wire = QueryAnswer.decode(raw);
      expect(verifyByPeerId(holder.key.peerId, wire.signedAnswer, wire.signature)).toBe(true);
      const answer = HolderAnswer.decode(wire.signedAnswer);
      expect(answer.holderInstitutionId).toBe(holder.layout.institutionId);
      if (answer.status === HolderStatus.OK) answeredOk.get(holder.layout.institutionId)!.push(answer.requestId);
      return answer;
    }

    async function expectOk(holder: NetworkMember, bytes: Uint8Array, requestId: string): Promise<HolderAnswer> {
      const answer = await send(lender, holder, bytes);
      expect({ status: HolderStatus[answer.status], reason: answer.reason }).toEqual({ status: "OK", reason: "" });
      expect(answer.requestId).toBe(requestId);
      expect(answer.subjectToken).toBe(token);
      expect(answer.tradelines).toHaveLength(ACCOUNT_IDS[holder.layout.institutionId]!.length);
      expect(answer.tradelines.every((t) => t.institutionId === holder.layout.institutionId)).toBe(true);
      return answer;
    }

    /** DENIED with `reason`, and the holder logged "query refused" with that request id and reason. */
    async function expectRefused(holder: NetworkMember, bytes: Uint8Array, requestId: string, reason: string, from = lender): Promise<void> {
      const answer = await send(from, holder, bytes);
      expect({ status: HolderStatus[answer.status], reason: answer.reason }).toEqual({ status: "DENIED", reason });
      expect(answer.requestId).toBe(requestId);
      expect(answer.tradelines).toEqual([]);
      expect(answer.inquiries).toEqual([]);
      await waitUntil(
        () => parsed(holder.logs).some((l) => l.msg === "query refused" && l.requestId === requestId && l.reason === reason),
        5_000,
        `${holder.layout.institutionId} to log the refusal of ${requestId}`,
      );
      const line = holder.logs.lines.find((l) => l.includes(requestId) && l.includes('"msg":"query refused"'))!;
      expect(rawValuesIn(line)).toEqual([]);
    }

    beforeAll(async () => {
      for (const h of holders) answeredOk.set(h.layout.institutionId, []);
      const membership = await net.membership();
      // The bare members dial the holders themselves; they listen on fresh ports
      // (the layout's may have been reused by the holders' outbound dials).
      lender = await startBarePeer(lenderKey(), membership, ["/ip4/127.0.0.1/tcp/0"]);
      furnisher = await startBarePeer(furnisherOnly.key, await net.membership(), ["/ip4/127.0.0.1/tcp/0"]);
      for (const h of holders) {
        await lender.peer.connect(h.key.peerId);
        await furnisher.peer.connect(h.key.peerId);
      }
    });

    afterAll(async () => {
      await furnisher?.stop();
      await lender?.stop();
    });

    it("answers a valid query OK with the holder's tradelines (positive control)", async () => {
      for (const h of holders) {
        const q = queryFor();
        await expectOk(h, envelope(q), q.requestId);
      }
    });

    const consentCases: [string, () => Partial<QueryRequest>, string][] = [
      ["no consent", () => ({ consent: undefined }), "no consent artefact"],
      [
        "a consent for another purpose",
        () => ({ consent: consentFor({ purpose: Purpose.CREDIT_LIMIT_REVIEW }) }),
        "consent is for CREDIT_LIMIT_REVIEW, not LOAN_ORIGINATION",
      ],
      [
        "an expired consent",
        () => ({ consent: consentFor({ validFrom: new Date(Date.now() - 30 * DAY), validUntil: new Date(Date.now() - HOUR) }) }),
        "consent has expired",
      ],
      [
        "a consent not valid yet",
        () => ({ consent: consentFor({ validFrom: new Date(Date.now() + DAY), validUntil: new Date(Date.now() + 30 * DAY) }) }),
        "consent is not yet valid",
      ],
      ["a consent signed by another key", () => ({ consent: consentFor({}, generateNodeKey()) }), "consent signature does not verify"],
      [
        "a consent altered after signing (validity extended)",
        () => ({ consent: { ...consentFor({ validUntil: new Date(Date.now() - HOUR) }), validUntil: new Date(Date.now() + 30 * DAY) } }),
        "consent signature does not verify",
      ],
      [
        "a consent granted to another institution",
        () => ({ consent: consentFor({ granteeInstitutionId: "cfc-b" }, net.members[1]!.key) }),
        "consent was granted to another institution",
      ],
      ["a consent for another subject", () => ({ consent: consentFor({ subjectToken: "ab".repeat(32) }) }), "consent is for another subject"],
      [
        "a purpose that allows no query",
        () => ({ purpose: Purpose.FURNISHING, consent: consentFor({ purpose: Purpose.FURNISHING }) }),
        "purpose FURNISHING does not allow a query",
      ],
    ];

    it.each(consentCases)("refuses and logs a query with %s", async (_what, over, reason) => {
      for (const h of holders) {
        const q = queryFor(over());
        await expectRefused(h, envelope(q), q.requestId, reason);
      }
    });

    it("refuses and logs a query signed over its body alone, which leaves no inquiry proof (a node from before proofs)", async () => {
      for (const h of holders) {
        const q = queryFor({ inquiryProof: 0 });
        await expectRefused(h, envelope(q), q.requestId, "inquiry_proof is not 1: the query must be signed over its inquiry statement");
      }
    });

    it("refuses and logs a request whose envelope another key signed (forged request signature)", async () => {
      for (const signer of [generateNodeKey(), furnisherOnly.key, holders[0]!.key]) {
        for (const h of holders) {
          const q = queryFor();
          await expectRefused(h, envelope(q, signer), q.requestId, "request signature does not verify");
        }
      }
    });

    it("refuses and logs a signed request altered in transit", async () => {
      for (const h of holders) {
        const q = queryFor();
        const signed = Signed.decode(envelope(q));
        // Same signature, but the body now asks for another purpose.
        const altered = QueryRequest.encode({ ...q, purpose: Purpose.POST_LOAN_MANAGEMENT }).finish();
        const bytes = Signed.encode({ body: Buffer.from(altered), signature: signed.signature }).finish();
        await expectRefused(h, bytes, q.requestId, "request signature does not verify");
      }
    });

    it("refuses a request naming another institution than the connection's peer", async () => {
      for (const h of holders) {
        const q = queryFor({ requesterInstitutionId: "cfc-b" });
        await expectRefused(h, envelope(q), q.requestId, "requester institution does not match the connection's peer");
      }
    });

    it("refuses a member without the LENDER role", async () => {
      for (const h of holders) {
        const q = queryFor({ requesterInstitutionId: "bank-d", consent: consentFor({ granteeInstitutionId: "bank-d" }, furnisherOnly.key) });
        await expectRefused(h, envelope(q, furnisherOnly.key), q.requestId, "requester is not a LENDER member", furnisher);
      }
    });

    it("answers a request once and refuses the exact same bytes replayed", async () => {
      for (const h of holders) {
        const q = queryFor();
        const bytes = envelope(q);
        await expectOk(h, bytes, q.requestId);
        await expectRefused(h, bytes, q.requestId, "replayed request (nonce seen before)");
        // A fresh request id does not make an old nonce new again.
        const again = queryFor({ nonce: q.nonce });
        await expectRefused(h, envelope(again), again.requestId, "replayed request (nonce seen before)");
      }
    });

    it("refuses stale requests and requests from the future", async () => {
      for (const h of holders) {
        const stale = queryFor({ issuedAt: new Date(Date.now() - 10 * SKEW_MS) });
        await expectRefused(h, envelope(stale), stale.requestId, "request is stale or from the future");
        const future = queryFor({ issuedAt: new Date(Date.now() + 10 * SKEW_MS) });
        await expectRefused(h, envelope(future), future.requestId, "request is stale or from the future");
        const undated = queryFor({ issuedAt: undefined });
        await expectRefused(h, envelope(undated), undated.requestId, "request is stale or from the future");
      }
    });

    it("refuses a consent once the lender's signed revocation has been gossiped, and ignores a forged one", async () => {
      const consent = consentFor();
      const other = consentFor();
      for (const h of holders) {
        const q = queryFor({ consent });
        await expectOk(h, envelope(q), q.requestId);
      }
      const pubsub = lender.peer.libp2p.services.pubsub;
      await waitUntil(
        () => holders.every((h) => pubsub.getSubscribers(REVOCATIONS_TOPIC).some((p) => p.toString() === h.key.peerId)),
        15_000,
        "the holders to subscribe to revocations",
      );
      // A revocation of `other` signed by a key that is not its grantee's is ignored.
      const forged = encodeRevocation({ consentId: other.consentId, granteeInstitutionId: "bank-a", revokedAt: new Date() }, (d) => generateNodeKey().sign(d));
      await lender.peer.publish(REVOCATIONS_TOPIC, forged);
      const genuine = encodeRevocation({ consentId: consent.consentId, granteeInstitutionId: "bank-a", revokedAt: new Date() }, (d) => lenderKey().sign(d));
      expect(Revocation.decode(Signed.decode(genuine).body).consentId).toBe(consent.consentId);
      expect(await lender.peer.publish(REVOCATIONS_TOPIC, genuine)).toBeGreaterThanOrEqual(holders.length);
      for (const h of holders) {
        await waitUntil(
          () => parsed(h.logs).some((l) => l.msg === "revocation stored" && l.consentId === consent.consentId),
          15_000,
          `${h.layout.institutionId} to store the revocation`,
        );
        await waitUntil(
          () => parsed(h.logs).some((l) => l.msg === "revocation not signed by the grantee it names dropped" && l.consentId === other.consentId),
          15_000,
          `${h.layout.institutionId} to ignore the forged revocation`,
        );
      }
      for (const h of holders) {
        const q = queryFor({ consent });
        await expectRefused(h, envelope(q), q.requestId, "consent was revoked");
        const stillValid = queryFor({ consent: other });
        await expectOk(h, envelope(stillValid), stillValid.requestId);
      }
    });

    it("records only the queries it answered as inquiries, and logs no raw personal data", async () => {
      for (const h of holders) {
        const q = queryFor();
        const answer = await expectOk(h, envelope(q), q.requestId);
        const answeredIds = [...answeredOk.get(h.layout.institutionId)!].sort();
        // Every query answered, and only those, was logged as answered.
        const logged = parsed(h.logs).filter((l) => l.msg === "query answered").map((l) => l.requestId as string);
        expect([...new Set(logged)].sort()).toEqual(answeredIds);
        // An answer shows one inquiry per requester, purpose and day (the latest), all of them answered queries, this one among them.
        const ids = answer.inquiries.map((i) => i.inquiryId);
        expect(ids).toContain(q.requestId);
        expect(ids.every((id) => answeredIds.includes(id))).toBe(true);
        expect(answer.inquiriesTotal).toBe(ids.length);
        expect(answer.inquiries.every((i) => i.requesterInstitutionId === "bank-a")).toBe(true);
        const refusals = parsed(h.logs).filter((l) => l.msg === "query refused");
        expect(refusals.length).toBeGreaterThanOrEqual(consentCases.length + 10);
        expect(rawValuesIn(h.logs.text)).toEqual([]);
      }
    });
  });
});
