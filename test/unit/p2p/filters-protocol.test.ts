import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { CreditMeshError, isCreditMeshError } from "../../../src/errors.js";
import { FilterBuilder } from "../../../src/filters/builder.js";
import { FilterFetchRequest } from "../../../src/gen/creditmesh/v1/filters.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import type { PeerComponents } from "../../../src/p2p/components.js";
import { FiltersProtocol } from "../../../src/p2p/filters-protocol.js";
import { FILTERS_PROTOCOL } from "../../../src/p2p/protocols.js";
import { FilterBook } from "../../../src/report/filter-book.js";
import { FilterInbox } from "../../../src/report/filter-inbox.js";
import { RateLimiter } from "../../../src/rate-limit.js";
import { manifestFor } from "./net-fixture.js";

const operator = generateNodeKey();
const holderKey = generateNodeKey();
const requesterKey = generateNodeKey();
const membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: holderKey }, { key: requesterKey }], 1));
const idOf = (key: NodeKey) => membership.byPeerId(key.peerId)!.institutionId;
const HOLDER = idOf(holderKey);
const HELD = "ab".repeat(32);
const NOT_HELD = "cd".repeat(32);
const clock = new ManualClock("2026-03-01T00:00:00Z");

function side(key: NodeKey, builder: FilterBuilder | undefined, rpc: PeerComponents["rpc"], rateLimiter?: RateLimiter) {
  const book = new FilterBook({ clock });
  const inbox = new FilterInbox(
    { selfInstitutionId: idOf(key) },
    { book, members: (id) => membership.byInstitution(id) && { institutionId: id, peerId: membership.byInstitution(id)!.peerId } },
  );
  const protocol = new FiltersProtocol(
    { peer: {} as PeerComponents["peer"], rpc, membership, signer: { peerId: key.peerId, sign: (d) => key.sign(d) }, logger: silentLogger(), builder, inbox, rateLimiter },
    { maxFrameBytes: 1024 * 1024, handlerTimeoutMs: 1_000 },
  );
  return { book, protocol };
}

/** A holder that built a filter of HELD, and a requester whose requests reach the holder's handler directly. */
async function pair(opts: { holderPublishes: boolean } = { holderPublishes: true }) {
  const builder = new FilterBuilder({ institutionId: HOLDER }, { tokens: () => [HELD], key: holderKey, clock });
  if (opts.holderPublishes) await builder.rebuild();
  const holder = side(holderKey, opts.holderPublishes ? builder : undefined, { request: async () => new Uint8Array() });
  const requests: string[] = [];
  const requester = side(requesterKey, undefined, {
    request: async (peerId, protocol, body) => {
      requests.push(`${peerId} ${protocol}`);
      return holder.protocol.handleMessage(body, { peerId: requesterKey.peerId });
    },
  });
  return { builder, requester, requests };
}

