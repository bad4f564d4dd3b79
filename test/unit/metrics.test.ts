import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.js";

describe("creditmesh_disputes_open", () => {
  it("reads the running node's counts at every scrape, and nothing once it stops", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const values = async () => (await metrics.disputesOpen.get()).values.map((v) => [v.labels.deadline, v.value]);
    let counts = { pending: 3, overdue: 1 };
    const stop = metrics.countOpenDisputesWith(async () => counts);
    expect(await values()).toEqual([
      ["pending", 3],
      ["passed", 1],
    ]);
    counts = { pending: 2, overdue: 0 };
    expect(await values()).toEqual([
      ["pending", 2],
      ["passed", 0],
    ]);
    stop();
    expect(await values()).toEqual([]);
  });

  it("a stale stop does not take away the current source", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const first = metrics.countOpenDisputesWith(async () => ({ pending: 1, overdue: 0 }));
    metrics.countOpenDisputesWith(async () => ({ pending: 5, overdue: 2 }));
    first();
    expect((await metrics.disputesOpen.get()).values.map((v) => v.value)).toEqual([5, 2]);
  });

  it("keeps two nodes' counters apart, under the same names", async () => {
    const a = createMetrics({ processMetrics: false });
    const b = createMetrics({ processMetrics: false });
    a.reportsServed.inc();
    expect(await a.registry.getSingleMetricAsString("creditmesh_reports_total")).toContain("creditmesh_reports_total 1");
    expect(await b.registry.getSingleMetricAsString("creditmesh_reports_total")).toContain("creditmesh_reports_total 0");
  });
});
