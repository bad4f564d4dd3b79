import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { FilterSchedule, FiltersSchema, maxSilenceMs } from "../../../src/filters/schedule.js";

describe("FilterSchedule", () => {
  it("rebuilds first, then closes a delta every interval, then rebuilds after a day", () => {
    const clock = new ManualClock("2026-12-03T00:00:00Z");
    const schedule = new FilterSchedule({ deltaIntervalMs: 30_000, rebuildIntervalMs: 86_400_000 }, { clock });
    expect(schedule.due()).toBe("REBUILD");
    expect(schedule.delayMs()).toBe(0);
    schedule.rebuilt(clock.now());
    expect(schedule.due()).toBeUndefined();
    expect(schedule.delayMs()).toBe(30_000);
    clock.advance(29_999);
    expect(schedule.due()).toBeUndefined();
    clock.advance(1);
    expect(schedule.due()).toBe("DELTA");
    schedule.deltaIssued();
    expect(schedule.delayMs()).toBe(30_000);
    clock.advance(86_400_000 - 30_000);
    expect(schedule.due()).toBe("REBUILD");
    expect(schedule.delayMs()).toBe(0);
  });

  it("counts deltas after a rebuild from when the rebuild began reading", () => {
    const clock = new ManualClock("2026-12-03T00:00:00Z");
    const schedule = new FilterSchedule({ deltaIntervalMs: 30_000, rebuildIntervalMs: 86_400_000 }, { clock });
    const started = clock.now();
    clock.advance(20_000); // a slow rebuild
    schedule.rebuilt(started);
    expect(schedule.delayMs()).toBe(10_000);
  });
});

describe("FiltersSchema", () => {
  it("defaults to a 30 s delta interval, a daily rebuild, three intervals of silence and no limit on asking a member without a usable filter", () => {
    const config = FiltersSchema.parse({});
    expect(config).toEqual({ enabled: false, deltaIntervalMs: 30_000, rebuildIntervalMs: 86_400_000, silenceIntervals: 3, failOpenLimitMs: 0 });
    expect(maxSilenceMs(config)).toBe(90_000);
  });

  it("refuses an interval above 30 s, a rebuild under a minute and unknown keys, naming the field", () => {
    const path = (input: unknown) => FiltersSchema.safeParse(input).error?.issues[0].path;
    expect(path({ deltaIntervalMs: 31_000 })).toEqual(["deltaIntervalMs"]);
    expect(path({ rebuildIntervalMs: 30_000 })).toEqual(["rebuildIntervalMs"]);
    expect(FiltersSchema.safeParse({ extra: 1 }).success).toBe(false);
  });
});
