import { auditKey, verifyAudit } from "../audit/level-audit-log.js";
import { CreditMeshError } from "../errors.js";
import { AuditEntry } from "../gen/creditmesh/v1/node.js";
import type { NodeDatabase, WriteOp } from "../store/database.js";
import { AFTER_SEP, MetaKey, SEP } from "../store/keys.js";
import { LevelLogStore } from "../store/level-log-store.js";
import type { Tombstones } from "../store/types.js";
import { toBatch } from "../store/write-batch.js";
import { logNoteVerifier } from "../tlog/answer-proof.js";
import { openCheckpoint } from "../tlog/checkpoint.js";
import { decodeLeaf, LeafKind, tombstoneLeaf } from "../tlog/leaves.js";
import { TiledLog } from "../tlog/tiled-log.js";
import { splitBundle, TILE_WIDTH } from "../tlog/tiles.js";

/**
 * Restore and the transparency log. A backup's records are what the node
 * held when it was taken; its log and audit trail are the history up to then.
 * Witnesses cosigned the node's log since: putting the backup's shorter log
 * back would be a size going backwards (ROLLBACK evidence at every witness),
 * and anything deleted since would come back while the log says it was
 * tombstoned. So a restore keeps the histories that survive and makes the
 * records agree with them:
 *
 * - the newer log, audit trail and witness state are carried over from the
 *   database being replaced, when it still opens, its trail verifies and
 *   both extend the backup's (none of them holds personal data);
 * - every account the carried log tombstoned after the backup is destroyed
 *   again in the restored copy;
 * - every account version the carried log committed that the restored copy
 *   does not hold (furnished or updated after the backup) gets a
 *   RESTORED_FROM_BACKUP tombstone, and the account's leaf entry goes back to
 *   the version restored, so an answer never proves a version the node no
 *   longer has.
 */

/** Sublevels that hold history, not data: never rolled back when a newer copy survives. */
const CARRIED_LEVELS = ["audit", "tlog", "witness"] as const;
/** The audit trail's own state in the meta sublevel, which goes with it. */
const CARRIED_META = [MetaKey.auditHead, MetaKey.auditSignedHead, MetaKey.auditSigning, MetaKey.auditedApiKeys] as const;
const COPY_BATCH = 1_000;

export const RESTORED_FROM_BACKUP = "RESTORED_FROM_BACKUP";

/** An account's latest record-version leaf, as the `i!<ref>` entry beside the log holds it. */
interface LeafEntry {
  index: number;
  raw: Uint8Array;
}

const INDEX_FROM = `i${SEP}`;
const INDEX_TO = `i${AFTER_SEP}`;

export async function leafEntries(db: NodeDatabase): Promise<Map<string, LeafEntry>> {
  const out = new Map<string, LeafEntry>();
  for (const [key, raw] of await db.entries(db.levels.tlog, { gt: INDEX_FROM, lt: INDEX_TO })) {
    const index = Number(Buffer.from(raw).toString("latin1").split(" ")[0]);
    if (Number.isSafeInteger(index) && index >= 0) out.set(key.slice(INDEX_FROM.length), { index, raw });
  }
  return out;
}

export interface LogState {
  size: number;
  root: Uint8Array;
}

export async function logState(db: NodeDatabase): Promise<LogState> {
  const log = await TiledLog.init(new LevelLogStore(db));
  return { size: log.size, root: await log.root(log.size) };
}

/**
 * Why the database being replaced cannot lend its histories to the restored
 * copy, or undefined when it can: its log must extend the backup's (same root
 * at the backup's size), and its audit trail must verify (anchors included)
 * and hold the backup's head at the backup's last position.
 */
export async function cannotCarry(
  current: NodeDatabase,
  backup: { log: LogState; auditEntries: number; auditHead: string },
  opts: { publicKey: Uint8Array; origin: string },
): Promise<string | undefined> {
  const log = await TiledLog.init(new LevelLogStore(current));
  if (log.size < backup.log.size) {
    return `its transparency log has ${log.size} entries, fewer than the backup's ${backup.log.size}`;
  }
  if (backup.log.size > 0 && Buffer.compare(await log.root(backup.log.size), backup.log.root) !== 0) {
    return `its transparency log at the backup's size ${backup.log.size} has another root: the backup is not of this log's history`;
  }
  const audit = await verifyAudit(current, { publicKey: opts.publicKey, logOrigin: opts.origin });
  if (!audit.ok) return `its audit trail does not verify (entry ${audit.firstBadPosition}: ${audit.reason})`;
  if (backup.auditEntries > 0) {
    const raw = await current.levels.audit.get(auditKey(backup.auditEntries - 1));
    if (raw === undefined || AuditEntry.decode(raw).hash !== backup.auditHead) {
      return `its audit trail does not hold the backup's head at entry ${backup.auditEntries - 1}`;
    }
  }
  return undefined;
}

/** Replaces the restored copy's histories (log, audit trail, witness state) with the surviving database's. */
export async function carryHistories(from: NodeDatabase, into: NodeDatabase): Promise<void> {
  for (const name of CARRIED_LEVELS) {
    const target = into.levels[name];
    await target.clear();
    const it = from.levels[name].iterator();
    try {
      for (;;) {
        const entries = await it.nextv(COPY_BATCH);
        if (entries.length === 0) break;
        await into.write(entries.map(([key, value]) => ({ type: "put", sublevel: target, key, value }) as WriteOp));
      }
    } finally {
      await it.close();
    }
  }
  const ops: WriteOp[] = [];
  for (const key of CARRIED_META) {
    const value = await from.levels.meta.get(key);
    ops.push(value === undefined ? { type: "del", sublevel: into.levels.meta, key } : { type: "put", sublevel: into.levels.meta, key, value });
  }
  await into.write(ops);
}

