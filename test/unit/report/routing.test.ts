import { describe, expect, it } from "vitest";
import { BinaryFuse16 } from "../../../src/filters/binary-fuse.js";
import type { Announcement, Delta, FullFilter } from "../../../src/filters/types.js";
import { memberFilterView, routeToken, type MemberFilterState, type MemberFilterView } from "../../../src/report/routing.js";
import { seededRandom, seededTokens } from "../filters/random.js";

const NOW = new Date("2026-12-03T12:00:00Z");
const EPOCH = 100;
const [held, fresh, later, absent] = seededTokens("routing", 4);
const fullFilter = BinaryFuse16.build([held], { random: seededRandom("full") });
const filterOf = (tokens: string[], seed: string) => BinaryFuse16.build(tokens, { random: seededRandom(seed) });

function announcement(over: Partial<Announcement> = {}): Announcement {
  return {
    institutionId: "bank-b",
    epoch: EPOCH,
    count: 64,
    filterSha256: new Uint8Array(32),
    filterBytes: 100,
    deltaSequence: 0,
    issuedAt: NOW,
    ...over,
  };
}
const full = (epoch = EPOCH): FullFilter => ({ institutionId: "bank-b", epoch, filter: fullFilter });
const delta = (firstSequence: number, sequence: number, tokens: string[], epoch = EPOCH): Delta => ({
  institutionId: "bank-b",
  epoch,
  firstSequence,
  sequence,
  filter: filterOf(tokens, `d${epoch}-${firstSequence}-${sequence}`),
  issuedAt: NOW,
});

function state(over: Partial<MemberFilterState> = {}): MemberFilterState {
  return { announcement: announcement(), full: full(), deltas: [], lastHeardAt: new Date(NOW.getTime() - 10_000), ...over };
}

function route(token: string, s: MemberFilterState | undefined, opts: { probe?: () => boolean; maxSilenceMs?: number } = {}) {
  const view = memberFilterView("bank-b", s);
  return routeToken(token, ["bank-b"], () => view, { now: NOW, maxSilenceMs: opts.maxSilenceMs ?? 90_000, probe: opts.probe });
}