describe("/creditmesh/filters", () => {
  it("a fetch brings the holder's verified filter into the requester's book: the held token matches, another does not", async () => {
    const { requester, requests } = await pair();
    await requester.protocol.fetch(HOLDER);
    expect(requests).toEqual([`${holderKey.peerId} ${FILTERS_PROTOCOL}`]);
    const view = requester.book.view(HOLDER);
    expect(view.failOpen).toBeUndefined();
    expect(view.filters.some((f) => f.has(HELD))).toBe(true);
    expect(view.filters.some((f) => f.has(NOT_HELD))).toBe(false);
  });

  it("tokens noted after the rebuild arrive as deltas on the next fetch", async () => {
    const { builder, requester } = await pair();
    await requester.protocol.fetch(HOLDER);
    builder.noteToken(NOT_HELD);
    builder.issueDelta();
    const position = requester.book.fetchPosition(HOLDER)!;
    await requester.protocol.fetch(HOLDER, position);
    expect(requester.book.view(HOLDER).filters.some((f) => f.has(NOT_HELD))).toBe(true);
  });

  it("a member that publishes no filter answers UNAVAILABLE, and the requester's book stays empty (it keeps asking that member)", async () => {
    const { requester } = await pair({ holderPublishes: false });
    const err = await requester.protocol.fetch(HOLDER).catch((e: unknown) => e);
    expect(isCreditMeshError(err, "UNAVAILABLE")).toBe(true);
    expect(requester.book.view(HOLDER).failOpen).toBe("NO_ANNOUNCEMENT");
  });

  it("a malformed request is refused with P2P_PROTOCOL", async () => {
    const builder = new FilterBuilder({ institutionId: HOLDER }, { tokens: () => [HELD], key: holderKey, clock });
    await builder.rebuild();
    const { protocol } = side(holderKey, builder, { request: async () => new Uint8Array() });
    const err = await protocol.handleMessage(Uint8Array.from([0xff, 0xff, 0xff]), { peerId: requesterKey.peerId }).catch((e: unknown) => e);
    expect(isCreditMeshError(err, "P2P_PROTOCOL")).toBe(true);
    // A well-formed one still works.
    await expect(protocol.handleMessage(FilterFetchRequest.encode({ epoch: "0", includeFilter: true, deltasAfter: "0" }).finish(), { peerId: requesterKey.peerId })).resolves.toBeInstanceOf(Uint8Array);
  });

  it("with p2p.rateLimitPerPeer set, a peer fetching faster is refused RATE_LIMITED before anything is read; other peers are not", async () => {
    const builder = new FilterBuilder({ institutionId: HOLDER }, { tokens: () => [HELD], key: holderKey, clock });
    await builder.rebuild();
    let answered = 0;
    const counting = { answerFetch: (q: Parameters<FilterBuilder["answerFetch"]>[0]) => (answered++, builder.answerFetch(q)) };
    const { protocol } = side(holderKey, counting as unknown as FilterBuilder, { request: async () => new Uint8Array() }, new RateLimiter(1, 1, clock));
    const full = FilterFetchRequest.encode({ epoch: "0", includeFilter: true, deltasAfter: "0" }).finish();
    await protocol.handleMessage(full, { peerId: requesterKey.peerId });
    const err = await protocol.handleMessage(full, { peerId: requesterKey.peerId }).catch((e: unknown) => e);
    expect(isCreditMeshError(err, "RATE_LIMITED")).toBe(true);
    expect(answered).toBe(1);
    await protocol.handleMessage(full, { peerId: "another-peer" });
    clock.advance(1_000);
    await protocol.handleMessage(full, { peerId: requesterKey.peerId });
    expect(answered).toBe(3);
  });

  it("a fetch from a non-member is refused before anything is sent", async () => {
    const { requester, requests } = await pair();
    const err = await requester.protocol.fetch("not-a-member").catch((e: unknown) => e);
    expect(isCreditMeshError(err, "MEMBERSHIP_DENIED")).toBe(true);
    expect(requests).toEqual([]);
  });
});

