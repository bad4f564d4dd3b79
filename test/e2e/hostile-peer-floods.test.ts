import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isoDate } from "../../src/clock.js";
import { parseConfig } from "../../src/config/load.js";
import { HolderStatus, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import { FilterFetchRequest, FilterFetchResponse } from "../../src/gen/creditmesh/v1/filters.js";
import { QueryAnswer, QueryRequest, RevocationsPage, RevocationsRequest, Signed } from "../../src/gen/creditmesh/v1/peer.js";
import { HolderAnswer } from "../../src/gen/creditmesh/v1/report.js";
import type { NodeKey } from "../../src/identity/node-key.js";
import { DISPUTE_PROTOCOL, FILTERS_PROTOCOL, QUERY_PROTOCOL, REVOCATIONS_PROTOCOL, WITNESS_PROTOCOL } from "../../src/p2p/protocols.js";
import { INQUIRY_PROOF_V1, querySignedBytes } from "../../src/report/inquiry-proof.js";
import { RpcRemoteError } from "../../src/p2p/rpc-client.js";
import { startBarePeer, type BarePeer } from "../helpers/bare-peer.js";
import { activeConsent } from "../helpers/consent.js";
import { startInProcessNetwork, waitUntil, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";

/**
 * Per-member rate limits are on without any configuration (`p2p.rateLimits`):
 * a member asking one protocol in a loop is refused RATE_LIMITED once its
 * budget is spent, while another member is served at once. The network runs
 * with the default configuration; bank-a and bank-d exist only as keys, used
 * by bare libp2p peers that send the flood and the honest request.
 *
 * Each flood is many times the protocol's one-second budget, sent at once, so
 * a refusal needs only that the holder answers them within several seconds.
 * The bucket's arithmetic is test/unit/rate-limit.test.ts; which rate each
 * protocol gets, test/unit/config/peer-rate-limits.test.ts.
 */

const P2P_DEFAULTS = parseConfig({}).p2p;
const DEFAULTS = P2P_DEFAULTS.rateLimits;
/** Requests in each flood: this many seconds' worth of the protocol's default rate, at once. */
const FLOOD_SECONDS = 20;

type Outcome = "served" | "RATE_LIMITED" | string;

async function outcomeOf(p: Promise<Uint8Array>, decode: (bytes: Uint8Array) => unknown): Promise<Outcome> {
  try {
    decode(await p);
    return "served";
  } catch (err) {
    if (err instanceof RpcRemoteError) return err.remoteCode;
    throw err;
  }
}

function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return counts;
}

describe("floods by members, with the default configuration", () => {
  let net: InProcessNetwork;
  let holder: NetworkMember;
  let flooder: BarePeer;
  let other: BarePeer;
  /** Members 4 and 5 (lenders too): with bank-a, three members flooding queries at once. */
  let moreFlooders: BarePeer[] = [];

  beforeAll(async () => {
    net = await startInProcessNetwork({
      nodes: 6,
      run: (i) => i === 1 || i === 2,
      roles: (i) => (i === 1 || i === 2 ? [Role.FURNISHER, Role.LENDER] : [Role.LENDER]),
      configOverrides: { filters: { enabled: true } },
    });
    holder = net.running[0]!;
    const membership = await net.membership();
    flooder = await startBarePeer(net.members[0]!.key, membership);
    other = await startBarePeer(net.members[3]!.key, membership);
    moreFlooders = [await startBarePeer(net.members[4]!.key, membership), await startBarePeer(net.members[5]!.key, membership)];
    for (const bare of [flooder, other, ...moreFlooders]) await bare.peer.connect(holder.key.peerId);
  }, 120_000);

  afterAll(async () => {
    for (const bare of moreFlooders) await bare.stop();
    await other?.stop();
    await flooder?.stop();
    await net?.stop();
  });

  const ask = (from: BarePeer, protocol: string, body: Uint8Array) => from.client.request(holder.key.peerId, protocol, body, AbortSignal.timeout(60_000));

  const cases: { what: string; protocol: string; rate: number; body: () => Uint8Array; decode: (b: Uint8Array) => unknown; within: Outcome }[] = [
    {
      what: "filter fetches (a full filter each)",
      protocol: FILTERS_PROTOCOL,
      rate: DEFAULTS.filters,
      body: () => FilterFetchRequest.encode({ epoch: "0", includeFilter: true, deltasAfter: "0" }).finish(),
      decode: (b) => FilterFetchResponse.decode(b),
      within: "served",
    },
    {
      what: "revocation pulls",
      protocol: REVOCATIONS_PROTOCOL,
      rate: DEFAULTS.revocations,
      body: () => RevocationsRequest.encode({ afterSequence: "0", limit: 100 }).finish(),
      decode: (b) => RevocationsPage.decode(b),
      within: "served",
    },
    {
      // Not a checkpoint at all: within the budget it is refused for what it is, beyond it before it is read.
      what: "witness requests",
      protocol: WITNESS_PROTOCOL,
      rate: DEFAULTS.witness,
      body: () => Uint8Array.of(0xff, 0xff, 0xff),
      decode: () => undefined,
      within: "P2P_PROTOCOL",
    },
    {
      // A dispute filing whose signature is not the member's: within the budget SIGNATURE_INVALID, beyond it refused before it is verified.
      what: "dispute filings",
      protocol: DISPUTE_PROTOCOL,
      rate: DEFAULTS.dispute,
      body: () => Signed.encode({ body: Buffer.alloc(0), signature: Buffer.alloc(64) }).finish(),
      decode: () => undefined,
      within: "SIGNATURE_INVALID",
    },
  ];

  it.each(cases)("$what: refused RATE_LIMITED beyond the default budget, another member served at once", async ({ protocol, rate, body, decode, within }) => {
    const flood = Array.from({ length: Math.ceil(rate * FLOOD_SECONDS) }, () => outcomeOf(ask(flooder, protocol, body()), decode));
    const counts = tally(await Promise.all(flood));
    // At least the burst was taken for what it is, and most of the flood was refused unread.
    expect(counts[within] ?? 0).toBeGreaterThanOrEqual(Math.ceil(rate));
    expect(counts.RATE_LIMITED ?? 0).toBeGreaterThan(flood.length / 2);
    expect(Object.keys(counts).sort()).toEqual([within, "RATE_LIMITED"].sort());
    // Another member's budget is its own.
    expect(await outcomeOf(ask(other, protocol, body()), decode)).toBe(within);
  }, 120_000);

  /** A query as a lender's node signs it, about a subject of its own (each query a new one: no per-subject quota is reached). */
  function signedQuery(institutionId: string, key: NodeKey): Uint8Array {
    const subjectToken = randomBytes(32).toString("hex");
    const consent = activeConsent({ subjectToken, grantee: institutionId, signer: key });
    const query: QueryRequest = {
      requestId: randomUUID(),
      requesterInstitutionId: institutionId,
      subjectToken,
      purpose: Purpose.LOAN_ORIGINATION,
      consent,
      issuedAt: new Date(),
      nonce: randomBytes(16),
      asOf: isoDate(new Date()),
      inquiryProof: INQUIRY_PROOF_V1,
    };
    const body = QueryRequest.encode(query).finish();
    return Signed.encode({ body: Buffer.from(body), signature: Buffer.from(key.sign(querySignedBytes(body, query))) }).finish();
  }

  const statusOf = (raw: Uint8Array) => HolderStatus[HolderAnswer.decode(QueryAnswer.decode(raw).signedAnswer).status];

  it("queries: three members with their whole shares at the holder delay another member's query by a turn or two, not by all of theirs", async () => {
    const share = P2P_DEFAULTS.maxConcurrentQueriesPerMember;
    const flooders = [
      { bare: flooder, member: net.members[0]! },
      { bare: moreFlooders[0]!, member: net.members[4]! },
      { bare: moreFlooders[1]!, member: net.members[5]! },
    ];
    const honest = { bare: other, member: net.members[3]! };
    const query = (from: typeof honest) => ask(from.bare, QUERY_PROTOCOL, signedQuery(from.member.layout.institutionId, from.member.key));
    // Every member's query stream is open, as a node's are once it has asked the holder anything.
    for (const from of [...flooders, honest]) expect(statusOf(await query(from))).toBe("NO_DATA");
    let floodAnswered = 0;
    const flood = flooders.flatMap((from) =>
      Array.from({ length: share }, () =>
        query(from).then((raw) => {
          floodAnswered++;
          return statusOf(raw);
        }),
      ),
    );
    // Once the first answer is back the holder has the flood: the other member asks behind it.
    await waitUntil(() => floodAnswered > 0, 60_000, "the first answer to the flood");
    const answer = await query(honest);
    const outstanding = flood.length - floodAnswered;
    expect(statusOf(answer)).toBe("NO_DATA");
    // Its query took one of the next turns, not a place after the whole flood: at least another group of turns'
    // worth of the flood was still waiting (64–96 of 192 in runs here). With every query worked on at once, as
    // before turns, the flood's answers all came back together, before its own (0 left).
    expect(outstanding).toBeGreaterThanOrEqual(P2P_DEFAULTS.answerTurns);
    expect(tally(await Promise.all(flood))).toEqual({ NO_DATA: flood.length });
  }, 120_000);
});
