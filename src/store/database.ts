import { unlinkSync } from "node:fs";
import path from "node:path";
import { Level, type BatchOperation } from "level";
import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { KeyPrefix, MetaKey, SCHEMA_VERSION, UPGRADABLE_SCHEMA_VERSIONS } from "./keys.js";

type Root = Level<string, string>;

/**
 * Root keys outside every sublevel (sublevel keys start with "!"), bracketing
 * the whole key space; used only while forgetting destroyed data.
 */
const SCRUB_LOW = " scrub";
const SCRUB_HIGH = "~scrub";
/** A range that holds no key: compacting it only flushes the memtable into a table. */
const FLUSH_ONLY = ["\u0001", "\u0002"] as const;

/** A write to the root keyspace: a full key, and a value classic-level stores as it is. */
export type RawOp = { type: "put"; key: string; value: string | Uint8Array } | { type: "del"; key: string };

/** classic-level's batch as abstract-level implementations provide it: encoded operations, written as given. */
interface RawBatch {
  _batch(operations: RawOp[], options: { sync: boolean }): Promise<void>;
}

/**
 * Writes a batch straight through classic-level's own _batch (abstract-level's
 * implementation interface), on an open database: abstract-level's batch()
 * clones every operation and runs it through sublevel, encoding and hook
 * handling, ~4 µs per operation — a third of an ingest's CPU. String keys
 * and values, Buffers and Uint8Arrays are written as they are.
 */
export function rawBatch(db: Level<string, string>, ops: RawOp[], options: { sync: boolean }): Promise<void> {
  return (db as unknown as RawBatch)._batch(ops, options);
}

/** On Node.js `level` is classic-level, which can compact a key range (absent from level's own types). */
interface Compactable {
  compactRange(start: string, end: string): Promise<void>;
}

function makeSublevel<V>(root: Root, name: KeyPrefix, valueEncoding: "utf8" | "view") {
  return root.sublevel<string, V>(name, { keyEncoding: "utf8", valueEncoding });
}

/** A sublevel with string keys and values of type V. */
export type Sublevel<V> = ReturnType<typeof makeSublevel<V>>;

/** An operation of a write on one sublevel, its key as the sublevel sees it. */
export type SublevelOp = { type: "put"; key: string; value: string | Uint8Array } | { type: "del"; key: string };

/**
 * Sees every write to one sublevel, with the write's operations on it in the
 * write's order: `begin` before the batch goes to LevelDB, `end` after it
 * committed or failed, before the write's promise settles.
 */
export interface WriteObserver {
  begin(ops: readonly SublevelOp[]): void;
  end(ops: readonly SublevelOp[], committed: boolean): void;
}

/** One operation of an atomic multi-sublevel write. */
export type WriteOp =
  | { type: "put"; sublevel: Sublevel<string>; key: string; value: string }
  | { type: "put"; sublevel: Sublevel<Uint8Array>; key: string; value: Uint8Array }
  | { type: "del"; sublevel: Sublevel<string> | Sublevel<Uint8Array>; key: string };

/**
 * The sublevels of one node database. Text sublevels hold JSON or short
 * strings; byte sublevels hold protobuf-encoded messages, which are smaller
 * than JSON and round-trip Dates and bytes exactly.
 */
export interface Sublevels {
  meta: Sublevel<string>;
  acct: Sublevel<string>;
  rep: Sublevel<string>;
  subj: Sublevel<string>;
  consent: Sublevel<Uint8Array>;
  revoked: Sublevel<string>;
  inq: Sublevel<Uint8Array>;
  dispute: Sublevel<Uint8Array>;
  audit: Sublevel<Uint8Array>;
  nonce: Sublevel<string>;
  tlog: Sublevel<Uint8Array>;
  witness: Sublevel<string>;
  tquota: Sublevel<string>;
  tcache: Sublevel<Uint8Array>;
  tshare: Sublevel<Uint8Array>;
  talias: Sublevel<string>;
  qquota: Sublevel<string>;
  replast: Sublevel<string>;
}

const SYNC = { sync: true } as const;
const NO_SYNC = { sync: false } as const;

/**
 * The node's LevelDB: one database, one sublevel per KeyPrefix, a schema
 * version checked at open. Repositories write through `write()`, which
 * commits all their keys in one synced batch, so an acknowledged write
 * survives a crash and is never half applied.
 */
export class NodeDatabase {
  readonly path: string;
  readonly levels: Sublevels;
  private readonly root: Root;
  private readonly logger: Logger;
  private closing?: Promise<void>;
  /** forget() ran since the database was opened: close() rewrites its metadata files. */
  private forgotten = false;
  /** An earlier schema version found at open, until markSchemaCurrent(). */
  private openedAtSchema?: number;
  readonly #observers: { sublevel: Sublevel<string> | Sublevel<Uint8Array>; observer: WriteObserver }[] = [];

