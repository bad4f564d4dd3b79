import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { FilterBuilder } from "../../../src/filters/builder.js";
import { FilterFetchResponse, FilterGossip } from "../../../src/gen/creditmesh/v1/filters.js";
import type { Signed } from "../../../src/gen/creditmesh/v1/peer.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { FilterBook } from "../../../src/report/filter-book.js";
import { FilterInbox } from "../../../src/report/filter-inbox.js";
import { routeToken } from "../../../src/report/routing.js";
import { seededTokens } from "../filters/random.js";

const holderKey = generateNodeKey();
const selfKey = generateNodeKey();
const [held, fresh, absent] = seededTokens("inbox", 3);

async function setup() {
  const clock = new ManualClock("2026-12-03T00:00:00Z");
  const builder = new FilterBuilder({ institutionId: "bank-a" }, { tokens: () => [held], key: holderKey, clock });
  const book = new FilterBook({ clock });
  const members = new Map([
    ["bank-a", { institutionId: "bank-a", peerId: holderKey.peerId }],
    ["bank-c", { institutionId: "bank-c", peerId: selfKey.peerId }],
  ]);
  const inbox = new FilterInbox({ selfInstitutionId: "bank-c" }, { book, members: (id) => members.get(id) });
  const full = await builder.rebuild();
  const gossip = (kind: "announcement" | "delta", value: Signed) =>
    FilterGossip.encode({ kind: { $case: kind, value } }).finish();
  const fetch = (req: { epoch: number; includeFilter: boolean; deltasAfter: number }) => {
    const answer = builder.answerFetch(req);
    return FilterFetchResponse.encode({ announcement: answer.announcement, filter: Buffer.from(answer.filter ?? []), deltas: answer.deltas }).finish();
  };
  const route = (token: string) => routeToken(token, ["bank-a"], (id) => book.view(id), { now: clock.now(), maxSilenceMs: 90_000 });
  return { clock, builder, book, inbox, full, gossip, fetch, route };
}

