import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccountStatus, DisputeFlag } from "../../../src/gen/creditmesh/v1/common.js";
import type { Tradeline } from "../../../src/gen/creditmesh/v1/report.js";
import { addMonths } from "../../../src/records/dates.js";
import { capTradelines, MAX_TRADELINES_LISTED } from "../../../src/report/tradeline-cap.js";
import { AS_OF, tradeline } from "./fixtures.js";

const closed = (n: number, closedOn: string, over: Partial<Tradeline> = {}) =>
  tradeline({ institutionId: "ecom-c", accountRef: `c-${String(n).padStart(5, "0")}`, openedOn: addMonths(closedOn, -3), closedOn, status: AccountStatus.PAID, ...over });
const open = (n: number, openedOn: string, over: Partial<Tradeline> = {}) => tradeline({ institutionId: "ecom-c", accountRef: `o-${String(n).padStart(5, "0")}`, openedOn, ...over });

describe("capTradelines", () => {
  it("lists everything up to the cap, in the order given", () => {
    const all = Array.from({ length: MAX_TRADELINES_LISTED }, (_, i) => closed(i, addMonths("2020-01-10", i % 60)));
    expect(capTradelines(all, AS_OF)).toEqual({ listed: all, total: MAX_TRADELINES_LISTED });
  });

  it("past the cap keeps every open and derogatory account, then the most recently closed, in the order given", () => {
    const derogatory = [
      closed(1, "2021-05-01", { status: AccountStatus.CHARGED_OFF }),
      closed(2, "2021-06-01", { maxDaysPastDue: 35 }),
      closed(3, "2021-07-01", { amountPastDue: "100" }),
      closed(4, "2021-08-01", { dispute: DisputeFlag.DISPUTED }),
    ];
    const opens = [open(1, "2019-01-01"), open(2, "2026-03-01")];
    // 600 closed in good standing, closed month after month up to the report date.
    const good = Array.from({ length: 600 }, (_, i) => closed(100 + i, addMonths("2021-01-15", Math.floor(i / 10))));
    const all = [...derogatory, ...good.slice(0, 300), ...opens, ...good.slice(300)];
    const { listed, total } = capTradelines(all, AS_OF, 100);
    expect(total).toBe(606);
    expect(listed).toHaveLength(100);
    for (const tl of [...derogatory, ...opens]) expect(listed).toContain(tl);
    // The 94 closed ones listed are the most recently closed.
    const closedListed = listed.filter((tl) => !derogatory.includes(tl) && !opens.includes(tl));
    const oldestListed = closedListed.map((tl) => tl.closedOn).sort()[0]!;
    for (const tl of good) if (!listed.includes(tl)) expect(tl.closedOn <= oldestListed).toBe(true);
    // Order as given: a subsequence of the input.
    expect(listed).toEqual(all.filter((tl) => listed.includes(tl)));
  });

  it("an account closed after the report date is open as of it", () => {
    const later = closed(9, "2026-06-01");
    const good = Array.from({ length: 10 }, (_, i) => closed(i, "2026-03-01"));
    expect(capTradelines([...good, later], AS_OF, 1).listed).toEqual([later]);
  });

  it("never lists more than the cap, never drops a material account while a good closed one is listed, and counts them all", () => {
    const account = fc.record({
      open: fc.boolean(),
      bad: fc.constantFrom("none", "none", "none", "chargedOff", "late", "pastDue", "disputed"),
      month: fc.integer({ min: 0, max: 70 }),
    });
    fc.assert(
      fc.property(fc.array(account, { maxLength: 60 }), fc.integer({ min: 1, max: 40 }), (specs, max) => {
        const all = specs.map((s, i) => {
          const over: Partial<Tradeline> =
            s.bad === "chargedOff" ? { status: AccountStatus.CHARGED_OFF } : s.bad === "late" ? { maxDaysPastDue: 30 } : s.bad === "pastDue" ? { amountPastDue: "5" } : s.bad === "disputed" ? { dispute: DisputeFlag.DISPUTED } : {};
          const day = addMonths("2020-01-05", s.month);
          return s.open ? open(i, day, over) : closed(i, day, over);
        });
        const material = (tl: Tradeline) => tl.closedOn === "" || tl.status === AccountStatus.CHARGED_OFF || tl.maxDaysPastDue > 0 || tl.amountPastDue !== "0" || tl.dispute !== DisputeFlag.NONE;
        const { listed, total } = capTradelines(all, AS_OF, max);
        expect(total).toBe(all.length);
        expect(listed.length).toBe(Math.min(max, all.length));
        expect(listed).toEqual(all.filter((tl) => listed.includes(tl)));
        if (listed.some((tl) => !material(tl))) for (const tl of all) if (material(tl)) expect(listed).toContain(tl);
      }),
      { numRuns: 300 },
    );
  });
});
