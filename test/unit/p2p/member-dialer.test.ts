import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Membership } from "../../../src/identity/manifest.js";
import { silentLogger } from "../../../src/logger.js";
import { MemberDialer, type MemberDialerOptions } from "../../../src/p2p/member-dialer.js";
import { rankMembers } from "../../../src/p2p/member-rank.js";

const SELF = "peer-00";
const OTHERS = Array.from({ length: 20 }, (_, i) => `peer-${String(i + 1).padStart(2, "0")}`);
const membership = { members: () => [SELF, ...OTHERS].map((peerId) => ({ peerId, institutionId: `inst-${peerId}` })) } as unknown as Membership;

function dialer(over: Partial<MemberDialerOptions>, opts: { listConnections?: boolean } = {}) {
  const connected = new Set<string>();
  let perMemberLookups = 0;
  const dialed: string[] = [];
  const closed: string[] = [];
  const lastUsed = new Map<string, number>();
  const d = new MemberDialer({
    selfPeerId: SELF,
    membership,
    isConnected: (p) => {
      perMemberLookups++;
      return connected.has(p);
    },
    ...(opts.listConnections ? { connectedPeers: () => [...connected] } : {}),
    dial: async (p) => {
      dialed.push(p);
      connected.add(p);
    },
    logger: silentLogger(),
    intervalMs: 1_000,
    initialBackoffMs: 100,
    maxBackoffMs: 1_000,
    lastUsed: (p) => lastUsed.get(p),
    closeIdle: async (p) => {
      closed.push(p);
      return connected.delete(p);
    },
    ...over,
  });
  return { d, connected, dialed, closed, lastUsed, perMemberLookups: () => perMemberLookups };
}

describe("MemberDialer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("dials every member when keep is not set", async () => {
    const { d, dialed } = dialer({});
    d.start();
    await vi.advanceTimersByTimeAsync(3_000);
    d.stop();
    expect([...dialed].sort()).toEqual(OTHERS);
  });

  it("dials only the first `keep` members of its ranking, the same set every time", async () => {
    const { d, dialed } = dialer({ keep: 5 });
    d.start();
    await vi.advanceTimersByTimeAsync(3_000);
    d.stop();
    const expected = rankMembers(SELF, OTHERS).slice(0, 5);
    expect([...dialed].sort()).toEqual([...expected].sort());
    expect([...d.kept()].sort()).toEqual([...expected].sort());
  });

  it("closes an on-demand connection once idle for idleCloseMs, and never a kept one", async () => {
    const { d, connected, closed, lastUsed } = dialer({ keep: 5, idleCloseMs: 10_000 });
    const kept = rankMembers(SELF, OTHERS).slice(0, 5);
    const [onDemand, busy] = rankMembers(SELF, OTHERS).slice(5, 7) as [string, string];
    d.start();
    connected.add(onDemand);
    connected.add(busy);
    lastUsed.set(onDemand, Date.now());
    lastUsed.set(busy, Date.now());
    await vi.advanceTimersByTimeAsync(8_000);
    expect(closed).toEqual([]);
    lastUsed.set(busy, Date.now());
    await vi.advanceTimersByTimeAsync(4_000);
    expect(closed).toEqual([onDemand]);
    expect(connected.has(onDemand)).toBe(false);
    expect(connected.has(busy)).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(closed).toContain(busy);
    expect(closed.some((p) => kept.includes(p))).toBe(false);
    d.stop();
  });

  it("keeps idle on-demand connections when idleCloseMs is 0", async () => {
    const { d, connected, closed } = dialer({ keep: 5, idleCloseMs: 0 });
    connected.add(rankMembers(SELF, OTHERS)[10]!);
    d.start();
    await vi.advanceTimersByTimeAsync(120_000);
    d.stop();
    expect(closed).toEqual([]);
  });

  it("given the list of open connections, looks at it once a tick instead of asking per member, with the same dials and closes", async () => {
    const { d, connected, dialed, closed, lastUsed, perMemberLookups } = dialer({ keep: 5, idleCloseMs: 10_000 }, { listConnections: true });
    const kept = rankMembers(SELF, OTHERS).slice(0, 5);
    const onDemand = rankMembers(SELF, OTHERS)[5]!;
    d.start();
    connected.add(onDemand);
    lastUsed.set(onDemand, Date.now());
    await vi.advanceTimersByTimeAsync(12_000);
    d.stop();
    expect([...dialed].sort()).toEqual([...kept].sort());
    expect(closed).toEqual([onDemand]);
    expect(perMemberLookups()).toBe(0);
  });
});

describe("rankMembers", () => {
  it("is a permutation, stable across calls and input order, and differs from member to member", () => {
    const a = rankMembers(SELF, OTHERS);
    expect([...a].sort()).toEqual(OTHERS);
    expect(rankMembers(SELF, [...OTHERS].reverse())).toEqual(a);
    expect(rankMembers("peer-99", OTHERS)).not.toEqual(a);
  });

});
