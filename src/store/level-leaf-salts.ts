import type { NodeDatabase, WriteOp } from "./database.js";
import { AFTER_SEP, SEP } from "./keys.js";

/**
 * What the holder keeps to open its record-version leaves, in the `tlog`
 * sublevel beside the log (keys that cannot meet the log's own):
 *
 * - `v!<record id>`            → latest version number logged (decimal)
 * - `s!<record id>!<version>`  → that version's 32-byte salt
 * - `i!<account ref>`          → leaf index of the account's latest version (a tombstone's target)
 *
 * A record id is `<account ref>!a` for an account, `<account ref>!r<installment>`
 * for a repayment, so one range holds everything of an account and erasure
 * destroys its salts with one scan.
 */
const versionKey = (id: string): string => `v${SEP}${id}`;
const saltKey = (id: string, version: number): string => `s${SEP}${id}${SEP}${version.toString(16).padStart(8, "0")}`;
const indexKey = (accountRef: string): string => `i${SEP}${accountRef}`;

export const accountRecordId = (accountRef: string): string => `${accountRef}${SEP}a`;
export const repaymentRecordId = (accountRef: string, installment: number): string => `${accountRef}${SEP}r${installment}`;

export class LevelLeafSalts {
  constructor(private readonly db: NodeDatabase) {}

  /** The latest version logged of each record (0 when never logged). */
  async versions(ids: readonly string[]): Promise<number[]> {
    if (ids.length === 0) return [];
    const raw = await this.db.levels.tlog.getMany(ids.map(versionKey));
    return raw.map((v) => (v === undefined ? 0 : Number(Buffer.from(v).toString("latin1"))));
  }

  /** Salts and version counters in one batch, before their leaves are appended (a salt without a leaf opens nothing). */
  save(items: readonly { id: string; version: number; salt: Uint8Array }[], opts: { sync?: boolean } = {}): Promise<void> {
    const level = this.db.levels.tlog;
    const ops: WriteOp[] = [];
    for (const it of items) {
      ops.push({ type: "put", sublevel: level, key: versionKey(it.id), value: Buffer.from(String(it.version), "latin1") });
      ops.push({ type: "put", sublevel: level, key: saltKey(it.id, it.version), value: it.salt });
    }
    return this.db.write(ops, opts);
  }

  salt(id: string, version: number): Promise<Uint8Array | undefined> {
    return this.db.levels.tlog.get(saltKey(id, version));
  }

  /** The leaf index of each account's latest version, where it was logged (one read for all). */
  async leafIndexes(accountRefs: readonly string[]): Promise<(number | undefined)[]> {
    if (accountRefs.length === 0) return [];
    const raw = await this.db.levels.tlog.getMany(accountRefs.map(indexKey));
    return raw.map((v) => (v === undefined ? undefined : Number(Buffer.from(v).toString("latin1"))));
  }

  /** Salts of several record versions, in the order asked (one read for all). */
  salts(items: readonly { id: string; version: number }[]): Promise<(Uint8Array | undefined)[]> {
    if (items.length === 0) return Promise.resolve([]);
    return this.db.levels.tlog.getMany(items.map((it) => saltKey(it.id, it.version)));
  }

  setLeafIndexes(items: readonly { accountRef: string; index: number }[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    const level = this.db.levels.tlog;
    // Unsynced: lost only with an OS crash, and then the tombstone names no index (the salts still go).
    return this.db.write(
      items.map((it) => ({ type: "put", sublevel: level, key: indexKey(it.accountRef), value: Buffer.from(String(it.index), "latin1") })),
      { sync: false },
    );
  }

  /** Destroys an account's salts and counters; returns the leaf index its tombstone names, if it was logged. */
  async forget(accountRef: string): Promise<number | undefined> {
    const level = this.db.levels.tlog;
    const raw = await level.get(indexKey(accountRef));
    const ops: WriteOp[] = [{ type: "del", sublevel: level, key: indexKey(accountRef) }];
    for (const p of ["s", "v"]) {
      const prefix = `${p}${SEP}${accountRef}${SEP}`;
      for (const key of await level.keys({ gt: prefix, lt: `${p}${SEP}${accountRef}${AFTER_SEP}` }).all()) {
        if (key.startsWith(prefix)) ops.push({ type: "del", sublevel: level, key });
      }
    }
    await this.db.write(ops);
    return raw === undefined ? undefined : Number(Buffer.from(raw).toString("latin1"));
  }
}