describe("FilterInbox", () => {
  it("takes an announcement from gossip, asks for the filter, and routes once it is fetched", async () => {
    const { inbox, full, gossip, fetch, route } = await setup();
    const result = inbox.gossip(gossip("announcement", full.signedAnnouncement));
    expect(result).toEqual({ institutionId: "bank-a", fetch: { epoch: full.announcement.epoch, includeFilter: true, deltasAfter: 0 } });
    expect(route(absent).ask[0].reason).toBe("NO_FILTER");
    expect(inbox.fetchResponse("bank-a", fetch(result!.fetch!))).toEqual({ institutionId: "bank-a" });
    expect(route(held).ask[0].reason).toBe("FILTER_MATCH");
    expect(route(absent).skipped).toHaveLength(1);
  });

  it("asks for the missing deltas after a gap, and fills it from the fetch", async () => {
    const { inbox, builder, full, gossip, fetch, route, clock } = await setup();
    inbox.fetchResponse("bank-a", fetch({ epoch: full.announcement.epoch, includeFilter: true, deltasAfter: 0 }));
    clock.advance(30_000);
    inbox.gossip(gossip("delta", builder.issueDelta().signed)); // interval 1
    builder.noteToken(fresh);
    clock.advance(30_000);
    builder.issueDelta(); // intervals 1–2, lost on the way
    clock.advance(30_000);
    const third = builder.issueDelta(); // interval 3 only
    const result = inbox.gossip(gossip("delta", third.signed));
    expect(result?.fetch).toEqual({ epoch: full.announcement.epoch, includeFilter: false, deltasAfter: 0 });
    expect(route(fresh).ask[0].reason).toBe("DELTA_GAP");
    inbox.fetchResponse("bank-a", fetch(result!.fetch!));
    expect(route(fresh).ask[0].reason).toBe("FILTER_MATCH");
    expect(route(absent).skipped).toHaveLength(1);
  });

  it("passes on a gossiped delta's revocation head with its time, and none from a fetch, whose deltas may be old", async () => {
    const { inbox, builder, full, gossip, fetch, clock } = await setup();
    inbox.fetchResponse("bank-a", fetch({ epoch: full.announcement.epoch, includeFilter: true, deltasAfter: 0 }));
    clock.advance(30_000);
    const first = builder.issueDelta({ revocationHead: 7 });
    expect(inbox.gossip(gossip("delta", first.signed))).toEqual({ institutionId: "bank-a", revocationHead: { head: 7, issuedAt: clock.now() } });
    clock.advance(30_000);
    expect(inbox.gossip(gossip("delta", builder.issueDelta().signed))).toEqual({ institutionId: "bank-a" });
    expect(inbox.fetchResponse("bank-a", fetch({ epoch: full.announcement.epoch, includeFilter: false, deltasAfter: 0 }))).toEqual({ institutionId: "bank-a" });
  });

  it("ignores this node's own messages and refuses a non-member's", async () => {
    const { inbox, gossip, clock } = await setup();
    const own = await new FilterBuilder({ institutionId: "bank-c" }, { tokens: () => [], key: selfKey, clock }).rebuild();
    expect(inbox.gossip(gossip("announcement", own.signedAnnouncement))).toBeUndefined();
    const stranger = await new FilterBuilder({ institutionId: "bank-x" }, { tokens: () => [], key: generateNodeKey(), clock }).rebuild();
    expect(() => inbox.gossip(gossip("announcement", stranger.signedAnnouncement))).toThrow(
      expect.objectContaining({ code: "MEMBERSHIP_DENIED", field: "announcement.institution_id" }),
    );
  });

  it("refuses a member's message signed by another key, and garbage, leaving the book unchanged", async () => {
    const { inbox, book, gossip, clock } = await setup();
    const forged = await new FilterBuilder({ institutionId: "bank-a" }, { tokens: () => [absent], key: generateNodeKey(), clock }).rebuild();
    expect(() => inbox.gossip(gossip("announcement", forged.signedAnnouncement))).toThrow(expect.objectContaining({ code: "SIGNATURE_INVALID" }));
    expect(() => inbox.gossip(Buffer.from([0xff, 0xff, 0xff]))).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED", field: "filter_gossip" }));
    expect(() => inbox.gossip(FilterGossip.encode({}).finish())).toThrow(expect.objectContaining({ field: "filter_gossip.kind" }));
    expect(book.view("bank-a").failOpen).toBe("NO_ANNOUNCEMENT");
  });

  it("records nothing from a fetch answer with one bad part", async () => {
    const { inbox, book, full, fetch } = await setup();
    const good = FilterFetchResponse.decode(fetch({ epoch: full.announcement.epoch, includeFilter: true, deltasAfter: 0 }));
    const tampered = Buffer.from(good.filter);
    tampered[tampered.length - 1] ^= 1;
    expect(() => inbox.fetchResponse("bank-a", FilterFetchResponse.encode({ ...good, filter: tampered }).finish())).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED", field: "filter" }),
    );
    expect(() => inbox.fetchResponse("bank-a", FilterFetchResponse.encode({ ...good, announcement: undefined }).finish())).toThrow(
      expect.objectContaining({ field: "filter_fetch.announcement" }),
    );
    expect(book.view("bank-a").failOpen).toBe("NO_ANNOUNCEMENT");
  });

  it("says what a fetch should ask for: everything from a member never heard from, nothing once complete, nothing from itself or a stranger", async () => {
    const { inbox, full, fetch, gossip } = await setup();
    expect(inbox.wanted("bank-a")).toEqual({ epoch: 0, includeFilter: true, deltasAfter: 0 });
    inbox.gossip(gossip("announcement", full.signedAnnouncement));
    expect(inbox.wanted("bank-a")).toEqual({ epoch: full.announcement.epoch, includeFilter: true, deltasAfter: 0 });
    inbox.fetchResponse("bank-a", fetch({ epoch: full.announcement.epoch, includeFilter: true, deltasAfter: 0 }));
    expect(inbox.wanted("bank-a")).toBeUndefined();
    expect(inbox.wanted("bank-c")).toBeUndefined();
    expect(inbox.wanted("bank-z")).toBeUndefined();
  });
});

