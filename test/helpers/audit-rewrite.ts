import { auditEntryHash, auditKey } from "../../src/audit/level-audit-log.js";
import { AuditEntry } from "../../src/gen/creditmesh/v1/node.js";
import type { NodeDatabase } from "../../src/store/database.js";
import { MetaKey } from "../../src/store/keys.js";

/**
 * Reads every audit entry, lets `tamper` change the list, writes it back
 * re-chained and records the matching head: what an editor of the database
 * can do without the node key. Returns the entries written (the last one's
 * hash is the new head).
 */
export async function rechainAudit(db: NodeDatabase, tamper: (entries: AuditEntry[]) => AuditEntry[]): Promise<AuditEntry[]> {
  const before = (await db.levels.audit.values().all()).map((v) => AuditEntry.decode(v));
  const after = tamper(before.map((e) => ({ ...e, details: { ...e.details } })));
  let prev = "0".repeat(64);
  after.forEach((e, i) => {
    e.position = String(i);
    e.prevHash = prev;
    e.hash = auditEntryHash(e);
    prev = e.hash;
  });
  for (const e of before) await db.levels.audit.del(auditKey(Number(e.position)));
  for (const e of after) await db.levels.audit.put(auditKey(Number(e.position)), AuditEntry.encode(e).finish());
  if (after.length) await db.levels.meta.put(MetaKey.auditHead, JSON.stringify({ position: after.length - 1, hash: prev }));
  else await db.levels.meta.del(MetaKey.auditHead);
  return after;
}
