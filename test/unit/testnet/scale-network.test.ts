import { describe, expect, it } from "vitest";
import { witnessesOf } from "../../../src/node/checkpoint-witnessing.js";
import { rankMembers } from "../../../src/p2p/member-rank.js";
import { generatePortfolios } from "../../../src/synthetic/index.js";
import { deepMerge, hostGroups, sumCounter } from "../../../src/testnet/scale-network.js";

describe("scale network helpers", () => {
  it("deepMerge merges objects key by key and replaces anything else", () => {
    const base = { p2p: { enabled: true, listen: ["/ip4/127.0.0.1/tcp/1"] }, log: { level: "info" }, n: 1 };
    expect(deepMerge(base, { p2p: { keepConnected: 3, listen: ["x"] }, n: 2 })).toEqual({
      p2p: { enabled: true, listen: ["x"], keepConnected: 3 },
      log: { level: "info" },
      n: 2,
    });
    expect(base.p2p).toEqual({ enabled: true, listen: ["/ip4/127.0.0.1/tcp/1"] });
  });

  it("hostGroups gives the first members a process each and spreads the rest round-robin", () => {
    const ids = ["a", "b", "c", "d", "e", "f"];
    expect(hostGroups(ids, 2, 0)).toEqual([["a", "c", "e"], ["b", "d", "f"]]);
    expect(hostGroups(ids, 2, 1)).toEqual([["a"], ["b", "d", "f"], ["c", "e"]]);
    expect(hostGroups(ids, 4, 3)).toEqual([["a"], ["b"], ["c"], ["d"], ["e"], ["f"]]);
    expect(hostGroups(["a", "b"], 4, 5)).toEqual([["a"], ["b"]]);
  });

  it("sumCounter adds every series of one counter and nothing else", () => {
    const text = [
      "# HELP creditmesh_queries_answered_total Queries",
      "# TYPE creditmesh_queries_answered_total counter",
      'creditmesh_queries_answered_total{status="OK"} 7',
      'creditmesh_queries_answered_total{status="NO_DATA"} 2',
      "creditmesh_queries_answered_total_extra 100",
      "creditmesh_reports_total 5",
    ].join("\n");
    expect(sumCounter(text, "creditmesh_queries_answered_total")).toBe(9);
    expect(sumCounter(text, "creditmesh_reports_total")).toBe(5);
    expect(sumCounter(text, "creditmesh_missing")).toBe(0);
  });
});

describe("witnessesOf", () => {
  const members = Array.from({ length: 30 }, (_, i) => ({ peerId: `peer-${i}`, institutionId: `inst-${i}` }));
  const membership = { members: () => members };

  it("names `count` other members, the first of the ranking the dialer keeps connected", () => {
    const w = witnessesOf("peer-0", membership, 4);
    expect(w).toEqual(rankMembers("peer-0", members.slice(1).map((m) => m.peerId)).slice(0, 4).map((p) => `inst-${p.slice(5)}`));
    expect(w).not.toContain("inst-0");
  });

  it("names every other member in a network smaller than count", () => {
    expect(witnessesOf("peer-0", { members: () => members.slice(0, 3) }, 4).sort()).toEqual(["inst-1", "inst-2"]);
  });
});

describe("generatePortfolios", () => {
  const ids = Array.from({ length: 12 }, (_, i) => `m${i}`);

  it("puts each borrower at 1–5 distinct members, one account at each, and is reproducible", () => {
    const p = generatePortfolios({ members: ids, borrowers: 300, seed: 7 });
    const counts = new Set<number>();
    for (const b of p.borrowers) {
      expect(new Set(b.holders).size).toBe(b.holders.length);
      expect(b.holders.length).toBeGreaterThanOrEqual(1);
      expect(b.holders.length).toBeLessThanOrEqual(5);
      counts.add(b.holders.length);
    }
    expect([...counts].sort()).toEqual([1, 2, 3, 4, 5]);
    const accounts = [...p.records.values()].reduce((n, r) => n + r.length, 0);
    expect(accounts).toBe(p.borrowers.reduce((n, b) => n + b.holders.length, 0));
    for (const [id, records] of p.records) {
      for (const r of records) expect(r.kind?.$case === "account" && r.kind.value.accountId.endsWith(`-${id}`)).toBe(true);
    }
    expect(generatePortfolios({ members: ids, borrowers: 300, seed: 7 }).borrowers).toEqual(p.borrowers);
  });

  it("refuses a holder range that is not 1 ≤ min ≤ max", () => {
    expect(() => generatePortfolios({ members: ids, borrowers: 1, seed: 1, holdersPerBorrower: [0, 3] })).toThrow(RangeError);
    expect(() => generatePortfolios({ members: ids, borrowers: 1, seed: 1, holdersPerBorrower: [4, 2] })).toThrow(RangeError);
  });
});
