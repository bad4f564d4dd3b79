import { CreditMeshError, invalid } from "../errors.js";
import type { GetLogCheckpointRequest, GetLogCheckpointResponse, GetLogProofRequest, GetLogProofResponse } from "../gen/creditmesh/v1/node.js";

/** What the gRPC log calls read: this node's transparency log (node/transparency-log.ts). */
export interface LogApi {
  readonly origin: string;
  checkpoint(): Promise<string | undefined>;
  /** The latest checkpoint the witness quorum cosigned, if any. */
  cosigned(): string | undefined;
  /** Committed size; proofs are only given for trees up to it. */
  readonly size: number;
  inclusionProof(index: number, size: number): Promise<Uint8Array[]>;
  consistencyProof(oldSize: number, size: number): Promise<Uint8Array[]>;
  leafHash(index: number): Promise<Uint8Array>;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function count(field: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(field, "must be a non-negative integer below 2^53");
  return n;
}

function ownLog(log: LogApi | undefined, institutionId: string): LogApi {
  if (!log) throw new CreditMeshError("UNAVAILABLE", "this node keeps no transparency log");
  if (institutionId !== "" && institutionId !== log.origin) {
    throw new CreditMeshError(
      "NOT_FOUND",
      `institution_id: this node serves only its own log (${log.origin}); read ${institutionId}'s at its HTTP port (/checkpoint, /tile/…)`,
      { field: "institution_id" },
    );
  }
  return log;
}

export async function getLogCheckpoint(log: LogApi | undefined, req: GetLogCheckpointRequest): Promise<GetLogCheckpointResponse> {
  const own = ownLog(log, req.institutionId);
  return { checkpoint: (await own.checkpoint()) ?? "", cosigned: own.cosigned() ?? "" };
}

/** Inclusion when leaf_index is set, else consistency from old_size; both against tree_size. */
export async function getLogProof(log: LogApi | undefined, req: GetLogProofRequest): Promise<GetLogProofResponse> {
  const l = ownLog(log, req.institutionId);
  const size = count("tree_size", req.treeSize)!;
  const index = count("leaf_index", req.leafIndex);
  const oldSize = count("old_size", req.oldSize);
  if (size === 0) throw invalid("tree_size", "required (at least 1)");
  if (size > l.size) throw invalid("tree_size", `is beyond the log's size ${l.size}`);
  if (index !== undefined && oldSize !== undefined) throw invalid("old_size", "give either leaf_index (inclusion) or old_size (consistency), not both");
  if (index !== undefined) {
    if (index >= size) throw invalid("leaf_index", `must be below tree_size ${size}`);
    const [proof, leaf] = await Promise.all([l.inclusionProof(index, size), l.leafHash(index)]);
    return { hashes: proof.map(hex), leafHash: hex(leaf) };
  }
  if (oldSize === undefined) throw invalid("leaf_index", "give leaf_index (inclusion) or old_size (consistency)");
  if (oldSize === 0 || oldSize > size) throw invalid("old_size", `must be from 1 to tree_size ${size}`);
  return { hashes: (await l.consistencyProof(oldSize, size)).map(hex), leafHash: "" };
}
