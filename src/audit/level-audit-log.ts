import { createHash } from "node:crypto";
import { systemClock, type Clock } from "../clock.js";
import { CreditMeshError } from "../errors.js";
import { AuditEntry } from "../gen/creditmesh/v1/node.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import type { NodeDatabase, Sublevel, WriteOp } from "../store/database.js";
import type { WriteBatch } from "../store/types.js";
import { EMPTY_BATCH, opsOf } from "../store/write-batch.js";
import { MetaKey } from "../store/keys.js";
import { auditHeadSignatureOk, parseSignedHead, signAuditHead, type AuditHeadExport, type SignedAuditHead } from "./signed-head.js";
import { readAuditAnchors, type AuditAnchor } from "./log-anchors.js";
import type { AuditAction, AuditTrail } from "./trail.js";

/** prev_hash of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** Width of the position in audit keys, so that keys sort numerically. Part of the on-disk format. */
export const AUDIT_POSITION_DIGITS = 16;

/** Entries written in one batch at most; the rest wait for the next one. */
const MAX_GROUP = 512;

export function auditKey(position: number): string {
  return String(position).padStart(AUDIT_POSITION_DIGITS, "0");
}

/**
 * The hash of an entry: hex SHA-256 over a canonical encoding of its fields,
 * each as a 4-byte big-endian length followed by its UTF-8 bytes, in this
 * order: the tag "creditmesh-audit-1", position (decimal), at (ISO 8601 UTC
 * with milliseconds), action, actor, the number of details (decimal), each
 * detail's key and value sorted by key, and prev_hash. Anyone holding an
 * export can recompute it.
 */
export function auditEntryHash(e: Pick<AuditEntry, "position" | "at" | "action" | "actor" | "details" | "prevHash">): string {
  const parts: string[] = ["creditmesh-audit-1", String(e.position), e.at ? e.at.toISOString() : "", e.action, e.actor];
  const keys = Object.keys(e.details).sort();
  parts.push(String(keys.length));
  for (const k of keys) parts.push(k, e.details[k]!);
  parts.push(e.prevHash);
  const hash = createHash("sha256");
  const len = Buffer.alloc(4);
  for (const p of parts) {
    const bytes = Buffer.from(p, "utf8");
    len.writeUInt32BE(bytes.length);
    hash.update(len);
    hash.update(bytes);
  }
  return hash.digest("hex");
}

/** Result of walking the chain. */
export interface AuditVerification {
  ok: boolean;
  /** Entries stored. */
  entries: number;
  /** 0-based position of the first bad entry, -1 when ok. */
  firstBadPosition: number;
  reason: string;
  /** Hash of the last entry (GENESIS_HASH when empty). */
  headHash: string;
}

/** The head as recorded next to the entries, written in the same batch as each append. */
interface StoredHead {
  position: number;
  hash: string;
}

/** The last entry as the trail continues from it. */
interface LastEntry extends StoredHead {
  /** Its time (undefined if unreadable): a later entry is never dated before it. */
  at?: Date;
}

export interface AuditLogOptions {
  clock?: Clock;
  logger?: Logger;
  /** Signs every new head with the node key (see audit/signed-head.ts). */
  sign?: (data: Uint8Array) => Uint8Array;
  /** Receives every signed head once it is durable. */
  headExport?: AuditHeadExport;
  /** The node's public key, for verify(). */
  publicKey?: Uint8Array;
  /**
   * Writes a group's batch, carrying the transparency-log leaves its entries
   * brought (appendLogged) in the same synced write; resolves with the first
   * leaf's index. Without it, a group with leaves is refused.
   */
  logCarrier?: (ops: WriteOp[], leaves: readonly Uint8Array[]) => Promise<number>;
  /** The node's transparency-log origin (its institution id): verify() checks the trail against the heads anchored there. */
  logOrigin?: string;
}

interface Pending {
  action: AuditAction;
  actor: string;
  details: Record<string, string>;
  at: Date;
  also: WriteBatch;
  leaves: readonly Uint8Array[];
  resolve(firstLeaf?: number): void;
  reject(err: unknown): void;
}

/** A whole-value resident ID number or a mainland mobile number: raw personal data. */
const RAW_ID = /^\d{17}[\dXx]$/;
const RAW_PHONE = /^(\+?86)?1[3-9]\d{9}$/;
const DETAIL_KEY = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;

