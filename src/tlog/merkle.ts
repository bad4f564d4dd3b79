import { createHash } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import { sha256, sha256Prefixed } from "./sha256.js";

/**
 * RFC 6962 §2.1 (RFC 9162 §2.1.1) Merkle tree hashing with SHA-256. Sizes and
 * indices are plain numbers: they stay exact up to 2^53, far beyond any log
 * a node can hold, and avoid BigInt on the proof hot path. Bit operators are
 * avoided for the same reason (they truncate to 32 bits).
 */
export const HASH_SIZE = 32;

const NODE_PREFIX = Buffer.from([0x01]);

export const EMPTY_ROOT: Uint8Array = createHash("sha256").digest();

export function leafHash(data: Uint8Array): Uint8Array {
  return sha256Prefixed(0x00, data);
}

/** 0x01 ‖ left ‖ right, rewritten per node: nodeHash is synchronous, so no two calls share it at once. */
const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE, 0x01);

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
  }
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}

/** The largest power of two strictly smaller than n (n ≥ 2): RFC 6962's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A perfect subtree: the 2^level leaves starting at index × 2^level. */
export interface NodeId {
  level: number;
  index: number;
}

/**
 * The perfect subtrees that make up leaves [start, end), largest first, when
 * start is aligned the way RFC 6962's recursion leaves it (a multiple of the
 * largest power of two not above end − start). Folding their hashes from the
 * right gives MTH(D[start:end]).
 */
export function rangeNodes(start: number, end: number): NodeId[] {
  const nodes: NodeId[] = [];
  let lo = start;
  while (lo < end) {
    let size = 1;
    let level = 0;
    while (size * 2 <= end - lo && lo % (size * 2) === 0) {
      size *= 2;
      level++;
    }
    nodes.push({ level, index: lo / size });
    lo += size;
  }
  return nodes;
}

/** Folds the hashes of rangeNodes() into the range's hash. */
export function foldRange(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return EMPTY_ROOT;
  let h = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i]!, h);
  return h;
}

/** The hash of a perfect subtree given its 2^level leaf-level hashes (or lower-level node hashes). */
export function perfectRoot(hashes: readonly Uint8Array[], from = 0, count = hashes.length): Uint8Array {
  if (count === 1) return hashes[from]!;
  const half = count / 2;
  return nodeHash(perfectRoot(hashes, from, half), perfectRoot(hashes, from + half, half));
}

/** MTH(D[n]) of RFC 6962 §2.1 over leaf hashes, for any n. */
export function treeHash(leafHashes: readonly Uint8Array[]): Uint8Array {
  const n = leafHashes.length;
  if (n === 0) return EMPTY_ROOT;
  return foldRange(rangeNodes(0, n).map((id) => perfectRoot(leafHashes, id.index * 2 ** id.level, 2 ** id.level)));
}

/**
 * A proof as the perfect subtrees each of its hashes is made of, in RFC 6962
 * order: an element with one node is a stored hash, one with several is the
 * right fold of them (a right edge that is not a perfect subtree).
 */
export type ProofPlan = NodeId[][];

/** PATH(m, D[n]) of RFC 6962 §2.1.1: which subtrees an inclusion proof of `index` in `size` holds. */
export function inclusionPlan(index: number, size: number): ProofPlan {
  checkSize("tree_size", size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new CreditMeshError("VALIDATION_FAILED", `leaf_index: must be an integer from 0 to ${size - 1}`, {
      field: "leaf_index",
    });
  }
  const plan: ProofPlan = [];
  let lo = 0;
  let hi = size;
  // Walks from the root down; RFC order is from the leaf up, so the plan is reversed.
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      plan.push(rangeNodes(lo + k, hi));
      hi = lo + k;
    } else {
      plan.push(rangeNodes(lo, lo + k));
      lo = lo + k;
    }
  }
  return plan.reverse();
}