  private constructor(path: string, root: Root, logger: Logger) {
    this.path = path;
    this.root = root;
    this.logger = logger;
    this.levels = {
      meta: makeSublevel<string>(root, KeyPrefix.Meta, "utf8"),
      acct: makeSublevel<string>(root, KeyPrefix.Account, "utf8"),
      rep: makeSublevel<string>(root, KeyPrefix.Repayment, "utf8"),
      subj: makeSublevel<string>(root, KeyPrefix.Subject, "utf8"),
      consent: makeSublevel<Uint8Array>(root, KeyPrefix.Consent, "view"),
      revoked: makeSublevel<string>(root, KeyPrefix.Revoked, "utf8"),
      inq: makeSublevel<Uint8Array>(root, KeyPrefix.Inquiry, "view"),
      dispute: makeSublevel<Uint8Array>(root, KeyPrefix.Dispute, "view"),
      audit: makeSublevel<Uint8Array>(root, KeyPrefix.Audit, "view"),
      nonce: makeSublevel<string>(root, KeyPrefix.Nonce, "utf8"),
      tlog: makeSublevel<Uint8Array>(root, KeyPrefix.Log, "view"),
      witness: makeSublevel<string>(root, KeyPrefix.Witness, "utf8"),
      tquota: makeSublevel<string>(root, KeyPrefix.TokenQuota, "utf8"),
      tcache: makeSublevel<Uint8Array>(root, KeyPrefix.TokenCache, "view"),
      tshare: makeSublevel<Uint8Array>(root, KeyPrefix.TokenShare, "view"),
      talias: makeSublevel<string>(root, KeyPrefix.TokenAlias, "utf8"),
      qquota: makeSublevel<string>(root, KeyPrefix.QueryQuota, "utf8"),
      replast: makeSublevel<string>(root, KeyPrefix.RepaymentLast, "utf8"),
    };
  }

  /**
   * Opens (creating if missing) the database at `path`. A new database gets
   * the current schema version; an existing one must have it or an earlier
   * one that openStores() upgrades (keys.ts UPGRADABLE_SCHEMA_VERSIONS).
   */
  static async open(path: string, opts: { logger?: Logger } = {}): Promise<NodeDatabase> {
    const logger = opts.logger ?? silentLogger();
    const root = new Level<string, string>(path, { keyEncoding: "utf8", valueEncoding: "utf8" });
    try {
      await root.open({ createIfMissing: true });
    } catch (err) {
      throw openError(path, err);
    }
    const db = new NodeDatabase(path, root, logger);
    try {
      await db.checkSchema();
      if ((await db.levels.meta.get(MetaKey.forgetPending)) !== undefined) {
        // The process stopped before a destruction of data was complete.
        logger.warn({ path }, "finishing the destruction of purged data");
        await db.forget();
        await db.rewriteMetadata();
        await db.reopen();
      }
    } catch (err) {
      await root.close().catch(() => undefined);
      throw err;
    }
    logger.info({ path, schemaVersion: SCHEMA_VERSION }, "database open");
    return db;
  }

  private async checkSchema(): Promise<void> {
    const stored = await this.levels.meta.get(MetaKey.schema);
    if (stored === undefined) {
      // A database with data but no version was not written by this code (or
      // lost its meta keys); guessing its layout would risk misreading records.
      const any = await this.root.keys({ limit: 1 }).all();
      if (any.length > 0) {
        throw new CreditMeshError(
          "STORE_SCHEMA_MISMATCH",
          `database at ${this.path} holds data but no schema version (expected ${SCHEMA_VERSION})`,
        );
      }
      await this.write([
        { type: "put", sublevel: this.levels.meta, key: MetaKey.schema, value: String(SCHEMA_VERSION) },
      ]);
      return;
    }
    if (stored === String(SCHEMA_VERSION)) return;
    const earlier = UPGRADABLE_SCHEMA_VERSIONS.find((v) => stored === String(v));
    if (earlier === undefined) {
      const upgradable = UPGRADABLE_SCHEMA_VERSIONS.length > 0 ? ` (or ${UPGRADABLE_SCHEMA_VERSIONS.join(", ")}, which it upgrades)` : "";
      throw new CreditMeshError(
        "STORE_SCHEMA_MISMATCH",
        `database at ${this.path} has schema version ${JSON.stringify(stored)}, this node needs ${SCHEMA_VERSION}${upgradable}`,
      );
    }
    this.openedAtSchema = earlier;
  }

