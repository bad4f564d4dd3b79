import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bundleEntry,
  bundlePrefix,
  encodeIndex,
  entriesPath,
  expandTile,
  expandedNode,
  locateNode,
  parseTilePath,
  splitBundle,
  tilePath,
  tileWidth,
} from "../../../src/tlog/tiles.js";
import { leafHash, perfectRoot } from "../../../src/tlog/merkle.js";

describe("tile paths", () => {
  it("spell N in x-prefixed 3-digit groups as C2SP tlog-tiles does", () => {
    expect(encodeIndex(0)).toBe("000");
    expect(encodeIndex(67)).toBe("067");
    expect(encodeIndex(1000)).toBe("x001/000");
    expect(encodeIndex(1234067)).toBe("x001/x234/067");
    expect(tilePath({ level: 1, index: 1234067 })).toBe("tile/1/x001/x234/067");
    expect(tilePath({ level: 0, index: 3 }, 17)).toBe("tile/0/003.p/17");
    expect(entriesPath(1000, 255)).toBe("tile/entries/x001/000.p/255");
  });

  it("parse back exactly what they print, and nothing else", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 63 }), fc.nat({ max: 2 ** 40 }), fc.integer({ min: 1, max: 256 }), (level, index, width) => {
        expect(parseTilePath(tilePath({ level, index }, width))).toEqual({ kind: "tile", tile: { level, index }, width });
        expect(parseTilePath(entriesPath(index, width))).toEqual({ kind: "entries", index, width });
      }),
    );
    for (const bad of ["tile/0/1", "tile/0/x000/001", "tile/0/001.p/256", "tile/0/001.p/0", "tile/0/001.p/07", "tile/64/000", "tile/01/000", "tile/0/001/"]) {
      expect(parseTilePath(bad)).toBeUndefined();
    }
  });
});

describe("tile geometry", () => {
  it("finds each subtree's run of hashes in its tile", () => {
    expect(locateNode({ level: 0, index: 300 })).toEqual({ tile: { level: 0, index: 1 }, offset: 44, count: 1 });
    expect(locateNode({ level: 7, index: 3 })).toEqual({ tile: { level: 0, index: 1 }, offset: 128, count: 128 });
    expect(locateNode({ level: 8, index: 2 })).toEqual({ tile: { level: 1, index: 0 }, offset: 2, count: 1 });
    expect(locateNode({ level: 9, index: 200 })).toEqual({ tile: { level: 1, index: 1 }, offset: 144, count: 2 });
    expect(tileWidth({ level: 0, index: 3 }, 1000)).toBe(232);
    expect(tileWidth({ level: 1, index: 0 }, 1000)).toBe(3);
    expect(tileWidth({ level: 0, index: 4 }, 1000)).toBe(0);
  });

  it("bundles length-prefixed entries and cuts partial prefixes", () => {
    const entries = [Buffer.from("a"), Buffer.alloc(0), Buffer.alloc(300, 7)];
    const bundle = Buffer.concat(entries.map(bundleEntry));
    expect(bundle.subarray(0, 3)).toEqual(Buffer.from([0, 1, 0x61]));
    expect(splitBundle(bundle).map((e) => Buffer.from(e))).toEqual(entries);
    expect(bundlePrefix(bundle, 2)).toEqual(bundle.subarray(0, 5));
    expect(bundlePrefix(bundle, 4)).toBeUndefined();
    expect(() => splitBundle(bundle.subarray(0, bundle.length - 1))).toThrow(expect.objectContaining({ code: "STORE_CORRUPT" }));
  });
});

describe("expanded tiles", () => {
  it("hold every inner node of a full tile, each the hash of its run of tile hashes", () => {
    const hashes = Array.from({ length: 256 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
    const inner = expandTile(Buffer.concat(hashes));
    expect(inner.length).toBe(254 * 32);
    for (let level = 1; level <= 7; level++) {
      const count = 2 ** level;
      for (let index = 0; index < 256 / count; index++) {
        expect(Buffer.from(expandedNode(inner, level, index)).toString("hex")).toBe(Buffer.from(perfectRoot(hashes, index * count, count)).toString("hex"));
      }
    }
    expect(() => expandTile(Buffer.concat(hashes.slice(0, 255)))).toThrow(expect.objectContaining({ code: "STORE_CORRUPT" }));
  });
});
