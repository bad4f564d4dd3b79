import { CreditMeshError } from "../errors.js";
import { LevelLogStore } from "../store/level-log-store.js";
import type { NodeDatabase } from "../store/database.js";
import { openCheckpoint, parseCheckpoint } from "../tlog/checkpoint.js";
import { LeafKind, decodeLeaf } from "../tlog/leaves.js";
import { leafHash, treeHash } from "../tlog/merkle.js";
import { parseVerifierKey, verifierKey } from "../tlog/note.js";
import { TILE_WIDTH, splitBundle } from "../tlog/tiles.js";

/** An audit head the node anchored in its transparency log (NodeTransparencyLog.auditHeads). */
export interface AuditAnchor {
  position: number;
  /** Hex hash of the audit entry at `position`. */
  hash: string;
  leafIndex: number;
}

export interface AuditAnchors {
  anchors: AuditAnchor[];
  /** The size of the signed checkpoint they were read up to (0: no checkpoint yet). */
  checkpointSize: number;
}

const AUDIT_HEAD_TAG = Buffer.from(LeafKind.AuditHead, "ascii");

/**
 * The audit heads anchored in the node's log, read from its entries up to the
 * latest signed checkpoint, once those entries are shown to be exactly the
 * leaves that checkpoint signs: every entry is hashed again and the tree's
 * root recomputed from them, so an entry removed, edited or reordered in the
 * database (even with the tiles rewritten to match) is refused. With
 * `publicKey`, the checkpoint's signature is checked too. The checkpoint is
 * what witnesses cosigned: a log rewritten as a whole, re-signed with the
 * node key, is what they catch (a size going back, or another root).
 *
 * Throws STORE_CORRUPT naming what does not match.
 */
export async function readAuditAnchors(db: NodeDatabase, opts: { origin: string; publicKey?: Uint8Array }): Promise<AuditAnchors> {
  const store = new LevelLogStore(db);
  const note = await store.checkpoint();
  if (note === undefined) return { anchors: [], checkpointSize: 0 };
  let checkpoint;
  try {
    checkpoint = opts.publicKey
      ? openCheckpoint(note, parseVerifierKey(verifierKey(opts.origin, opts.publicKey)), opts.origin).checkpoint
      : parseCheckpoint(note.slice(0, note.indexOf("\n\n") + 1));
  } catch (cause) {
    throw new CreditMeshError("STORE_CORRUPT", `the transparency log's checkpoint is not one this node signed: ${(cause as Error).message}`, { cause });
  }
  const size = checkpoint.size;
  const hashes: Uint8Array[] = [];
  const anchors: AuditAnchor[] = [];
  for (let bundle = 0; bundle * TILE_WIDTH < size; bundle++) {
    const data = await store.bundle(bundle);
    const entries = data === undefined ? [] : splitBundle(data);
    const want = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH);
    if (entries.length < want) {
      throw new CreditMeshError("STORE_CORRUPT", `the transparency log's entry bundle ${bundle} holds ${entries.length} of the ${want} entries its checkpoint covers (removed)`);
    }
    for (let i = 0; i < want; i++) {
      const entry = entries[i]!;
      hashes.push(leafHash(entry));
      // Only entries tagged as audit heads are decoded (lp(tag) is their first bytes).
      if (entry.length > 2 + AUDIT_HEAD_TAG.length && Buffer.from(entry.subarray(2, 2 + AUDIT_HEAD_TAG.length)).equals(AUDIT_HEAD_TAG)) {
        const { kind, fields } = decodeLeaf(entry);
        if (kind !== LeafKind.AuditHead) continue;
        anchors.push({
          position: Number(Buffer.from(fields[0]!).readBigUInt64BE()),
          hash: Buffer.from(fields[1]!).toString("hex"),
          leafIndex: bundle * TILE_WIDTH + i,
        });
      }
    }
  }
  if (!Buffer.from(treeHash(hashes)).equals(Buffer.from(checkpoint.root))) {
    throw new CreditMeshError("STORE_CORRUPT", `the transparency log's entries do not hash to the root its checkpoint signs at size ${size} (entries edited)`);
  }
  return { anchors, checkpointSize: size };
}
