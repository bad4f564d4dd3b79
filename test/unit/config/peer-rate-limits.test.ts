import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { peerRateLimit, type PeerRateLimits } from "../../../src/config/schema.js";

const PROTOCOLS: (keyof PeerRateLimits)[] = ["query", "dispute", "tokens", "witness", "filters", "revocations"];

describe("p2p.rateLimits", () => {
  it("limits every peer protocol by default, the cheap-to-ask expensive-to-answer ones the most", () => {
    const { p2p } = parseConfig({});
    for (const protocol of PROTOCOLS) expect(peerRateLimit(p2p, protocol), protocol).toBeGreaterThan(0);
    // A filter is megabytes and a revocation page a read of the log: a few a second at most.
    expect(peerRateLimit(p2p, "filters")).toBeLessThanOrEqual(10);
    expect(peerRateLimit(p2p, "revocations")).toBeLessThanOrEqual(10);
    // A lender at full load sends each holder a few hundred queries a second.
    expect(peerRateLimit(p2p, "query")).toBeGreaterThanOrEqual(500);
  });

  it("takes one protocol's own rate, and 0 lifts that protocol's limit only", () => {
    const { p2p } = parseConfig({ p2p: { rateLimits: { filters: 1, query: 0 } } });
    expect(peerRateLimit(p2p, "filters")).toBe(1);
    expect(peerRateLimit(p2p, "query")).toBe(0);
    expect(peerRateLimit(p2p, "dispute")).toBe(parseConfig({}).p2p.rateLimits.dispute);
  });

  it("rateLimitPerPeer, when above 0, is every protocol's rate (configurations from before rateLimits)", () => {
    const { p2p } = parseConfig({ p2p: { rateLimitPerPeer: 0.5, rateLimits: { query: 2_000 } } });
    for (const protocol of PROTOCOLS) expect(peerRateLimit(p2p, protocol), protocol).toBe(0.5);
  });

  it("refuses an unknown protocol or a negative rate, naming the field", () => {
    expect(() => parseConfig({ p2p: { rateLimits: { queries: 10 } } })).toThrow(/p2p\.rateLimits/);
    expect(() => parseConfig({ p2p: { rateLimits: { witness: -1 } } })).toThrow(/p2p\.rateLimits\.witness/);
  });
});
