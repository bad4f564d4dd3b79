import { verifySignature } from "../identity/node-key.js";

/**
 * The audit trail's head signed with the node key: its last position, that
 * entry's hash and time. Stored beside the trail and rewritten with every
 * append, so that whoever edits, re-hashes or cuts the trail without the node
 * key leaves a head that no longer matches; handed to an AuditHeadExport, so
 * that a copy kept elsewhere also catches whoever holds the key.
 */
export interface SignedAuditHead {
  version: 1;
  position: number;
  hash: string;
  /** ISO time of the entry at `position`. */
  at: string;
  /** Ed25519 signature (hex) over auditHeadBytes(). */
  signature: string;
}

const TAG = "creditmesh-audit-head-1";

/** The exact bytes a head's signature covers. */
export function auditHeadBytes(h: Pick<SignedAuditHead, "position" | "hash" | "at">): Uint8Array {
  return Buffer.from(`${TAG}\n${h.position}\n${h.hash}\n${h.at}`, "utf8");
}

export function signAuditHead(h: Pick<SignedAuditHead, "position" | "hash" | "at">, sign: (data: Uint8Array) => Uint8Array): SignedAuditHead {
  return { version: 1, position: h.position, hash: h.hash, at: h.at, signature: Buffer.from(sign(auditHeadBytes(h))).toString("hex") };
}

export function auditHeadSignatureOk(h: SignedAuditHead, publicKey: Uint8Array): boolean {
  return /^[0-9a-f]{128}$/.test(h.signature) && verifySignature(publicKey, auditHeadBytes(h), Buffer.from(h.signature, "hex"));
}

/** A stored head; `null` when it is there but not a head. */
export function parseSignedHead(raw: string | undefined): SignedAuditHead | null | undefined {
  if (raw === undefined) return undefined;
  try {
    const h = JSON.parse(raw) as SignedAuditHead;
    if (h.version === 1 && Number.isSafeInteger(h.position) && h.position >= 0 && typeof h.hash === "string" && typeof h.at === "string" && typeof h.signature === "string") {
      return h;
    }
  } catch {
    // reported by the caller
  }
  return null;
}

/**
 * Where signed heads go besides the database. Planned: gossip to members and
 * the transparency log, whose copies `audit verify` will compare against (a
 * trail rewritten by someone holding the node key, or rolled back to an older
 * signed head, is caught only by a copy kept elsewhere). Called after the
 * head's batch is durable; must not throw or block.
 */
export interface AuditHeadExport {
  publish(head: SignedAuditHead): void;
}
