import { describe, expect, it } from "vitest";
import type { Manifest } from "../../../src/gen/creditmesh/v1/peer.js";
import { committeeReachability } from "../../../src/cli/commands/tokens.js";

const manifest = (withCommittee: boolean): Manifest => ({
  networkId: "net", version: "2", members: [], issuedAt: undefined,
  tokenCommittee: withCommittee
    ? { suite: "ristretto255-SHA512", epoch: "1", threshold: 2, publicKey: Buffer.alloc(32), evaluators: ["a", "b", "c"].map((id, i) => ({ institutionId: id, index: i + 1, publicShare: Buffer.alloc(32) })) }
    : undefined,
});

describe("committeeReachability", () => {
  it("is ok with at least the threshold of evaluators connected, and says which are not", () => {
    expect(committeeReachability(manifest(true), [{ institutionId: "a", connected: true }, { institutionId: "b", connected: false }, { institutionId: "c", connected: true }, { institutionId: "d", connected: true }]))
      .toEqual({ threshold: 2, epoch: "1", reachable: ["a", "c"], unreachable: ["b"], ok: true });
    expect(committeeReachability(manifest(true), [{ institutionId: "a", connected: true }, { institutionId: "d", connected: true }])?.ok).toBe(false);
  });

  it("reports nothing for a manifest without a committee", () => {
    expect(committeeReachability(manifest(false), [])).toBeUndefined();
  });
});
