import type { LeafSaltKey } from "../tlog/leaf-salt.js";
import { CreditMeshError } from "../errors.js";
import type { NodeDatabase, WriteOp } from "./database.js";
import { AFTER_SEP, SEP } from "./keys.js";

/**
 * What the holder keeps to open its record-version leaves, in the `tlog`
 * sublevel beside the log (keys that cannot meet the log's own):
 *
 * - `i!<account ref>` → `<leaf index> <version> <canonical hash, hex>` of the
 *   account's latest version: what an answer's proof names and a tombstone's
 *   target. Written in the batch that writes the account and its leaf.
 *
 * Salts are not stored: each is derived from the node's salt key, the record
 * id and the version (LeafSaltKey), and versions are kept in the records'
 * own values (LevelRecordStore). Logs written before that also hold
 * `v!<record id>` (version) and `s!<record id>!<version>` (salt); forget()
 * destroys those too.
 *
 * A record id is `<account ref>!a` for an account, `<account ref>!r<installment>`
 * for a repayment.
 */
const indexKey = (accountRef: string): string => `i${SEP}${accountRef}`;

export const accountRecordId = (accountRef: string): string => `${accountRef}${SEP}a`;
export const repaymentRecordId = (accountRef: string, installment: number): string => `${accountRef}${SEP}r${installment}`;

/** How a verifier rebuilds an account's latest record-version leaf: recordVersionLeaf({ recordKind: "account", … }). */
export interface RecordLeaf {
  leafIndex: number;
  version: number;
  salt: Uint8Array;
  /** SHA-256 of the canonical record the leaf commits to. */
  canonicalHash: Uint8Array;
}

export class LevelLeafSalts {
  constructor(
    private readonly db: NodeDatabase,
    private readonly key: LeafSaltKey,
  ) {}

  /** The salt of a record version (derived, so it exists for any version). */
  async salt(id: string, version: number): Promise<Uint8Array | undefined> {
    return this.key.salt(id, version);
  }

  /** The writes recording each account's latest leaf; commit them with the leaves. */
  accountLeafOps(items: readonly { accountRef: string; index: number; version: number; canonicalHash: Uint8Array }[]): WriteOp[] {
    const level = this.db.levels.tlog;
    return items.map((it) => ({
      type: "put",
      sublevel: level,
      key: indexKey(it.accountRef),
      value: Buffer.from(`${it.index} ${it.version} ${Buffer.from(it.canonicalHash).toString("hex")}`, "latin1"),
    }));
  }

  /** The account's latest record-version leaf, if it was logged and not erased since. */
  async accountLeaf(accountRef: string): Promise<RecordLeaf | undefined> {
    return this.#parse(accountRef, await this.db.levels.tlog.get(indexKey(accountRef)));
  }

  /**
   * Several accounts' latest leaves in the order asked (an answer's proofs
   * open each tradeline's). Read in place (getSync): a few small keys written
   * with the accounts, mostly in LevelDB's memory, cost a few µs in total,
   * where one getMany round trip through the thread pool cost 35–60 µs of
   * this thread's CPU on every answer.
   */
  async accountLeaves(accountRefs: readonly string[]): Promise<(RecordLeaf | undefined)[]> {
    const level = this.db.levels.tlog;
    return accountRefs.map((ref) => this.#parse(ref, level.getSync(indexKey(ref))));
  }

  #parse(accountRef: string, raw: Uint8Array | undefined): RecordLeaf | undefined {
    if (raw === undefined) return undefined;
    const parts = Buffer.from(raw).toString("latin1").split(" ");
    // Entries written before versions moved into the records hold the index only: they cannot be opened this way.
    if (parts.length !== 3) return undefined;
    const [index, version, hash] = parts as [string, string, string];
    if (!/^(0|[1-9][0-9]*)$/.test(index) || !/^[1-9][0-9]*$/.test(version) || !/^[0-9a-f]{64}$/.test(hash)) {
      throw new CreditMeshError("STORE_CORRUPT", `leaf entry of account ${accountRef} is malformed`);
    }
    return {
      leafIndex: Number(index),
      version: Number(version),
      salt: this.key.salt(accountRecordId(accountRef), Number(version)),
      canonicalHash: Buffer.from(hash, "hex"),
    };
  }

  /** Forgets an account's leaf entry (and any stored salts of older logs); returns the leaf index its tombstone names, if it was logged. */
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
    if (raw === undefined) return undefined;
    const index = Number(Buffer.from(raw).toString("latin1").split(" ")[0]);
    return Number.isSafeInteger(index) && index >= 0 ? index : undefined;
  }
}
