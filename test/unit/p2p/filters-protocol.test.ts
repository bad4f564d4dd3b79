import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { isCreditMeshError } from "../../../src/errors.js";
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

function side(key: NodeKey, builder: FilterBuilder | undefined, rpc: PeerComponents["rpc"]) {
  const book = new FilterBook({ clock });
  const inbox = new FilterInbox(
    { selfInstitutionId: idOf(key) },
    { book, members: (id) => membership.byInstitution(id) && { institutionId: id, peerId: membership.byInstitution(id)!.peerId } },
  );
  const protocol = new FiltersProtocol(
    { peer: {} as PeerComponents["peer"], rpc, membership, signer: { peerId: key.peerId, sign: (d) => key.sign(d) }, logger: silentLogger(), builder, inbox },
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
      return holder.protocol.handleMessage(body);
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
    const err = await protocol.handleMessage(Uint8Array.from([0xff, 0xff, 0xff])).catch((e: unknown) => e);
    expect(isCreditMeshError(err, "P2P_PROTOCOL")).toBe(true);
    // A well-formed one still works.
    await expect(protocol.handleMessage(FilterFetchRequest.encode({ epoch: "0", includeFilter: true, deltasAfter: "0" }).finish())).resolves.toBeInstanceOf(Uint8Array);
  });

  it("a fetch from a non-member is refused before anything is sent", async () => {
    const { requester, requests } = await pair();
    const err = await requester.protocol.fetch("not-a-member").catch((e: unknown) => e);
    expect(isCreditMeshError(err, "MEMBERSHIP_DENIED")).toBe(true);
    expect(requests).toEqual([]);
  });
});