/** PROOF(m, D[n]) of RFC 6962 §2.1.2: the subtrees of a consistency proof from oldSize to newSize. */
export function consistencyPlan(oldSize: number, newSize: number): ProofPlan {
  checkSize("tree_size", newSize);
  if (!Number.isSafeInteger(oldSize) || oldSize < 0 || oldSize > newSize) {
    throw new CreditMeshError("VALIDATION_FAILED", `old_size: must be an integer from 0 to ${newSize}`, {
      field: "old_size",
    });
  }
  if (oldSize === 0 || oldSize === newSize) return [];
  const plan: ProofPlan = [];
  let m = oldSize;
  let lo = 0;
  let hi = newSize;
  let whole = true;
  // SUBPROOF(m, D[lo:hi], whole), unrolled; elements found on the way down come last.
  while (m !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m <= k) {
      plan.push(rangeNodes(lo + k, hi));
      hi = lo + k;
    } else {
      plan.push(rangeNodes(lo, lo + k));
      m -= k;
      lo += k;
      whole = false;
    }
  }
  if (!whole) plan.push(rangeNodes(lo, hi));
  return plan.reverse();
}

function checkSize(field: string, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new CreditMeshError("VALIDATION_FAILED", `${field}: must be a non-negative integer`, { field });
  }
}

/** Every subtree a plan needs, so a store can read them all at once (a plan's ranges are disjoint: no subtree twice). */
export function planNodes(plan: ProofPlan): NodeId[] {
  return plan.flat();
}

/** Turns a plan into proof hashes, given a lookup of the subtree hashes it names. */
export function resolvePlan(plan: ProofPlan, hashOf: (id: NodeId) => Uint8Array): Uint8Array[] {
  return plan.map((element) => foldRange(element.map(hashOf)));
}

/** Proofs over a full list of leaf hashes in memory (tests, small logs). */
export function inclusionProof(index: number, leafHashes: readonly Uint8Array[]): Uint8Array[] {
  return resolvePlan(inclusionPlan(index, leafHashes.length), (id) => perfectRoot(leafHashes, id.index * 2 ** id.level, 2 ** id.level));
}

export function consistencyProof(oldSize: number, leafHashes: readonly Uint8Array[]): Uint8Array[] {
  return resolvePlan(consistencyPlan(oldSize, leafHashes.length), (id) =>
    perfectRoot(leafHashes, id.index * 2 ** id.level, 2 ** id.level),
  );
}

/** Why a proof did not verify; `null` from the verifiers means it did. */
export type ProofFailure = string;

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function wellFormed(hashes: readonly Uint8Array[]): boolean {
  return hashes.every((h) => h instanceof Uint8Array && h.length === HASH_SIZE);
}

/** A walk position packs (level, node) in one number while the node index stays below 2^47. */
const LEVELS = 64;
const MAX_WALK_NODE = 2 ** 47;

/**
 * Inclusion walks that verified against one tree (size and root), by the
 * position each step started from. A proof's walk is fixed by its position,
 * the hash there and the proof hashes left; once one reached the root, a
 * later proof arriving at the same position with the same hash and the same
 * remaining hashes would repeat it step for step, so it is known to verify
 * without hashing: comparing 32-byte strings costs a fraction of a hash. An
 * answer's proofs (one subject's accounts, often adjacent leaves, and the
 * query's inquiry) and concurrent answers naming the same checkpoint share
 * most of their path to the root. The result is exactly that of the full
 * walk; bounded, it stops remembering once full.
 */
export class VerifiedPaths {
  readonly #steps = new Map<number, { nodes: Buffer; proof: Buffer; at: number; count: number }>();

  constructor(
    readonly size: number,
    readonly root: Uint8Array,
    private readonly max = 512,
  ) {}