  /** The earlier schema version the database was opened at, until upgraded; undefined when current. */
  get earlierSchema(): number | undefined {
    return this.openedAtSchema;
  }

  /**
   * Raises the stored schema version to this code's, once the upgrade's
   * rebuilt indexes are written (openStores): from then on a node of the
   * earlier version refuses the database instead of writing around them.
   */
  async markSchemaCurrent(): Promise<void> {
    if (this.openedAtSchema === undefined) return;
    await this.write([{ type: "put", sublevel: this.levels.meta, key: MetaKey.schema, value: String(SCHEMA_VERSION) }]);
    this.logger.info({ path: this.path, from: this.openedAtSchema, to: SCHEMA_VERSION }, "database schema upgraded");
    this.openedAtSchema = undefined;
  }

  /**
   * The entries of `sublevel` inside `range` (keys as the sublevel sees them),
   * read through the root with prefixed bounds. Used on a report's hot path:
   * it costs one iterator instead of a sublevel iterator wrapping the root's.
   */
  async entries<V extends string | Uint8Array>(sublevel: Sublevel<V>, range: { gt: string; lt: string }): Promise<[string, V][]> {
    const prefix = sublevel.prefix;
    const valueEncoding = sublevel.valueEncoding().commonName as "utf8" | "view";
    const raw = (await this.root.iterator<string, V>({ gt: prefix + range.gt, lt: prefix + range.lt, valueEncoding }).all()) as [string, V][];
    for (const entry of raw) entry[0] = entry[0].slice(prefix.length);
    return raw;
  }

  /**
   * One value of a text sublevel, read in place on this thread through the
   * root (a sublevel's getSync costs about twice as much); undefined when the
   * key is absent. Blocks while LevelDB reads a block that is not cached:
   * for keys a hot path reads together, which share blocks.
   */
  getSync(sublevel: Sublevel<string>, key: string): string | undefined {
    return this.root.getSync(sublevel.prefix + key);
  }

  /**
   * Commits every operation atomically and durably, or none of them.
   *
   * `{ sync: false }` is for state whose loss in an OS crash or power cut is
   * harmless (it still survives a crash of the process, and the next synced
   * write normally flushes it too, as writes share one log): the write
   * returns once it is in the log, without waiting for the disk (~0.05 ms
   * instead of ~0.5 ms here). Never for anything the API acknowledges.
   */
  async write(ops: readonly WriteOp[], opts: { sync?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return;
    if (this.#observers.length === 0) return this.#commit(ops, opts);
    const seen = this.#observers.map(({ sublevel, observer }) => {
      const mine: SublevelOp[] = [];
      for (const op of ops) {
        if (op.sublevel === sublevel) mine.push(op.type === "del" ? { type: "del", key: op.key } : { type: "put", key: op.key, value: op.value });
      }
      return { observer, mine };
    }).filter((s) => s.mine.length > 0);
    for (const { observer, mine } of seen) observer.begin(mine);
    let committed = false;
    try {
      await this.#commit(ops, opts);
      committed = true;
    } finally {
      for (const { observer, mine } of seen) observer.end(mine, committed);
    }
  }

  /**
   * Tells `observer` of every write to `sublevel` from now on (a cache of
   * what the sublevel holds keeps itself current this way: every write to
   * the database goes through write()). Returns what stops it.
   */
  observe(sublevel: Sublevel<string> | Sublevel<Uint8Array>, observer: WriteObserver): () => void {
    const entry = { sublevel, observer };
    this.#observers.push(entry);
    return () => {
      const at = this.#observers.indexOf(entry);
      if (at >= 0) this.#observers.splice(at, 1);
    };
  }

