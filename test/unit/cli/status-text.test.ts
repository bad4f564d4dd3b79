import { describe, expect, it } from "vitest";
import type { GetNodeStatusResponse, MemberStatus } from "../../../src/gen/creditmesh/v1/node.js";
import { renderStatus } from "../../../src/cli/commands/status.js";

const NOW = new Date("2026-12-04T12:00:00Z");
const ago = (s: number) => new Date(NOW.getTime() - s * 1000);

function member(institutionId: string, over: Partial<MemberStatus> = {}): MemberStatus {
  return { institutionId, connected: true, name: institutionId, peerId: `p-${institutionId}`, roles: [], ...over };
}

function status(members: MemberStatus[], over: Partial<GetNodeStatusResponse> = {}): GetNodeStatusResponse {
  return {
    institutionId: "bank-a",
    peerId: "12D3KooWbank",
    members,
    accounts: "35",
    subjects: "30",
    version: "1.2.3",
    networkId: "demo",
    manifestVersion: "4",
    logEvidence: [],
    tokenCommitteeEpoch: "1",
    tokenEvaluator: true,
    ...over,
  };
}

describe("creditmesh status --format text", () => {
  it("names the node, what it publishes, and per member how its reports route there", () => {
    const text = renderStatus(
      status(
        [
          member("bank-a"),
          member("cfc-b", { filter: { epoch: "17", deltaHead: "5", failOpen: "", lastHeardAt: ago(12), skippedPastLimit: false, consistency: { epoch: "17", routed: "40", claimed: "6", claimedNoData: "0", probed: "0", deniedWithData: "0", inflated: false, hiding: false } } }),
          member("ecom-c", { connected: false, filter: { epoch: "0", deltaHead: "0", failOpen: "NO_ANNOUNCEMENT", skippedPastLimit: true, failingOpenSince: ago(900) } }),
          member("shop-d", { filter: { epoch: "9", deltaHead: "2", failOpen: "SILENT", lastHeardAt: ago(7200), skippedPastLimit: false, consistency: { epoch: "9", routed: "90", claimed: "30", claimedNoData: "24", probed: "1", deniedWithData: "0", inflated: true, hiding: false } } }),
        ],
        { publishedFilter: { epoch: "21", count: "64", filterBytes: "180", deltas: "3", builtAt: ago(300) } },
      ),
      NOW,
    );
    expect(text).toContain("bank-a  peer 12D3KooWbank  version 1.2.3\n");
    expect(text).toContain("network demo v4  token committee epoch 1 (this node evaluates)\n");
    expect(text).toContain("publishes filter epoch 21 (built 5 min ago), count 64 (padded), 180 bytes, 3 deltas since\n");
    const rows = text.split("\n").filter((l) => /^(cfc-b|ecom-c|shop-d) /.test(l));
    // This node is not a row of its own members table.
    expect(text.split("\n").filter((l) => l.startsWith("bank-a "))).toHaveLength(1);
    expect(rows.map((r) => r.split(/\s{2,}/))).toEqual([
      ["cfc-b", "yes", "17", "5", "12 s ago", "by filter (asked 6, empty 0)"],
      ["ecom-c", "no", "-", "-", "never", "skipped: no usable filter (NO_ANNOUNCEMENT) since 15 min ago"],
      ["shop-d", "yes", "9", "2", "2 h ago", "asked anyway: SILENT; INFLATED filter"],
    ]);
  });

  it("without filters, lists members and whether they are connected; warns of evidence against a member's log", () => {
    const text = renderStatus(
      status([member("bank-a"), member("cfc-b", { connected: false })], {
        logEvidence: [{ origin: "cfc-b", kind: "EQUIVOCATION", observedAt: NOW, note: "…" }],
        tokenCommitteeEpoch: "0",
        tokenEvaluator: false,
      }),
      NOW,
    );
    expect(text).toContain("network demo v4  no token committee\n");
    expect(text).toContain("WARNING: evidence against 1 member log(s): cfc-b EQUIVOCATION\n");
    expect(text.trimEnd().split("\n").slice(-2)).toEqual(["Member  Connected", "cfc-b   no"]);
  });
});