  /** Whether the walk from `position` with hash `r` and `proof[at..]` left is one that reached the root. */
  walked(position: number, r: Uint8Array, proof: readonly Uint8Array[], at: number): boolean {
    const step = this.#steps.get(position);
    if (step === undefined || step.count - step.at !== proof.length - at) return false;
    if (step.nodes.compare(r, 0, HASH_SIZE, step.at * HASH_SIZE, (step.at + 1) * HASH_SIZE) !== 0) return false;
    for (let j = 0; at + j < proof.length; j++) {
      const from = (step.at + j) * HASH_SIZE;
      if (step.proof.compare(proof[at + j]!, 0, HASH_SIZE, from, from + HASH_SIZE) !== 0) return false;
    }
    return true;
  }

  /** Keeps a walk that reached the root: its positions and hashes, copied (proofs may be views of a whole message). */
  remember(positions: readonly number[], nodes: readonly Uint8Array[], proof: readonly Uint8Array[]): void {
    if (this.#steps.size >= this.max) return;
    let nodeBytes: Buffer | undefined;
    let proofBytes: Buffer | undefined;
    for (let i = 0; i < positions.length && this.#steps.size < this.max; i++) {
      if (this.#steps.has(positions[i]!)) continue;
      nodeBytes ??= Buffer.concat(nodes);
      proofBytes ??= Buffer.concat(proof);
      this.#steps.set(positions[i]!, { nodes: nodeBytes, proof: proofBytes, at: i, count: proof.length });
    }
  }
}

/**
 * RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or why it leads
 * nowhere (wrong length, index outside the tree). With `paths` of this tree,
 * a walk that meets one already verified stops there with its root.
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  paths?: VerifiedPaths,
): Uint8Array | ProofFailure {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    return `leaf index ${index} is outside a tree of size ${size}`;
  }
  if (leaf.length !== HASH_SIZE || !wellFormed(proof)) return "hashes must be 32 bytes";
  if (paths !== undefined && (paths.size !== size || index >= MAX_WALK_NODE)) paths = undefined;
  const positions: number[] = [];
  const nodes: Uint8Array[] = [];
  let fn = index;
  let sn = size - 1;
  let level = 0;
  let r = leaf;
  for (let i = 0; i < proof.length; i++) {
    const p = proof[i]!;
    if (sn === 0) return "proof is too long";
    if (paths !== undefined) {
      // fn = index >> level and sn = (size - 1) >> level: the level and fn fix where the walk stands.
      const position = fn * LEVELS + level;
      if (paths.walked(position, r, proof, i)) return paths.root;
      positions.push(position);
      nodes.push(r);
    }
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = fn / 2;
          sn = Math.floor(sn / 2);
          level++;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
    level++;
  }
  if (sn !== 0) return "proof is too short";
  if (paths !== undefined && equal(r, paths.root)) paths.remember(positions, nodes, proof);
  return r;
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
  paths?: VerifiedPaths,
): ProofFailure | null {
  const r = rootFromInclusionProof(index, size, leaf, proof, paths !== undefined && equal(paths.root, root) ? paths : undefined);
  if (typeof r === "string") return r;
  return equal(r, root) ? null : "root does not match";
}

/** RFC 9162 §2.1.4.2. */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): ProofFailure | null {
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 0) return "sizes must be integers";
  if (newSize < oldSize) return `new size ${newSize} is smaller than old size ${oldSize}`;
  // As the reference does: even 0 → 0 is refused, nothing can be learnt from it.
  if (oldSize === 0) return "a consistency proof from the empty tree proves nothing";
  if (oldSize === newSize) {
    if (proof.length !== 0) return "proof must be empty for equal sizes";
    return equal(oldRoot, newRoot) ? null : "roots of equal sizes differ";
  }
  if (!wellFormed(proof) || oldRoot.length !== HASH_SIZE || newRoot.length !== HASH_SIZE) return "hashes must be 32 bytes";
  if (proof.length === 0) return "proof is empty";
  let path = proof;
  // A power-of-two old tree is itself a node of the new one: it starts the chain.
  if (isPowerOfTwo(oldSize)) path = [oldRoot, ...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return "proof is too long";
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = fn / 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return "proof is too short";
  if (!equal(fr, oldRoot)) return "old root does not match";
  if (!equal(sr, newRoot)) return "new root does not match";
  return null;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}
