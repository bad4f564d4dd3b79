import { afterEach, describe, expect, it, vi } from "vitest";
import { ManualClock, type Clock } from "../../../src/clock.js";
import { verifyAnnouncement, verifyDelta } from "../../../src/filters/announcement.js";
import { FilterBuilder } from "../../../src/filters/builder.js";
import { FilterPublisher } from "../../../src/filters/publisher.js";
import { FilterSchedule } from "../../../src/filters/schedule.js";
import { FilterGossip } from "../../../src/gen/creditmesh/v1/filters.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { seededTokens } from "./random.js";

const key = generateNodeKey();
const signer = { institutionId: "bank-a", peerId: key.peerId };

function setup<C extends Clock = ManualClock>(
  tokens: () => Iterable<string> | AsyncIterable<string> = () => seededTokens("pub", 10),
  clock: C = new ManualClock("2026-12-03T00:00:00Z") as unknown as C,
) {
  const builder = new FilterBuilder({ institutionId: "bank-a" }, { tokens, key, clock });
  const schedule = new FilterSchedule({ deltaIntervalMs: 30_000, rebuildIntervalMs: 86_400_000 }, { clock });
  const sent: string[] = [];
  const publish = async (bytes: Uint8Array) => {
    const kind = FilterGossip.decode(bytes).kind;
    if (kind?.$case === "announcement") sent.push(`announcement ${verifyAnnouncement(kind.value, signer).deltaSequence}`);
    if (kind?.$case === "delta") sent.push(`delta ${verifyDelta(kind.value, signer).sequence}`);
  };
  const publisher = new FilterPublisher({ reannounceEvery: 2 }, { builder, schedule, publish, logger: silentLogger() });
  return { clock, publisher, sent };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("FilterPublisher", () => {
  it("publishes the full filter first, a delta each interval, and re-announces every few deltas", async () => {
    const { clock, publisher, sent } = setup();
    expect(await publisher.tick()).toBe("REBUILD");
    expect(await publisher.tick()).toBeUndefined();
    for (let i = 0; i < 3; i++) {
      clock.advance(30_000);
      expect(await publisher.tick()).toBe("DELTA");
    }
    clock.advance(86_400_000);
    expect(await publisher.tick()).toBe("REBUILD");
    expect(sent).toEqual(["announcement 0", "delta 1", "delta 2", "announcement 2", "delta 3", "announcement 0"]);
  });

  it("signs the revocation log's last position into each delta, read when the delta is issued", async () => {
    const clock = new ManualClock("2026-12-03T00:00:00Z");
    const builder = new FilterBuilder({ institutionId: "bank-a" }, { tokens: () => [], key, clock });
    const schedule = new FilterSchedule({ deltaIntervalMs: 30_000, rebuildIntervalMs: 86_400_000 }, { clock });
    const heads: (number | undefined)[] = [];
    const publish = async (bytes: Uint8Array) => {
      const kind = FilterGossip.decode(bytes).kind;
      if (kind?.$case === "delta") heads.push(verifyDelta(kind.value, signer).revocationHead);
    };
    let head = 0;
    const publisher = new FilterPublisher({ reannounceEvery: 10 }, { builder, schedule, publish, logger: silentLogger(), revocationHead: async () => head });
    await publisher.tick();
    for (const next of [0, 3, 4]) {
      head = next;
      clock.advance(30_000);
      await publisher.tick();
    }
    expect(heads).toEqual([0, 3, 4]);
  });

  it("retries a failed rebuild at the next tick without advancing the schedule", async () => {
    let fail = true;
    const { publisher, sent } = setup(() => {
      if (fail) throw new Error("index unavailable");
      return [];
    });
    await expect(publisher.tick()).rejects.toThrow("index unavailable");
    fail = false;
    expect(await publisher.tick()).toBe("REBUILD");
    expect(sent).toEqual(["announcement 0"]);
  });

  it("runs on its timer once started, and stops cleanly (twice is fine)", async () => {
    vi.useFakeTimers({ now: new Date("2026-12-03T00:00:00Z") });
    // The fake timers move Date too, so this clock follows them.
    const { publisher, sent } = setup(undefined, { now: () => new Date() });
    publisher.start();
    publisher.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual(["announcement 0"]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toEqual(["announcement 0", "delta 1", "delta 2", "announcement 2"]);
    await publisher.stop();
    await publisher.stop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sent).toHaveLength(4);
  });
});
