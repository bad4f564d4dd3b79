import { invalid } from "../../errors.js";
import { ristretto255 } from "@noble/curves/ed25519.js";
import { lagrangeAt } from "./shamir.js";
import { publicShare, type PublicShare } from "./threshold.js";

/**
 * The token evaluator committee as the manifest will describe it: who holds
 * which share, the threshold, and the key epoch (a reshare starts a new
 * epoch with the same group key; a new key starts a new key id and needs a
 * re-index).
 */
export interface CommitteeMember {
  institutionId: string;
  /** Shamir index of this member's share, 1..n. */
  index: number;
  /** k_i·G, ristretto255 encoding. */
  publicShare: Uint8Array;
}

export interface CommitteeDescription {
  epoch: number;
  threshold: number;
  /** k·G, ristretto255 encoding: names the key, and so the tokens, across reshares. */
  publicKey: Uint8Array;
  members: readonly CommitteeMember[];
}

/** A committee checked once and decoded for proof verification. */
export class Committee {
  readonly epoch: number;
  readonly threshold: number;
  readonly keyId: string;
  readonly members: readonly (CommitteeMember & { share: PublicShare })[];

  constructor(d: CommitteeDescription, field = "committee") {
    if (!Number.isInteger(d.epoch) || d.epoch < 0) throw invalid(`${field}.epoch`, "must be a non-negative integer");
    if (!Number.isInteger(d.threshold) || d.threshold < 1) throw invalid(`${field}.threshold`, "must be a positive integer");
    if (d.members.length < d.threshold) {
      throw invalid(`${field}.members`, `${d.members.length} members cannot meet threshold ${d.threshold}`);
    }
    const ids = new Set<string>();
    const indices = new Set<number>();
    this.members = d.members.map((m, i) => {
      const f = `${field}.members[${i}]`;
      if (m.institutionId === "" || ids.has(m.institutionId)) throw invalid(`${f}.institution_id`, "must be present and unique");
      if (!Number.isInteger(m.index) || m.index < 1 || m.index > 255 || indices.has(m.index)) {
        throw invalid(`${f}.index`, "must be a unique integer from 1 to 255");
      }
      ids.add(m.institutionId);
      indices.add(m.index);
      let share: PublicShare;
      try {
        share = publicShare(m.index, m.publicShare);
      } catch {
        throw invalid(`${f}.public_share`, "must be a ristretto255 element");
      }
      return { ...m, share };
    });
    checkSharesFitKey(d, field);
    this.epoch = d.epoch;
    this.threshold = d.threshold;
    this.keyId = Buffer.from(d.publicKey).toString("hex");
  }

  get institutionIds(): string[] {
    return this.members.map((m) => m.institutionId);
  }
}

/**
 * The public shares must lie on one polynomial of degree t-1 through the
 * public key: otherwise two t-subsets of honest-looking evaluators would
 * give two different tokens for one person.
 */
function checkSharesFitKey(d: CommitteeDescription, field: string): void {
  const RP = ristretto255.Point;
  let key;
  try {
    key = RP.fromBytes(d.publicKey);
  } catch {
    throw invalid(`${field}.public_key`, "must be a ristretto255 element");
  }
  const basis = d.members.slice(0, d.threshold);
  const points = basis.map((m) => RP.fromBytes(m.publicShare));
  const at = (x: number) =>
    lagrangeAt(x, basis.map((m) => m.index)).reduce((acc, l, k) => acc.add(points[k].multiplyUnsafe(l)), RP.ZERO);
  if (!at(0).equals(key)) throw invalid(`${field}.public_key`, "does not match the members' public shares");
  d.members.slice(d.threshold).forEach((m, k) => {
    if (!at(m.index).equals(RP.fromBytes(m.publicShare))) {
      throw invalid(`${field}.members[${d.threshold + k}].public_share`, "is not consistent with the other shares");
    }
  });
}