/**
 * The audit trail in the `audit` sublevel: `<position, 16 digits>` → AuditEntry
 * (protobuf), each entry carrying the previous entry's hash and its own, and
 * `meta/audit:head` → the last position and hash, written in the same batch so
 * that removing entries from the end is detected too.
 *
 * Appends are serialised and durable: an append resolves once its entry is in
 * a synced batch. Appends that arrive while a batch is being written go
 * together into the next one, in arrival order, so concurrent queries share
 * one synced write instead of paying one each.
 */
export class LevelAuditLog implements AuditTrail {
  private nextPosition: number;
  private headHash: string;
  private lastAt: number;
  private readonly queue: Pending[] = [];
  private scheduled = false;
  private writing?: Promise<void>;

  private constructor(
    private readonly db: NodeDatabase,
    head: LastEntry | undefined,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly opts: AuditLogOptions,
  ) {
    this.nextPosition = head ? head.position + 1 : 0;
    this.headHash = head ? head.hash : GENESIS_HASH;
    this.lastAt = head?.at?.getTime() ?? -Infinity;
  }

  /** Opens the trail and recovers its head from the last stored entry. */
  static async open(db: NodeDatabase, opts: AuditLogOptions = {}): Promise<LevelAuditLog> {
    const logger = opts.logger ?? silentLogger();
    const head = await lastEntry(db, logger);
    const recorded = await readStoredHead(db);
    if (head && recorded && (recorded.position !== head.position || recorded.hash !== head.hash)) {
      logger.error({ last: head.position, recorded: recorded.position }, "audit trail head does not match its last entry; run `creditmesh audit verify`");
    }
    if (opts.sign && head?.at && (await db.levels.meta.get(MetaKey.auditSigning)) === undefined) {
      // A trail written before heads were signed: its current head is signed once, from which on every append is.
      const signed = signAuditHead({ position: head.position, hash: head.hash, at: head.at.toISOString() }, opts.sign);
      await db.write(signedHeadOps(db, signed));
      logger.info({ position: head.position }, "audit trail head signed for the first time");
    }
    return new LevelAuditLog(db, head, opts.clock ?? systemClock, logger, opts);
  }

  /** Position the next entry will get, and the hash it will chain to. */
  get head(): { entries: number; hash: string } {
    return { entries: this.nextPosition, hash: this.headHash };
  }

  append(action: AuditAction, actor: string, details: Record<string, string>): Promise<void> {
    return this.appendWith(action, actor, details, EMPTY_BATCH);
  }

  /**
   * Appends an entry and commits `also` in the same atomic batch, for state
   * that must change exactly when the entry is written.
   */
  appendWith(action: AuditAction, actor: string, details: Record<string, string>, also: WriteBatch): Promise<void> {
    return this.enqueue(action, actor, details, also, []).then(() => undefined);
  }

  /**
   * appendWith() whose synced write also appends `leaves` to the node's
   * transparency log; resolves with the first leaf's index. Concurrent
   * queries share one write for their entries and leaves.
   */
  appendLogged(action: AuditAction, actor: string, details: Record<string, string>, also: WriteBatch, leaves: readonly Uint8Array[]): Promise<number> {
    if (!this.opts.logCarrier) return Promise.reject(new CreditMeshError("INTERNAL", "this audit trail carries no log leaves"));
    return this.enqueue(action, actor, details, also, leaves).then((first) => first!);
  }