/**
 * Checks a checkpoint the node published (a signed note, cosigned or not)
 * against the restored copy's log: its size must not be beyond the log's and
 * the log's root at its size must be its root. Returns why not.
 */
export async function contradicts(db: NodeDatabase, note: string, opts: { publicKey: Uint8Array; origin: string }): Promise<string | undefined> {
  const { checkpoint } = openCheckpoint(note, logNoteVerifier(opts.origin, opts.publicKey), opts.origin);
  const log = await TiledLog.init(new LevelLogStore(db));
  if (checkpoint.size > log.size) {
    return `the node published a checkpoint of size ${checkpoint.size}; the restored log has ${log.size} entries (its size would go backwards)`;
  }
  if (checkpoint.size > 0 && Buffer.compare(await log.root(checkpoint.size), checkpoint.root) !== 0) {
    return `the restored log's root at size ${checkpoint.size} is not the published checkpoint's (two roots for one size)`;
  }
  return undefined;
}

export interface Reconciliation {
  /** Accounts tombstoned in the carried log after the backup that the restored copy still held, destroyed again. */
  deleted: number;
  /** Leaves of versions the restored copy does not hold, tombstoned RESTORED_FROM_BACKUP. */
  versionsTombstoned: number;
}

/**
 * Makes the restored records agree with the carried log. `backupEntries` are
 * the backup's own account leaf entries (read before the log was carried);
 * `backupSize` the backup's log size: tombstones from there on are the
 * deletions made after the backup. `destroy` destroys accounts in the
 * restored copy (with their repayments and disputes).
 */
export async function reconcileWithLog(
  db: NodeDatabase,
  o: { backupEntries: Map<string, LeafEntry>; backupSize: number; destroy: (refs: readonly string[]) => Promise<number> },
): Promise<Reconciliation> {
  const store = new LevelLogStore(db);
  const log = await TiledLog.init(store);
  const tombstoned = new Set<number>();
  // Bundle by bundle: each holds TILE_WIDTH entries, read once.
  for (let n = Math.floor(o.backupSize / TILE_WIDTH); n * TILE_WIDTH < log.size; n++) {
    const data = await store.bundle(n);
    if (data === undefined) throw new CreditMeshError("STORE_CORRUPT", `the kept log has no entry bundle ${n}`);
    for (const [i, entry] of splitBundle(data).entries()) {
      const index = n * TILE_WIDTH + i;
      if (index < o.backupSize || index >= log.size) continue;
      const leaf = decodeLeaf(entry);
      if (leaf.kind === LeafKind.Tombstone) tombstoned.add(Number(Buffer.from(leaf.fields[0]!).readBigUInt64BE()));
    }
  }
  const carried = await leafEntries(db);
  const deleted: string[] = [];
  const tombstones: Uint8Array[] = [];
  const ops: WriteOp[] = [];
  const level = db.levels.tlog;
  for (const ref of new Set([...o.backupEntries.keys(), ...carried.keys()])) {
    const b = o.backupEntries.get(ref);
    const c = carried.get(ref);
    if (b && tombstoned.has(b.index)) deleted.push(ref);
    const kept = b && !tombstoned.has(b.index) ? b : undefined;
    if (c && c.index !== kept?.index) tombstones.push(tombstoneLeaf(c.index, RESTORED_FROM_BACKUP));
    if (kept && c?.index !== kept.index) ops.push({ type: "put", sublevel: level, key: `${INDEX_FROM}${ref}`, value: kept.raw });
    else if (!kept && c) ops.push({ type: "del", sublevel: level, key: `${INDEX_FROM}${ref}` });
  }
  const destroyed = deleted.length > 0 ? await o.destroy(deleted) : 0;
  if (tombstones.length > 0) await log.append(tombstones, undefined, toBatch(ops));
  else if (ops.length > 0) await db.write(ops);
  return { deleted: destroyed, versionsTombstoned: tombstones.length };
}

/**
 * Tombstones appended offline, in the restored copy: what the running node's
 * transparency log does for an erasure, for the erasures restore re-applies.
 */
export class OfflineTombstones implements Tombstones {
  constructor(private readonly db: NodeDatabase) {}

  async deleted(accountRefs: readonly string[], reason: string): Promise<{ durable: Promise<unknown> }> {
    const raw = await this.db.levels.tlog.getMany(accountRefs.map((ref) => `${INDEX_FROM}${ref}`));
    const leaves: Uint8Array[] = [];
    const ops: WriteOp[] = [];
    for (const [i, ref] of accountRefs.entries()) {
      const index = raw[i] === undefined ? NaN : Number(Buffer.from(raw[i]!).toString("latin1").split(" ")[0]);
      if (!Number.isSafeInteger(index) || index < 0) continue;
      leaves.push(tombstoneLeaf(index, reason));
      ops.push({ type: "del", sublevel: this.db.levels.tlog, key: `${INDEX_FROM}${ref}` });
    }
    if (leaves.length === 0) return { durable: Promise.resolve() };
    const log = await TiledLog.init(new LevelLogStore(this.db));
    await log.append(leaves, undefined, toBatch(ops));
    return { durable: Promise.resolve() };
  }
}

export function refuseRollback(reason: string): CreditMeshError {
  return new CreditMeshError(
    "CONFLICT",
    `restoring this backup would roll the node's witnessed transparency log back: ${reason}. ` +
      "Witnesses would record it as a rollback or equivocation of this node's log. " +
      "Restore with the current database in place (and --force) so its log is kept, or pass --allow-log-rollback to accept that evidence",
  );
}
