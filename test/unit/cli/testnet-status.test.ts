import { describe, expect, it } from "vitest";
import type { MemberStatus } from "../../../src/gen/creditmesh/v1/node.js";
import { filterSummary } from "../../../src/cli/commands/testnet.js";

const member = (institutionId: string, failOpen?: string): MemberStatus => ({
  institutionId,
  connected: true,
  name: institutionId,
  peerId: `p-${institutionId}`,
  roles: [],
  filter: failOpen === undefined ? undefined : { epoch: "3", deltaHead: "1", failOpen, skippedPastLimit: false },
});

describe("testnet status: filterSummary", () => {
  it("counts the members routed by their filters and names those asked anyway, with why", () => {
    expect(filterSummary([member("bank-a"), member("cfc-b", ""), member("ecom-c", "")])).toBe("  filters route 2/2");
    expect(filterSummary([member("bank-a"), member("cfc-b", ""), member("ecom-c", "NO_FILTER"), member("bank-d", "SILENT")])).toBe(
      "  filters route 1/3 (asked anyway: ecom-c NO_FILTER, bank-d SILENT)",
    );
  });

  it("says nothing for a node with filters off", () => {
    expect(filterSummary([member("bank-a"), member("cfc-b")])).toBe("");
  });
});