describe("/creditmesh/filters background fetches", () => {
  const holderKeys = Array.from({ length: 6 }, () => generateNodeKey());
  const selfKey = generateNodeKey();
  const many = new Membership(operator.publicKey, manifestFor(operator, [{ key: selfKey }, ...holderKeys.map((key) => ({ key }))], 1));
  const idIn = (key: NodeKey) => many.byPeerId(key.peerId)!.institutionId;

  /** A requester among six publishing holders; `gate` decides when (and whether) each request is answered. */
  async function crowd(gate: (peerId: string, attempt: number) => Promise<void>) {
    const holders = new Map<string, FiltersProtocol>();
    for (const key of holderKeys) {
      const builder = new FilterBuilder({ institutionId: idIn(key) }, { tokens: () => [HELD], key, clock });
      await builder.rebuild();
      const unused = { request: async () => new Uint8Array() };
      const inbox = { fetchResponse: () => ({ institutionId: "" }), wanted: () => undefined };
      const signer = { peerId: key.peerId, sign: (d: Uint8Array) => key.sign(d) };
      holders.set(key.peerId, new FiltersProtocol({ peer: {} as PeerComponents["peer"], rpc: unused, membership: many, signer, logger: silentLogger(), builder, inbox }, { maxFrameBytes: 1024 * 1024, handlerTimeoutMs: 1_000 }));
    }
    const book = new FilterBook({ clock });
    const inbox = new FilterInbox(
      { selfInstitutionId: idIn(selfKey) },
      { book, members: (id) => many.byInstitution(id) && { institutionId: id, peerId: many.byInstitution(id)!.peerId } },
    );
    let inFlight = 0;
    let maxInFlight = 0;
    const attempts = new Map<string, number>();
    let connect: ((peerId: string) => void) | undefined;
    const peer = {
      handle: async () => undefined,
      unhandle: async () => undefined,
      onPeerConnect: (listener: (peerId: string) => void) => {
        connect = listener;
        return () => undefined;
      },
    } as unknown as PeerComponents["peer"];
    const rpc: PeerComponents["rpc"] = {
      request: async (peerId, _protocol, body) => {
        const attempt = (attempts.get(peerId) ?? 0) + 1;
        attempts.set(peerId, attempt);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          await gate(peerId, attempt);
          return await holders.get(peerId)!.handleMessage(body, { peerId: requesterKey.peerId });
        } finally {
          inFlight--;
        }
      },
    };
    const protocol = new FiltersProtocol(
      { peer, rpc, membership: many, signer: { peerId: selfKey.peerId, sign: (d) => selfKey.sign(d) }, logger: silentLogger(), inbox },
      { maxFrameBytes: 1024 * 1024, handlerTimeoutMs: 1_000, fetch: { concurrency: 2, retryInitialMs: 5, retryMaxMs: 20 } },
    );
    await protocol.start();
    const settled = async () => {
      while (protocol.pending > 0) await new Promise((r) => setTimeout(r, 5));
    };
    return { protocol, book, attempts, settled, connect: (key: NodeKey) => connect!(key.peerId), maxInFlight: () => maxInFlight };
  }

  it("fetches every member's filter with at most `concurrency` requests in flight, each member once", async () => {
    const { protocol, book, attempts, settled, maxInFlight } = await crowd(() => new Promise((r) => setTimeout(r, 5)));
    for (const key of holderKeys) {
      protocol.pull(idIn(key));
      protocol.pull(idIn(key));
    }
    await settled();
    expect(maxInFlight()).toBe(2);
    expect([...attempts.values()]).toEqual(holderKeys.map(() => 1));
    for (const key of holderKeys) expect(book.view(idIn(key)).failOpen).toBeUndefined();
    await protocol.stop();
  });

  it("a member whose fetch fails is asked again until its filter is in, the others are not held up", async () => {
    const flaky = holderKeys[0];
    const { protocol, book, attempts, settled } = await crowd(async (peerId, attempt) => {
      if (peerId === flaky.peerId && attempt < 3) throw new CreditMeshError("P2P_UNREACHABLE", "dial timed out");
    });
    for (const key of holderKeys) protocol.pull(idIn(key));
    await settled();
    expect(attempts.get(flaky.peerId)).toBe(3);
    expect(book.view(idIn(flaky)).failOpen).toBeUndefined();
    expect(attempts.get(holderKeys[1].peerId)).toBe(1);
    await protocol.stop();
  });

  it("(re)connecting to a member whose filters are complete fetches nothing; to one never heard from, its filter", async () => {
    const { protocol, attempts, settled, connect } = await crowd(async () => undefined);
    protocol.pull(idIn(holderKeys[0]));
    await settled();
    connect(holderKeys[0]);
    connect(holderKeys[1]);
    connect(selfKey);
    await settled();
    expect(attempts.get(holderKeys[0].peerId)).toBe(1);
    expect(attempts.get(holderKeys[1].peerId)).toBe(1);
    expect(attempts.has(selfKey.peerId)).toBe(false);
    await protocol.stop();
  });

  it("stop() drops queued fetches and pending retries", async () => {
    const { protocol, attempts } = await crowd(async () => {
      throw new CreditMeshError("P2P_UNREACHABLE", "unreachable");
    });
    for (const key of holderKeys) protocol.pull(idIn(key));
    await protocol.stop();
    const seen = [...attempts.values()].reduce((a, b) => a + b, 0);
    await new Promise((r) => setTimeout(r, 60));
    expect([...attempts.values()].reduce((a, b) => a + b, 0)).toBe(seen);
    expect(protocol.pending).toBe(0);
  });
});
