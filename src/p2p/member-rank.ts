import { createHash } from "node:crypto";

/**
 * Orders `others` by SHA-256(self ‖ 0x00 ‖ other): a spread that looks random
 * across the network (every member's first k form a random k-regular-ish
 * graph, connected with high probability once k ≥ log n) yet is the same at
 * every restart, so the members a node keeps connected and the witnesses of
 * its log do not change under it. Witnesses are the first of the kept ones,
 * so witnessing never needs a dial of its own.
 */
export function rankMembers(self: string, others: readonly string[]): string[] {
  const score = new Map(others.map((o) => [o, createHash("sha256").update(self).update("\0").update(o).digest("hex")]));
  return [...others].sort((a, b) => (score.get(a)! < score.get(b)! ? -1 : score.get(a)! > score.get(b)! ? 1 : 0));
}
