import { CreditMeshError } from "../errors.js";
import { HASH_SIZE, type NodeId, nodeHash } from "./merkle.js";

/**
 * C2SP tlog-tiles layout with tile height 8: the tile at level L, index N
 * holds the hashes of tree level 8·L, nodes N·256 … N·256+W−1; a partial
 * tile (W < 256) exists only at the right edge. Entry bundles hold the
 * leaves' data in the same groups of 256.
 */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
/** An entry in a bundle is length-prefixed with a big-endian uint16. */
export const MAX_ENTRY_BYTES = 0xffff;

export interface TileId {
  level: number;
  index: number;
}

/** Where a perfect subtree's hash comes from: a run of hashes in one tile, hashed up to its root. */
export interface NodeLocation {
  tile: TileId;
  /** First hash in the tile, and how many (a power of two ≤ 128). */
  offset: number;
  count: number;
}

export function locateNode(id: NodeId): NodeLocation {
  const level = Math.floor(id.level / TILE_HEIGHT);
  const count = 2 ** (id.level - level * TILE_HEIGHT);
  const first = id.index * count;
  const index = Math.floor(first / TILE_WIDTH);
  return { tile: { level, index }, offset: first - index * TILE_WIDTH, count };
}

/** The width of the tile at (level, index) in a tree of `size` leaves: 0 if it does not exist yet. */
export function tileWidth(tile: TileId, size: number): number {
  const nodes = Math.floor(size / TILE_WIDTH ** tile.level);
  return Math.max(0, Math.min(TILE_WIDTH, nodes - tile.index * TILE_WIDTH));
}

/** N as C2SP paths spell it: 3-digit groups, each but the last prefixed with "x" ("x001/x234/067"). */
export function encodeIndex(n: number): string {
  let s = String(n);
  if (s.length % 3 !== 0) s = s.padStart(s.length + 3 - (s.length % 3), "0");
  const groups = s.match(/.{3}/g) ?? [];
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

export function tilePath(tile: TileId, width = TILE_WIDTH): string {
  return `tile/${tile.level}/${encodeIndex(tile.index)}${width < TILE_WIDTH ? `.p/${width}` : ""}`;
}

export function entriesPath(index: number, width = TILE_WIDTH): string {
  return `tile/entries/${encodeIndex(index)}${width < TILE_WIDTH ? `.p/${width}` : ""}`;
}

export type ParsedTilePath =
  | { kind: "tile"; tile: TileId; width: number }
  | { kind: "entries"; index: number; width: number };

/**
 * Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` (no leading
 * slash); undefined for anything else, including non-canonical spellings,
 * so one resource has one URL (caches and clients rely on that).
 */
export function parseTilePath(path: string): ParsedTilePath | undefined {
  const m = /^tile\/(entries|[0-9]|[1-5][0-9]|6[0-3])\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([0-9]{1,3}))?$/.exec(path);
  if (!m) return undefined;
  const digits = m[2]!.replace(/[x/]/g, "");
  const index = Number(digits);
  if (!Number.isSafeInteger(index) || encodeIndex(index) !== m[2]) return undefined;
  let width = TILE_WIDTH;
  if (m[3] !== undefined) {
    width = Number(m[3]);
    if (String(width) !== m[3] || width < 1 || width >= TILE_WIDTH) return undefined;
  }
  if (m[1] === "entries") return { kind: "entries", index, width };
  const level = Number(m[1]);
  if (String(level) !== m[1]) return undefined;
  return { kind: "tile", tile: { level, index }, width };
}

/** Appends one entry's length prefix and bytes to a bundle under construction. */
export function bundleEntry(data: Uint8Array): Uint8Array {
  // Pooled: an append makes one per entry.
  const out = Buffer.allocUnsafe(2 + data.length);
  out[0] = data.length >> 8;
  out[1] = data.length & 0xff;
  out.set(data, 2);
  return out;
}

/** Splits a bundle into its entries; throws STORE_CORRUPT on a truncated one. */
export function splitBundle(bundle: Uint8Array): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < bundle.length) {
    if (at + 2 > bundle.length) throw new CreditMeshError("STORE_CORRUPT", "entry bundle is truncated");
    const len = (bundle[at]! << 8) | bundle[at + 1]!;
    if (at + 2 + len > bundle.length) throw new CreditMeshError("STORE_CORRUPT", "entry bundle is truncated");
    entries.push(bundle.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return entries;
}

/** The first `width` entries of a bundle, as bytes (a partial bundle of an earlier tree size). */
export function bundlePrefix(bundle: Uint8Array, width: number): Uint8Array | undefined {
  let at = 0;
  for (let i = 0; i < width; i++) {
    if (at + 2 > bundle.length) return undefined;
    at += 2 + ((bundle[at]! << 8) | bundle[at + 1]!);
  }
  return at <= bundle.length ? bundle.subarray(0, at) : undefined;
}

/** The hashes of a stored tile, as views into it. */
export function tileHashes(tile: Uint8Array): Uint8Array[] {
  if (tile.length % HASH_SIZE !== 0) throw new CreditMeshError("STORE_CORRUPT", "tile length is not a multiple of 32");
  const out: Uint8Array[] = [];
  for (let at = 0; at < tile.length; at += HASH_SIZE) out.push(tile.subarray(at, at + HASH_SIZE));
  return out;
}

/**
 * Every inner node of a full tile: its levels 1 to 7 (128, 64, … 2 hashes;
 * level 8, the tile's root, is a hash of the tile above), 254 hashes in that
 * order. A proof needs one node of each level of the tiles it passes through,
 * which recomputed from the tile's hashes costs 247 hashes per tile; once
 * expanded, every later proof through the tile costs none.
 */
export function expandTile(tile: Uint8Array): Buffer {
  if (tile.length !== TILE_WIDTH * HASH_SIZE) throw new CreditMeshError("STORE_CORRUPT", "only a full tile can be expanded");
  const out = Buffer.allocUnsafe((TILE_WIDTH - 2) * HASH_SIZE);
  let below: Uint8Array = tile;
  let belowAt = 0;
  let at = 0;
  for (let n = TILE_WIDTH / 2; n >= 2; n /= 2) {
    for (let j = 0; j < n; j++) {
      const left = (belowAt + 2 * j) * HASH_SIZE;
      out.set(nodeHash(below.subarray(left, left + HASH_SIZE), below.subarray(left + HASH_SIZE, left + 2 * HASH_SIZE)), (at + j) * HASH_SIZE);
    }
    below = out;
    belowAt = at;
    at += n;
  }
  return out;
}

/** The node at tile level `level` (1 to 7), index `index` within the tile, of an expandTile() result. */
export function expandedNode(expanded: Uint8Array, level: number, index: number): Uint8Array {
  const at = TILE_WIDTH - (2 * TILE_WIDTH) / 2 ** level + index;
  return expanded.subarray(at * HASH_SIZE, (at + 1) * HASH_SIZE);
}
