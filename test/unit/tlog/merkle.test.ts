import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EMPTY_ROOT,
  VerifiedPaths,
  consistencyProof,
  inclusionProof,
  leafHash,
  nodeHash,
  splitPoint,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "../../../src/tlog/merkle.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(
  (h) => Buffer.from(h, "hex"),
);

/** Roots of the Certificate Transparency reference tree (the eight leaves above), by size. */
const CT_ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/** MTH straight from RFC 6962 §2.1, recursively, to check the iterative code against. */
function mth(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return EMPTY_ROOT;
  if (hashes.length === 1) return hashes[0]!;
  const k = splitPoint(hashes.length);
  return nodeHash(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
}

const leavesOf = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

describe("Merkle tree", () => {
  it("gives the CT reference roots for every size 0..8", () => {
    const hashes = LEAVES.map(leafHash);
    CT_ROOTS.forEach((root, size) => expect(hex(treeHash(hashes.slice(0, size)))).toBe(root));
  });

  it("hashes leaves and nodes with the RFC 6962 domain prefixes", () => {
    expect(hex(leafHash(new Uint8Array()))).toBe(CT_ROOTS[1]);
    const a = leafHash(Buffer.from("a"));
    const b = leafHash(Buffer.from("b"));
    expect(hex(nodeHash(a, b))).not.toBe(hex(nodeHash(b, a)));
    expect(hex(treeHash([a, b]))).toBe(hex(nodeHash(a, b)));
  });

  it("agrees with the recursive definition and proves every leaf and every older size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), fc.nat(), (size, i, j) => {
        const leaves = leavesOf(size);
        const root = treeHash(leaves);
        expect(hex(root)).toBe(hex(mth(leaves)));
        const index = i % size;
        expect(verifyInclusion(index, size, leaves[index]!, inclusionProof(index, leaves), root)).toBeNull();
        const old = 1 + (j % size);
        const oldRoot = treeHash(leaves.slice(0, old));
        expect(verifyConsistency(old, size, consistencyProof(old, leaves), oldRoot, root)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a proof for another leaf, a changed hash, or a shortened proof", () => {
    const leaves = leavesOf(37);
    const root = treeHash(leaves);
    const proof = inclusionProof(20, leaves);
    expect(verifyInclusion(21, 37, leaves[20]!, proof, root)).not.toBeNull();
    expect(verifyInclusion(20, 37, leaves[21]!, proof, root)).not.toBeNull();
    expect(verifyInclusion(20, 37, leaves[20]!, proof.slice(1), root)).toBe("proof is too short");
    const flipped = proof.map((h) => Uint8Array.from(h));
    flipped[2]![0]! ^= 1;
    expect(verifyInclusion(20, 37, leaves[20]!, flipped, root)).toBe("root does not match");
    const cons = consistencyProof(13, leaves);
    expect(verifyConsistency(13, 37, cons, treeHash(leaves.slice(0, 12)), root)).not.toBeNull();
    expect(verifyConsistency(37, 13, cons, root, treeHash(leaves.slice(0, 13)))).toMatch(/smaller/);
  });

  it("verify every proof with paths already verified exactly as without them, tampered ones included", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 130 }), fc.nat(), (size, seed) => {
        const leaves = leavesOf(size);
        const root = treeHash(leaves);
        const paths = new VerifiedPaths(size, root, 100_000);
        const proofs = leaves.map((_, i) => inclusionProof(i, leaves));
        // Every valid proof, then again once all are known (each then meets a known walk at its first step).
        for (let round = 0; round < 2; round++) {
          leaves.forEach((leaf, i) => expect(verifyInclusion(i, size, leaf, proofs[i]!, root, paths)).toBeNull());
        }
        // Each proof with one hash changed, its last hash dropped or one added, for another index or another leaf:
        // the same answer with and without the paths (the lower steps still meet known walks; the upper ones must not pass).
        const index = seed % size;
        const proof = proofs[index]!;
        const variants: [number, Uint8Array, Uint8Array[]][] = [
          [index, leaves[index]!, proof.slice(0, -1)],
          [index, leaves[index]!, [...proof, leaves[0]!]],
          [(index + 1) % size, leaves[index]!, proof],
          [index, leaves[(index + 1) % size]!, proof],
        ];
        proof.forEach((_, k) => {
          const changed = proof.map((h) => Uint8Array.from(h));
          changed[k]![seed % 32]! ^= 1 << (seed % 8);
          variants.push([index, leaves[index]!, changed]);
        });
        for (const [i, leaf, p] of variants) {
          const alone = verifyInclusion(i, size, leaf, p, root);
          if (!(i === index && leaf === leaves[index] && p === proof)) expect(verifyInclusion(i, size, leaf, p, root, paths)).toBe(alone);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("ignore paths verified against another root or size", () => {
    const leaves = leavesOf(37);
    const other = leavesOf(38);
    const paths = new VerifiedPaths(38, treeHash(other));
    for (let i = 0; i < 38; i++) expect(verifyInclusion(i, 38, other[i]!, inclusionProof(i, other), treeHash(other), paths)).toBeNull();
    const root = treeHash(leaves);
    for (let i = 0; i < 37; i++) {
      expect(verifyInclusion(i, 37, leaves[i]!, inclusionProof(i, leaves), root, paths)).toBeNull();
      expect(verifyInclusion(i, 38, other[i]!, inclusionProof(i, other), root, paths)).toBe("root does not match");
    }
  });

  it("rejects an index outside the tree with the field named", () => {
    expect(() => inclusionProof(5, leavesOf(5))).toThrow(expect.objectContaining({ field: "leaf_index" }));
    expect(() => consistencyProof(6, leavesOf(5))).toThrow(expect.objectContaining({ field: "old_size" }));
  });
});
