import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { acceptFullFilter, verifyAnnouncement, verifyDelta } from "../../../src/filters/announcement.js";
import { FilterBuilder } from "../../../src/filters/builder.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { FilterBook } from "../../../src/report/filter-book.js";
import { routeToken } from "../../../src/report/routing.js";
import { seededRandom, seededTokens } from "./random.js";

const key = generateNodeKey();
const signer = { institutionId: "bank-a", peerId: key.peerId };

function setup(initial: string[]) {
  const clock = new ManualClock("2026-12-03T00:00:00Z");
  const index = new Set(initial);
  async function* scan() {
    for (const t of [...index]) yield t;
  }
  const builder = new FilterBuilder({ institutionId: "bank-a" }, { tokens: scan, key, clock, random: seededRandom("builder") });
  return { clock, index, builder };
}

describe("FilterBuilder", () => {
  it("publishes a full filter of every indexed token, signed and fetchable", async () => {
    const tokens = seededTokens("full", 500);
    const { builder, clock } = setup(tokens);
    const full = await builder.rebuild();
    const announcement = verifyAnnouncement(full.signedAnnouncement, signer);
    expect(announcement).toMatchObject({ institutionId: "bank-a", epoch: clock.now().getTime(), count: 512, deltaSequence: 0 });
    const accepted = acceptFullFilter(announcement, full.filter);
    for (const t of tokens) expect(accepted.filter.has(t)).toBe(true);
  });

  it("says what it publishes: nothing before the first build, then the epoch's announcement and the deltas since", async () => {
    const { builder, clock } = setup(seededTokens("published", 3));
    expect(builder.published()).toBeUndefined();
    const full = await builder.rebuild();
    expect(builder.published()).toEqual({ announcement: full.announcement, deltas: 0 });
    clock.advance(30_000);
    builder.issueDelta();
    builder.issueDelta();
    expect(builder.published()).toMatchObject({ announcement: { epoch: full.announcement.epoch, count: full.announcement.count }, deltas: 2 });
  });

  it("issues one delta per interval, empty or not, each covering a binary-counter range of intervals", async () => {
    const { builder, clock } = setup([]);
    await builder.rebuild();
    const noted = seededTokens("delta", 8);
    const ranges: [number, number][] = [];
    for (let i = 0; i < 8; i++) {
      if (i !== 2) builder.noteToken(noted[i]); // interval 3 stays empty
      clock.advance(30_000);
      const d = builder.issueDelta();
      ranges.push([d.firstSequence, d.sequence]);
      const verified = verifyDelta(d.signed, signer);
      for (let j = d.firstSequence; j <= d.sequence; j++) if (j !== 3) expect(verified.filter.has(noted[j - 1])).toBe(true);
    }
    expect(ranges).toEqual([[1, 1], [1, 2], [3, 3], [1, 4], [5, 5], [5, 6], [7, 7], [1, 8]]);
  });

  it("answers a fetch with the fewest deltas covering what the requester lacks", async () => {
    const { builder } = setup([]);
    await builder.rebuild();
    for (let i = 0; i < 7; i++) builder.issueDelta();
    const epoch = builder.currentEpoch!;
    const seqs = (after: number) =>
      builder.answerFetch({ epoch, includeFilter: false, deltasAfter: after }).deltas.map((s) => {
        const d = verifyDelta(s, signer);
        return [d.firstSequence, d.sequence];
      });
    expect(seqs(0)).toEqual([[1, 4], [5, 6], [7, 7]]);
    expect(seqs(6)).toEqual([[7, 7]]);
    expect(seqs(7)).toEqual([]);
    const reply = builder.answerFetch({ epoch, includeFilter: false, deltasAfter: 4 });
    expect(reply.filter).toBeUndefined();
    expect(verifyAnnouncement(reply.announcement, signer).deltaSequence).toBe(7);
    // A requester on an older epoch gets the whole current epoch: filter and every interval.
    const stale = builder.answerFetch({ epoch: epoch - 1, includeFilter: false, deltasAfter: 5 });
    expect(stale.filter).toBeDefined();
    expect(stale.deltas).toHaveLength(3);
    expect(() => builder.answerFetch({ epoch, includeFilter: false, deltasAfter: -1 })).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED", field: "deltas_after" }),
    );
  });

  it("keeps tokens noted during a rebuild for the next epoch, so none falls between scan and switch", async () => {
    const [before, during, after] = seededTokens("carry", 3);
    const clock = new ManualClock("2026-12-03T00:00:00Z");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let scans = 0;
    async function* scan() {
      scans++;
      yield before;
      if (scans === 2) await gate;
    }
    const builder = new FilterBuilder({ institutionId: "bank-a" }, { tokens: scan, key, clock });
    await builder.rebuild();
    const rebuilding = builder.rebuild();
    await Promise.resolve();
    builder.noteToken(during); // the index scan has passed it
    await expect(builder.rebuild()).rejects.toMatchObject({ code: "CONFLICT" });
    release();
    const full = await rebuilding;
    builder.noteToken(after);
    const d = verifyDelta(builder.issueDelta().signed, signer);
    expect(d.epoch).toBe(full.announcement.epoch);
    expect(d.filter.has(during)).toBe(true);
    expect(d.filter.has(after)).toBe(true);
  });

  it("makes each epoch later than the last, even when the clock stands still or went back", async () => {
    const { builder, clock } = setup([]);
    const first = (await builder.rebuild()).announcement.epoch;
    clock.advance(-60_000);
    const second = (await builder.rebuild()).announcement.epoch;
    expect(second).toBe(first + 1);
    const restarted = new FilterBuilder({ institutionId: "bank-a", minEpoch: second }, { tokens: () => [], key, clock });
    expect((await restarted.rebuild()).announcement.epoch).toBe(second + 1);
  });

  it("refuses deltas before the first build, and tokens that are not tokens", async () => {
    const { builder } = setup([]);
    expect(() => builder.issueDelta()).toThrow(expect.objectContaining({ code: "UNAVAILABLE" }));
    expect(() => builder.noteToken("xyz")).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED", field: "subject_token" }));
  });

  it("feeds a requester's book end to end: skipped before the account, asked after the next delta", async () => {
    const existing = seededTokens("e2e", 50);
    const [newcomer] = seededTokens("e2e-new", 1);
    const { builder, clock } = setup(existing);
    const book = new FilterBook({ clock });
    const full = await builder.rebuild();
    const announcement = verifyAnnouncement(full.signedAnnouncement, signer);
    book.announce(announcement);
    book.setFull(acceptFullFilter(announcement, full.filter));
    const route = (t: string) => routeToken(t, ["bank-a"], (id) => book.view(id), { now: clock.now(), maxSilenceMs: 90_000 });
    expect(route(existing[0]).ask.map((a) => a.reason)).toEqual(["FILTER_MATCH"]);
    expect(route(newcomer).skipped).toHaveLength(1);
    builder.noteToken(newcomer);
    clock.advance(30_000);
    book.addDelta(verifyDelta(builder.issueDelta().signed, signer));
    expect(route(newcomer).ask.map((a) => a.reason)).toEqual(["FILTER_MATCH"]);
  });
});
