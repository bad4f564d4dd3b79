import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { BinaryFuse16 } from "../../../src/filters/binary-fuse.js";
import type { Announcement, Delta } from "../../../src/filters/types.js";
import { FilterBook } from "../../../src/report/filter-book.js";
import { routeToken } from "../../../src/report/routing.js";
import { seededRandom, seededTokens } from "../filters/random.js";

const [held, fresh, absent] = seededTokens("book", 3);
let signedAt = Date.parse("2020-01-01T00:00:00Z"); // the member's clock: the book goes by its own for silence
const nextIssuedAt = () => new Date((signedAt += 1000));
const announcement = (epoch: number, deltaSequence = 0, issuedAt = nextIssuedAt()): Announcement => ({
  institutionId: "bank-b",
  epoch,
  count: 64,
  filterSha256: new Uint8Array(32),
  filterBytes: 100,
  deltaSequence,
  issuedAt,
});
const filter = (tokens: string[], seed: string) => BinaryFuse16.build(tokens, { random: seededRandom(seed) });
const delta = (epoch: number, firstSequence: number, sequence: number, tokens: string[]): Delta => ({
  institutionId: "bank-b",
  epoch,
  firstSequence,
  sequence,
  filter: filter(tokens, `${epoch}/${firstSequence}/${sequence}`),
  issuedAt: nextIssuedAt(),
});

function setup() {
  const clock = new ManualClock("2026-12-03T12:00:00Z");
  const book = new FilterBook({ clock });
  const routeOf = (token: string) => routeToken(token, ["bank-b"], (id) => book.view(id), { now: clock.now(), maxSilenceMs: 90_000 });
  return { clock, book, routeOf };
}

describe("FilterBook", () => {
  it("goes from fail-open to routing as the announcement, the filter and the deltas arrive", () => {
    const { book, routeOf } = setup();
    expect(routeOf(absent).ask[0].reason).toBe("NO_ANNOUNCEMENT");
    expect(book.announce(announcement(5))).toBe(true);
    expect(book.needsFilter("bank-b")).toBe(true);
    expect(book.fetchPosition("bank-b")).toEqual({ epoch: 5, includeFilter: true, deltasAfter: 0 });
    expect(routeOf(absent).ask[0].reason).toBe("NO_FILTER");
    book.setFull({ institutionId: "bank-b", epoch: 5, filter: filter([held], "f5") });
    expect(book.needsFilter("bank-b")).toBe(false);
    expect(routeOf(absent).skipped).toHaveLength(1);
    book.addDelta(delta(5, 2, 2, [fresh]));
    expect(routeOf(fresh).ask[0].reason).toBe("DELTA_GAP");
    expect(book.fetchPosition("bank-b")).toEqual({ epoch: 5, includeFilter: false, deltasAfter: 0 });
    book.addDelta(delta(5, 1, 1, []));
    expect(routeOf(fresh).ask[0].reason).toBe("FILTER_MATCH");
    expect(book.fetchPosition("bank-b")).toEqual({ epoch: 5, includeFilter: false, deltasAfter: 2 });
  });

  it("keeps the newest epoch: an older announcement is refused, a newer one drops the old deltas and needs its filter", () => {
    const { book, routeOf } = setup();
    book.announce(announcement(5, 1));
    book.setFull({ institutionId: "bank-b", epoch: 5, filter: filter([held], "f5") });
    book.addDelta(delta(5, 1, 1, [fresh]));
    expect(book.announce(announcement(4))).toBe(false);
    expect(book.announce(announcement(5, 0))).toBe(false);
    expect(routeOf(fresh).ask[0].reason).toBe("FILTER_MATCH");
    expect(book.announce(announcement(6))).toBe(true);
    expect(routeOf(absent).ask[0].reason).toBe("FILTER_OUTDATED");
    // A delta of the superseded epoch is no longer taken.
    book.addDelta(delta(5, 2, 2, [absent]));
    book.setFull({ institutionId: "bank-b", epoch: 6, filter: filter([held, fresh], "f6") });
    expect(routeOf(absent).skipped).toHaveLength(1);
    // An older filter fetched late does not replace the newer one.
    book.setFull({ institutionId: "bank-b", epoch: 5, filter: filter([absent], "late") });
    expect(routeOf(absent).skipped).toHaveLength(1);
  });

  it("measures silence by its own clock from the last message accepted", () => {
    const { book, clock, routeOf } = setup();
    book.announce(announcement(5));
    book.setFull({ institutionId: "bank-b", epoch: 5, filter: filter([held], "f5") });
    clock.advance(90_001);
    expect(routeOf(absent).ask[0].reason).toBe("SILENT");
    book.addDelta(delta(5, 1, 1, []));
    expect(routeOf(absent).skipped).toHaveLength(1);
  });

  it("does not count a replayed announcement as hearing from the member", () => {
    const { book, clock, routeOf } = setup();
    const original = announcement(5);
    book.announce(original);
    book.setFull({ institutionId: "bank-b", epoch: 5, filter: filter([held], "f5") });
    clock.advance(60_000);
    expect(book.announce(original)).toBe(true);
    clock.advance(30_001);
    expect(routeOf(absent).ask[0].reason).toBe("SILENT");
    book.announce(announcement(5));
    expect(routeOf(absent).skipped).toHaveLength(1);
  });

  it("forgets a member that left", () => {
    const { book, routeOf } = setup();
    book.announce(announcement(5));
    book.setFull({ institutionId: "bank-b", epoch: 5, filter: filter([held], "f5") });
    book.forget("bank-b");
    expect(routeOf(absent).ask[0].reason).toBe("NO_ANNOUNCEMENT");
    expect(book.fetchPosition("bank-b")).toBeUndefined();
  });
});
