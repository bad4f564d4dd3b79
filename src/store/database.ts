import { Level, type BatchOperation } from "level";
import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { KeyPrefix, MetaKey, SCHEMA_VERSION } from "./keys.js";

type Root = Level<string, string>;

function makeSublevel<V>(root: Root, name: KeyPrefix, valueEncoding: "utf8" | "view") {
  return root.sublevel<string, V>(name, { keyEncoding: "utf8", valueEncoding });
}

/** A sublevel with string keys and values of type V. */
export type Sublevel<V> = ReturnType<typeof makeSublevel<V>>;

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
}

const SYNC = { sync: true } as const;

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
    };
  }

  /**
   * Opens (creating if missing) the database at `path`. A new database gets
   * the current schema version; an existing one must already have it.
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
    if (stored !== String(SCHEMA_VERSION)) {
      throw new CreditMeshError(
        "STORE_SCHEMA_MISMATCH",
        `database at ${this.path} has schema version ${JSON.stringify(stored)}, this node needs ${SCHEMA_VERSION}`,
      );
    }
  }

  /** Commits every operation atomically and durably, or none of them. */
  async write(ops: readonly WriteOp[]): Promise<void> {
    if (ops.length === 0) return;
    // The typed union cannot be expressed in level's batch types, which are
    // keyed on one value type for the whole batch.
    await this.root.batch(ops as unknown as BatchOperation<Root, string, string>[], SYNC);
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

  /** Closes the database; safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= this.root.close().then(
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