describe("routeToken", () => {
  it("asks a member whose full filter matches the token", () => {
    expect(route(held, state())).toEqual({ ask: [{ institutionId: "bank-b", reason: "FILTER_MATCH", epoch: EPOCH }], skipped: [] });
  });

  it("skips a member whose complete filters deny the token, naming the epoch", () => {
    const r = route(absent, state({ announcement: announcement({ deltaSequence: 1 }), deltas: [delta(1, 1, [fresh])] }));
    expect(r.ask).toEqual([]);
    expect(r.skipped).toEqual([{ institutionId: "bank-b", epoch: EPOCH, reason: "not in filter epoch 100 (deltas through 1)" }]);
  });

  it("asks a member whose delta holds the token", () => {
    const s = state({ announcement: announcement({ deltaSequence: 2 }), deltas: [delta(1, 1, []), delta(2, 2, [fresh])] });
    expect(route(fresh, s).ask).toEqual([{ institutionId: "bank-b", reason: "FILTER_MATCH", epoch: EPOCH }]);
  });

  it("fails open with no announcement, whether or not the member has a view", () => {
    expect(route(absent, undefined).ask[0].reason).toBe("NO_ANNOUNCEMENT");
    const r = routeToken(absent, ["bank-x"], () => undefined, { now: NOW, maxSilenceMs: 1 });
    expect(r).toEqual({ ask: [{ institutionId: "bank-x", reason: "NO_ANNOUNCEMENT", epoch: undefined }], skipped: [] });
  });

  it("fails open when the announced filter has not been fetched", () => {
    expect(route(absent, state({ full: undefined })).ask).toEqual([{ institutionId: "bank-b", reason: "NO_FILTER", epoch: EPOCH }]);
  });

  it("fails open when the fetched filter is older than the announced epoch", () => {
    expect(route(absent, state({ full: full(EPOCH - 1) })).ask[0].reason).toBe("FILTER_OUTDATED");
  });

  it("fails open when the fetched filter is newer than the announcement at hand", () => {
    expect(route(absent, state({ full: full(EPOCH + 1) })).ask[0].reason).toBe("ANNOUNCEMENT_OUTDATED");
  });

  it("fails open when an announced delta is missing", () => {
    const s = state({ announcement: announcement({ deltaSequence: 3 }), deltas: [delta(1, 1, []), delta(3, 3, [])] });
    expect(route(absent, s).ask[0].reason).toBe("DELTA_GAP");
  });

  it("fails open when the announcement says more deltas were issued than are at hand", () => {
    const s = state({ announcement: announcement({ deltaSequence: 2 }), deltas: [delta(1, 1, [])] });
    expect(route(absent, s).ask[0].reason).toBe("DELTA_GAP");
  });

  it("fails open on a gap even when a delta at hand matches: the gap may hide other data, but asking is the answer either way", () => {
    const s = state({ announcement: announcement({ deltaSequence: 2 }), deltas: [delta(2, 2, [fresh])] });
    expect(route(fresh, s).ask[0].reason).toBe("DELTA_GAP");
  });

  it("ignores deltas of another epoch (they do not fill this epoch's intervals)", () => {
    const s = state({ announcement: announcement({ deltaSequence: 1 }), deltas: [delta(1, 1, [absent], EPOCH - 1)] });
    expect(route(absent, s).ask[0].reason).toBe("DELTA_GAP");
  });

  it("fills a lost delta with a later merged one that covers its interval", () => {
    const s = state({ announcement: announcement({ deltaSequence: 4 }), deltas: [delta(1, 1, []), delta(1, 4, [later]), delta(3, 3, [])] });
    const view = memberFilterView("bank-b", s);
    expect(view.failOpen).toBeUndefined();
    // Full filter + the one merged delta: the single-interval ones it covers are not consulted.
    expect(view.filters).toHaveLength(2);
    expect(route(later, s).ask[0].reason).toBe("FILTER_MATCH");
    expect(route(absent, s).skipped).toHaveLength(1);
  });

  it("fails open when nothing was heard from the member for longer than allowed", () => {
    const s = state({ lastHeardAt: new Date(NOW.getTime() - 90_001) });
    expect(route(absent, s).ask[0].reason).toBe("SILENT");
    expect(route(absent, state({ lastHeardAt: undefined })).ask[0].reason).toBe("SILENT");
    expect(route(absent, state({ lastHeardAt: new Date(NOW.getTime() - 90_000) })).skipped).toHaveLength(1);
  });

  it("probes a member its filters rule out when asked to, and only then", () => {
    let asked = 0;
    const probe = () => {
      asked++;
      return true;
    };
    expect(route(absent, state(), { probe }).ask).toEqual([{ institutionId: "bank-b", reason: "PROBE", epoch: EPOCH }]);
    expect(route(held, state(), { probe }).ask[0].reason).toBe("FILTER_MATCH");
    expect(asked).toBe(1);
    expect(route(absent, state(), { probe: () => false }).skipped).toHaveLength(1);
  });

  it("routes every member of the list, each by its own view, and accepts a digest or bytes for the token", () => {
    const views = new Map<string, MemberFilterView>([
      ["bank-b", memberFilterView("bank-b", state())],
      ["bank-c", memberFilterView("bank-c", state({ full: undefined }))],
    ]);
    const members = ["bank-b", "bank-c", "bank-d"];
    for (const token of [held, Buffer.from(held, "hex"), BinaryFuse16.digest(held)]) {
      const r = routeToken(token, members, (id) => views.get(id), { now: NOW, maxSilenceMs: 90_000 });
      expect(r.ask.map((a) => [a.institutionId, a.reason])).toEqual([
        ["bank-b", "FILTER_MATCH"],
        ["bank-c", "NO_FILTER"],
        ["bank-d", "NO_ANNOUNCEMENT"],
      ]);
    }
    const r = routeToken(absent, members, (id) => views.get(id), { now: NOW, maxSilenceMs: 90_000 });
    expect(r.skipped.map((s) => s.institutionId)).toEqual(["bank-b"]);
    expect(r.ask.map((a) => a.institutionId)).toEqual(["bank-c", "bank-d"]);
  });

  it("refuses a token that is not one, naming the field", () => {
    expect(() => route("not-a-token", state())).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED", field: "subject_token" }));
  });
});
