import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "../../../src/tlog/merkle.js";

const ROOT = path.join(import.meta.dirname, "../../vectors/transparency-dev-merkle/testdata");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : full.endsWith(".json") ? [full] : [];
  });
}

const b64 = (s: string | null): Uint8Array => Buffer.from(s ?? "", "base64");
const hex = (s: string): Uint8Array => Buffer.from(s, "hex");
const rel = (f: string): string => path.relative(ROOT, f);

/** The eight leaves every happy-path vector was generated from (testonly.LeafInputs). */
const LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(hex);
const LEAF_HASHES = LEAVES.map(leafHash);

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string | null;
  leafHash: string | null;
  proof: string[] | null;
  wantErr: boolean;
}
interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string | null;
  root2: string | null;
  proof: string[] | null;
  wantErr: boolean;
}

const inclusion = files(path.join(ROOT, "inclusion"));
const consistency = files(path.join(ROOT, "consistency"));

describe("transparency-dev/merkle vectors", () => {
  it("are all present", () => {
    expect(inclusion.length).toBe(98);
    expect(consistency.length).toBe(98);
  });

  it.each(inclusion.map((f) => [rel(f), f]))("inclusion %s", (_name, file) => {
    const v = JSON.parse(readFileSync(file, "utf8")) as InclusionVector;
    const failure = verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), (v.proof ?? []).map(b64), b64(v.root));
    if (v.wantErr) expect(failure).not.toBeNull();
    else expect(failure).toBeNull();
  });

  it.each(consistency.map((f) => [rel(f), f]))("consistency %s", (_name, file) => {
    const v = JSON.parse(readFileSync(file, "utf8")) as ConsistencyVector;
    const failure = verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2));
    if (v.wantErr) expect(failure).not.toBeNull();
    else expect(failure).toBeNull();
  });

  it.each(inclusion.filter((f) => f.endsWith("happy-path.json")).map((f) => [rel(f), f]))(
    "generates the inclusion proof of %s byte for byte",
    (_name, file) => {
      const v = JSON.parse(readFileSync(file, "utf8")) as InclusionVector;
      const leaves = LEAF_HASHES.slice(0, v.treeSize);
      expect(Buffer.from(leaves[v.leafIdx]!).toString("base64")).toBe(v.leafHash);
      expect(Buffer.from(treeHash(leaves)).toString("base64")).toBe(v.root);
      expect(inclusionProof(v.leafIdx, leaves).map((h) => Buffer.from(h).toString("base64"))).toEqual(v.proof ?? []);
    },
  );

  it.each(consistency.filter((f) => f.endsWith("happy-path.json")).map((f) => [rel(f), f]))(
    "generates the consistency proof of %s byte for byte",
    (_name, file) => {
      const v = JSON.parse(readFileSync(file, "utf8")) as ConsistencyVector;
      const leaves = LEAF_HASHES.slice(0, v.size2);
      expect(Buffer.from(treeHash(leaves.slice(0, v.size1))).toString("base64")).toBe(v.root1);
      expect(Buffer.from(treeHash(leaves)).toString("base64")).toBe(v.root2);
      expect(consistencyProof(v.size1, leaves).map((h) => Buffer.from(h).toString("base64"))).toEqual(v.proof ?? []);
    },
  );
});