  async #commit(ops: readonly WriteOp[], opts: { sync?: boolean }): Promise<void> {
    // Keys are prefixed here, and the batch goes to rawBatch(): this database
    // uses none of abstract-level's per-operation sublevel, encoding or hooks.
    const rootOps: RawOp[] = new Array(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      const key = op.sublevel.prefix + op.key;
      rootOps[i] = op.type === "del" ? { type: "del", key } : { type: "put", key, value: op.value };
    }
    const options = opts.sync === false ? NO_SYNC : SYNC;
    // While the database reopens (see forget()), abstract-level defers the write or refuses it.
    if (this.root.status !== "open") {
      const encoded = rootOps.map((op) => (op.type === "put" && typeof op.value !== "string" ? { ...op, valueEncoding: "view" } : op));
      return this.root.batch(encoded as unknown as BatchOperation<Root, string, string>[], options);
    }
    await rawBatch(this.root, rootOps, options);
  }

  /**
   * Every key of every sublevel, as raw bytes, in key order. The iterator
   * reads the snapshot LevelDB takes when it is created: writes made after
   * that are not seen, so the whole database is read as of one instant
   * (backups rely on this).
   */
  rawIterator() {
    return this.root.iterator<Uint8Array, Uint8Array>({ keyEncoding: "view", valueEncoding: "view" });
  }

  get isOpen(): boolean {
    return this.root.status === "open";
  }

  /** The write a batch that destroys data includes, so that open() completes forget() if the process dies first. */
  forgetMarker(): WriteOp {
    return { type: "put", sublevel: this.levels.meta, key: MetaKey.forgetPending, value: "1" };
  }

  /**
   * Makes data that earlier batches deleted unrecoverable from the files, not
   * only unreadable. A LevelDB delete writes a tombstone: the old value stays
   * in table files until a compaction drops both, and keys (which carry
   * subject tokens and account refs) also linger as file boundaries and
   * per-level compaction pointers in the MANIFEST, and in the info log.
   *
   * This compacts the whole key space, so every tombstone reaches the bottom
   * level and is dropped with the values it shadows. First, sentinel keys at
   * both ends of the key space are flushed three times, which lands a table
   * holding them in level 0 (each flush goes one level above the previous
   * one, and never below level 2): the compaction then takes a sentinel as
   * the largest input at every level, so every compaction pointer names it
   * instead of a destroyed key. The MANIFEST and the info log keep mentioning
   * older keys until the database is next opened, which writes a fresh
   * MANIFEST and starts a new log; close() does that (and deletes the old
   * log) when this ran, and open() redoes it all if the process died first.
   *
   * Reads and writes go on meanwhile (compaction runs in LevelDB's own
   * thread), but the database files are rewritten once, so this is for rare
   * operator actions. A snapshot held open during the compaction (a long
   * iterator) keeps what it can see until that range is compacted again.
   */
  async forget(): Promise<void> {
    this.forgotten = true;
    for (let i = 0; i < 3; i++) {
      await this.root.batch(
        [
          { type: "put", key: SCRUB_LOW, value: "" },
          { type: "put", key: SCRUB_HIGH, value: "" },
        ],
        SYNC,
      );
      await this.compactRange(FLUSH_ONLY[0], FLUSH_ONLY[1]);
    }
    await this.compactRange(SCRUB_LOW, SCRUB_HIGH);
    await this.root.batch(
      [
        { type: "del", key: SCRUB_LOW },
        { type: "del", key: SCRUB_HIGH },
      ],
      SYNC,
    );
  }

  private compactRange(start: string, end: string): Promise<void> {
    return (this.root as unknown as Compactable).compactRange(start, end);
  }

  /**
   * Closes the database and opens it once more, so that LevelDB writes a
   * fresh MANIFEST (only the live files and compaction pointers) and moves
   * the info log aside; clears the forget marker, closes it again and
   * deletes the old info log. Leaves the database closed.
   */
  private async rewriteMetadata(): Promise<void> {
    await this.root.close();
    await this.reopen();
    await this.root.batch([{ type: "del", key: MetaKey.forgetPending, sublevel: this.levels.meta }], SYNC);
    await this.root.close();
    try {
      unlinkSync(path.join(this.path, "LOG.old"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.forgotten = false;
  }

  /** Opens the root again, and the sublevels, which close with it. */
  private async reopen(): Promise<void> {
    await this.root.open({ createIfMissing: false });
    await Promise.all(Object.values(this.levels).map((level: Sublevel<string> | Sublevel<Uint8Array>) => level.open()));
  }

  /** Closes the database; safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= (this.forgotten ? this.rewriteMetadata() : this.root.close()).then(
      () => this.logger.info({ path: this.path }, "database closed"),
      (err: unknown) => {
        throw new CreditMeshError("INTERNAL", `closing database at ${this.path} failed`, { cause: err });
      },
    );
    return this.closing;
  }
}

function openError(path: string, err: unknown): CreditMeshError {
  const code = (err as { cause?: { code?: string } } | undefined)?.cause?.code;
  if (code === "LEVEL_LOCKED") {
    return new CreditMeshError("UNAVAILABLE", `database at ${path} is in use by another process`, { cause: err });
  }
  if (code === "LEVEL_CORRUPTION") {
    return new CreditMeshError("STORE_CORRUPT", `database at ${path} is corrupt`, { cause: err });
  }
  return new CreditMeshError("UNAVAILABLE", `cannot open database at ${path}`, { cause: err });
}
