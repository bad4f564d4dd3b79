import { afterEach, describe, expect, it } from "vitest";
import { countOpenDisputesWith, registry } from "../../src/metrics.js";

const values = async () => (await registry.getSingleMetric("creditmesh_disputes_open")!.get()).values.map((v) => [v.labels.deadline, v.value]);

describe("creditmesh_disputes_open", () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  it("reads the running node's counts at every scrape, and nothing once it stops", async () => {
    let counts = { pending: 3, overdue: 1 };
    stop = countOpenDisputesWith(async () => counts);
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

  it("a node stopping does not take away another's source", async () => {
    const first = countOpenDisputesWith(async () => ({ pending: 1, overdue: 0 }));
    stop = countOpenDisputesWith(async () => ({ pending: 5, overdue: 2 }));
    first();
    expect(await values()).toEqual([
      ["pending", 5],
      ["passed", 2],
    ]);
  });
});