  private enqueue(action: AuditAction, actor: string, details: Record<string, string>, also: WriteBatch, leaves: readonly Uint8Array[]): Promise<number | undefined> {
    const copy = checkDetails(details);
    return new Promise<number | undefined>((resolve, reject) => {
      this.queue.push({ action, actor, details: copy, at: this.clock.now(), also, leaves, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every append made so far is written (or failed). */
  async flushed(): Promise<void> {
    while (this.writing || this.queue.length > 0 || this.scheduled) {
      if (this.writing) await this.writing;
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    // One turn of the event loop lets appends made by the same burst of I/O join one batch.
    setImmediate(() => {
      this.scheduled = false;
      this.writing = this.drain().finally(() => {
        this.writing = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, MAX_GROUP);
      let position = this.nextPosition;
      let prev = this.headHash;
      let lastAt = this.lastAt;
      const ops: WriteOp[] = [];
      for (const p of group) {
        // Never dated before the entry it follows, even if the clock steps back: verify refuses a trail going back in time.
        lastAt = Math.max(lastAt, p.at.getTime());
        const entry: AuditEntry = {
          position: String(position),
          at: new Date(lastAt),
          action: p.action,
          actor: p.actor,
          details: p.details,
          prevHash: prev,
          hash: "",
        };
        entry.hash = auditEntryHash(entry);
        ops.push({ type: "put", sublevel: this.db.levels.audit, key: auditKey(position), value: AuditEntry.encode(entry).finish() });
        for (const op of opsOf(p.also)) ops.push(op);
        prev = entry.hash;
        position++;
      }
      ops.push({
        type: "put",
        sublevel: this.db.levels.meta,
        key: MetaKey.auditHead,
        value: JSON.stringify({ position: position - 1, hash: prev } satisfies StoredHead),
      });
      const signed = this.opts.sign && signAuditHead({ position: position - 1, hash: prev, at: new Date(lastAt).toISOString() }, this.opts.sign);
      if (signed) ops.push(...signedHeadOps(this.db, signed));
      const leaves = group.flatMap((p) => p.leaves);
      let firstLeaf = 0;
      try {
        if (leaves.length > 0) firstLeaf = await this.opts.logCarrier!(ops, leaves);
        else await this.db.write(ops);
      } catch (cause) {
        // Nothing of this group was written (one atomic batch): the head stays where it was.
        const err = new CreditMeshError("UNAVAILABLE", "the audit trail could not be written", { cause });
        this.logger.error({ entries: group.length, err: (cause as Error).message }, "audit append failed");
        for (const p of group) p.reject(err);
        continue;
      }
      this.nextPosition = position;
      this.headHash = prev;
      this.lastAt = lastAt;
      for (const p of group) {
        p.resolve(p.leaves.length > 0 ? firstLeaf : undefined);
        firstLeaf += p.leaves.length;
      }
      if (signed) this.exportHead(signed);
    }
  }

  /** Every entry in order, read from one snapshot. */
  async *export(): AsyncIterable<AuditEntry> {
    for await (const [key, bytes] of this.db.levels.audit.iterator()) {
      yield decodeEntry(key, bytes);
    }
  }

  /**
   * Walks the chain from the first entry and names the first entry that is
   * not what was appended: edited (its hash does not match its content),
   * missing (a gap in positions, or entries missing at the end), or moved
   * (stored under another position, or not chained to its predecessor).
   */
  async verify(opts: VerifyOptions = { publicKey: this.opts.publicKey, logOrigin: this.opts.logOrigin }): Promise<AuditVerification> {
    return verifyAudit(this.db, opts);
  }

  private exportHead(head: SignedAuditHead): void {
    try {
      this.opts.headExport?.publish(head);
    } catch (err) {
      this.logger.warn({ position: head.position, err: (err as Error).message }, "audit head export failed");
    }
  }
}

function signedHeadOps(db: NodeDatabase, head: SignedAuditHead): WriteOp[] {
  return [
    { type: "put", sublevel: db.levels.meta, key: MetaKey.auditSignedHead, value: JSON.stringify(head) },
    { type: "put", sublevel: db.levels.meta, key: MetaKey.auditSigning, value: "1" },
  ];
}

export interface VerifyOptions {
  /** The node's public key: the signed head's signature is checked with it (without it, only its position and hash). */
  publicKey?: Uint8Array;
  /**
   * The origin of the node's transparency log (its institution id): the trail
   * must reproduce every audit head anchored in the log up to its signed
   * checkpoint (log-anchors.ts). That catches a trail re-hashed, cut or wiped
   * by someone who also holds the node key, which the signed head cannot.
   */
  logOrigin?: string;
}

/** Sublevels whose content an audited action created: a database holding any of it has a trail. */
const AUDITED_DATA = ["acct", "rep", "consent", "revoked", "inq", "dispute"] as const;

async function holdsData(db: NodeDatabase): Promise<boolean> {
  for (const name of AUDITED_DATA) {
    const level = db.levels[name] as Sublevel<string>;
    if ((await level.keys({ limit: 1 }).all()).length > 0) return true;
  }
  return false;
}

/** Walks the chain of a database (the node may be running or stopped). */
export async function verifyAudit(db: NodeDatabase, opts: VerifyOptions = {}): Promise<AuditVerification> {
  let expected = 0;
  let prev = GENESIS_HASH;
  let prevAt = -Infinity;
  let stored = 0;
  let bad: { position: number; reason: string } | undefined;
  // Keys and values come from one snapshot, so a concurrent append cannot look like a gap.
  const recorded = await readStoredHead(db);
  const signedHead = parseSignedHead(await db.levels.meta.get(MetaKey.auditSignedHead));
  const signing = (await db.levels.meta.get(MetaKey.auditSigning)) !== undefined;
  let hashAtSignedHead: string | undefined;
  let anchors: AuditAnchor[] = [];
  if (opts.logOrigin !== undefined) {
    try {
      anchors = (await readAuditAnchors(db, { origin: opts.logOrigin, publicKey: opts.publicKey })).anchors;
    } catch (err) {
      if (!(err instanceof CreditMeshError) || err.code !== "STORE_CORRUPT") throw err;
      return { ok: false, entries: await countEntries(db), firstBadPosition: 0, reason: err.message, headHash: GENESIS_HASH };
    }
  }
  const anchoredAt = new Map(anchors.map((a) => [a.position, a]));
  let anchorBad: { position: number; reason: string } | undefined;
  const it = db.levels.audit.iterator();
  try {
    for await (const [key, bytes] of it) {
      stored++;
      if (bad) continue;
      const keyPosition = /^\d+$/.test(key) ? Number(key) : NaN;
      if (!Number.isSafeInteger(keyPosition)) {
        bad = { position: expected, reason: `entry key ${JSON.stringify(key)} is not a position` };
        continue;
      }
      if (keyPosition !== expected) {
        bad = {
          position: expected,
          reason:
            keyPosition > expected
              ? `entry ${expected} is missing (removed): the next stored entry is ${keyPosition}`
              : `entry stored at ${keyPosition} is out of order`,
        };
        continue;
      }
      let entry: AuditEntry;
      try {
        entry = AuditEntry.decode(bytes);
      } catch {
        bad = { position: expected, reason: `entry ${expected} is unreadable (edited)` };
        continue;
      }
      if (entry.position !== String(expected)) {
        bad = { position: expected, reason: `entry stored at ${expected} says it is entry ${entry.position} (reordered)` };
        continue;
      }
      if (auditEntryHash(entry) !== entry.hash) {
        bad = { position: expected, reason: `entry ${expected} does not match its hash (edited)` };
        continue;
      }
      if (entry.prevHash !== prev) {
        bad = {
          position: expected,
          reason: `entry ${expected} is not chained to entry ${expected - 1} (an entry before it was removed, replaced or reordered)`,
        };
        continue;
      }
      const at = entry.at?.getTime() ?? NaN;
      if (!(at >= prevAt)) {
        bad = { position: expected, reason: `entry ${expected} is dated before entry ${expected - 1} (backdated)` };
        continue;
      }
      if (signedHead && expected === signedHead.position) hashAtSignedHead = entry.hash;
      const anchor = anchoredAt.get(expected);
      if (anchor && anchor.hash !== entry.hash && !anchorBad) {
        anchorBad = { position: expected, reason: `entry ${expected} is not the one anchored in the transparency log at leaf ${anchor.leafIndex} (re-hashed or replaced)` };
      }
      prev = entry.hash;
      prevAt = at;
      expected++;
    }
  } finally {
    await it.close().catch(() => undefined);
  }
  if (!bad && recorded === null) {
    bad = { position: expected, reason: "the recorded head of the trail is unreadable" };
  }
  if (!bad && recorded && (recorded.position !== expected - 1 || recorded.hash !== prev)) {
    bad =
      recorded.position >= expected
        ? { position: expected, reason: `entries ${expected} to ${recorded.position} are missing (removed from the end)` }
        : { position: recorded.position + 1, reason: `the recorded head (entry ${recorded.position}) does not match the last entry (${expected - 1})` };
  }
  if (!bad && recorded === undefined && expected > 0) {
    bad = { position: expected, reason: "the recorded head of the trail is missing" };
  }
  if (!bad) bad = anchorBad ?? checkAnchorsReached(anchors, expected);
  if (!bad) bad = checkSignedHead(signedHead, signing, expected, hashAtSignedHead, opts);
  if (!bad && stored === 0 && (await holdsData(db))) {
    bad = { position: 0, reason: "the trail is empty but the database holds records, consents, inquiries or disputes (entries deleted)" };
  }
  return bad
    ? { ok: false, entries: stored, firstBadPosition: bad.position, reason: bad.reason, headHash: prev }
    : { ok: true, entries: stored, firstBadPosition: -1, reason: "", headHash: prev };
}

/** An anchored head beyond the trail's end: entries were cut from the end, or the trail wiped. */
function checkAnchorsReached(anchors: readonly AuditAnchor[], entries: number): { position: number; reason: string } | undefined {
  const beyond = anchors.filter((a) => a.position >= entries).sort((a, b) => b.position - a.position)[0];
  if (!beyond) return undefined;
  return {
    position: entries,
    reason:
      entries === 0
        ? `the trail is empty but the transparency log anchors its entry ${beyond.position} at leaf ${beyond.leafIndex} (wiped)`
        : `the transparency log anchors entry ${beyond.position} at leaf ${beyond.leafIndex} but the trail ends at ${entries - 1} (entries cut from the end)`,
  };
}

async function countEntries(db: NodeDatabase): Promise<number> {
  return (await db.levels.audit.keys().all()).length;
}

/** Why the signed head and the walked chain (`entries` good entries) disagree, if they do. */
function checkSignedHead(
  head: SignedAuditHead | null | undefined,
  signing: boolean,
  entries: number,
  hashAtHead: string | undefined,
  opts: VerifyOptions,
): { position: number; reason: string } | undefined {
  if (head === null) return { position: entries, reason: "the signed head of the trail is unreadable" };
  if (head === undefined) {
    return signing && entries > 0 ? { position: entries, reason: "the signed head of the trail is missing (removed)" } : undefined;
  }
  if (opts.publicKey && !auditHeadSignatureOk(head, opts.publicKey)) {
    return { position: head.position, reason: `the signed head (entry ${head.position}) is not signed by this node's key` };
  }
  if (head.position >= entries) {
    return {
      position: entries,
      reason: `the node signed a head at entry ${head.position} but the trail ends at ${entries - 1} (entries cut from the end)`,
    };
  }
  if (hashAtHead !== head.hash) {
    return { position: head.position, reason: `entry ${head.position} is not the one the node signed (re-hashed or replaced)` };
  }
  if (head.position < entries - 1) {
    return { position: head.position + 1, reason: `entries ${head.position + 1} to ${entries - 1} follow the signed head without a signature (appended by someone else)` };
  }
  return undefined;
}

function decodeEntry(key: string, bytes: Uint8Array): AuditEntry {
  try {
    return AuditEntry.decode(bytes);
  } catch (cause) {
    throw new CreditMeshError("STORE_CORRUPT", `audit entry ${key} is unreadable`, { cause });
  }
}

/** The recorded head; `null` when it is there but unreadable. */
async function readStoredHead(db: NodeDatabase): Promise<StoredHead | null | undefined> {
  const raw = await db.levels.meta.get(MetaKey.auditHead);
  if (raw === undefined) return undefined;
  try {
    const head = JSON.parse(raw) as StoredHead;
    if (Number.isSafeInteger(head.position) && head.position >= 0 && typeof head.hash === "string") return head;
  } catch {
    // reported by verify
  }
  return null;
}

/**
 * The last stored entry. An unreadable one (the trail was tampered with) does
 * not stop the node: new entries chain to its raw bytes' hash, and verify
 * reports the damage.
 */
async function lastEntry(db: NodeDatabase, logger: Logger): Promise<LastEntry | undefined> {
  const [last] = await db.levels.audit.iterator({ reverse: true, limit: 1 }).all();
  if (!last) return undefined;
  const [key, bytes] = last;
  const position = Number(key);
  try {
    const entry = AuditEntry.decode(bytes);
    if (entry.hash) return { position, hash: entry.hash, at: entry.at };
  } catch {
    // handled below
  }
  logger.error({ position }, "last audit entry is unreadable; run `creditmesh audit verify`");
  return { position, hash: createHash("sha256").update(bytes).digest("hex") };
}

function checkDetails(details: Record<string, string>): Record<string, string> {
  const copy: Record<string, string> = {};
  for (const [k, v] of Object.entries(details)) {
    if (!DETAIL_KEY.test(k)) throw new CreditMeshError("INTERNAL", `audit detail key ${JSON.stringify(k)} is not an identifier`);
    if (typeof v !== "string") throw new CreditMeshError("INTERNAL", `audit detail ${k} must be a string`);
    // A programming error guard: details hold tokens and ids, never an ID number or phone.
    if (RAW_ID.test(v) || RAW_PHONE.test(v)) throw new CreditMeshError("INTERNAL", `audit detail ${k} looks like raw personal data`);
    copy[k] = v;
  }
  return copy;
}
