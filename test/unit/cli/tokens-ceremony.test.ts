import { describe, expect, it } from "vitest";
import type { TokenCommittee } from "../../../src/gen/creditmesh/v1/oprf.js";
import type { Manifest } from "../../../src/gen/creditmesh/v1/peer.js";
import { manifestWithCommittee } from "../../../src/cli/commands/tokens.js";

const committee = (epoch: string, members: string[], key = 1): TokenCommittee => ({
  suite: "ristretto255-SHA512", epoch, threshold: 2, publicKey: Buffer.alloc(32, key),
  evaluators: members.map((id, i) => ({ institutionId: id, index: i + 1, publicShare: Buffer.alloc(32) })),
});
const current: Manifest = { networkId: "net", version: "4", members: [], issuedAt: undefined, tokenCommittee: committee("1", ["a", "b", "c"]) };

describe("manifestWithCommittee: the node's committee goes into the next manifest only if it is the one the plan asked for", () => {
  it("the next version, naming the committee", () => {
    const next = manifestWithCommittee(current, committee("2", ["b", "c", "d"]), { members: ["b", "c", "d"], epoch: "2", reshare: true });
    expect(next.version).toBe("5");
    expect(next.tokenCommittee?.evaluators.map((e) => e.institutionId)).toEqual(["b", "c", "d"]);
  });

  it("refuses other members or indices, another epoch, or a reshare that changed the key", () => {
    const asked = { members: ["b", "c", "d"], epoch: "2", reshare: true };
    expect(() => manifestWithCommittee(current, committee("2", ["c", "b", "d"]), asked)).toThrow(expect.objectContaining({ code: "CONFLICT" }));
    expect(() => manifestWithCommittee(current, committee("3", ["b", "c", "d"]), asked)).toThrow(expect.objectContaining({ code: "CONFLICT" }));
    expect(() => manifestWithCommittee(current, committee("2", ["b", "c", "d"], 2), asked)).toThrow(/another group key/);
    expect(() => manifestWithCommittee(current, undefined, asked)).toThrow(expect.objectContaining({ code: "UNAVAILABLE" }));
    // A fresh key may change it.
    expect(manifestWithCommittee(current, committee("2", ["b", "c", "d"], 2), { ...asked, reshare: false }).tokenCommittee?.epoch).toBe("2");
  });
});
