import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { Role } from "../../src/gen/creditmesh/v1/common.js";
import { FilterFetchRequest, FilterFetchResponse } from "../../src/gen/creditmesh/v1/filters.js";
import { RevocationsPage, RevocationsRequest, Signed } from "../../src/gen/creditmesh/v1/peer.js";
import { DISPUTE_PROTOCOL, FILTERS_PROTOCOL, REVOCATIONS_PROTOCOL, WITNESS_PROTOCOL } from "../../src/p2p/protocols.js";
import { RpcRemoteError } from "../../src/p2p/rpc-client.js";
import { startBarePeer, type BarePeer } from "../helpers/bare-peer.js";
import { startInProcessNetwork, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";

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

const DEFAULTS = parseConfig({}).p2p.rateLimits;
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

describe("floods by one member, with the default configuration", () => {
  let net: InProcessNetwork;
  let holder: NetworkMember;
  let flooder: BarePeer;
  let other: BarePeer;

  beforeAll(async () => {
    net = await startInProcessNetwork({
      nodes: 4,
      run: (i) => i === 1 || i === 2,
      roles: (i) => [[Role.LENDER], [Role.FURNISHER, Role.LENDER], [Role.FURNISHER, Role.LENDER], [Role.LENDER]][i]!,
      configOverrides: { filters: { enabled: true } },
    });
    holder = net.running[0]!;
    const membership = await net.membership();
    flooder = await startBarePeer(net.members[0]!.key, membership);
    other = await startBarePeer(net.members[3]!.key, membership);
    for (const bare of [flooder, other]) await bare.peer.connect(holder.key.peerId);
  }, 120_000);

  afterAll(async () => {
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
});
