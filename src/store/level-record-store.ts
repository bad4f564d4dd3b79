import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { isObject, parseStored } from "./codec.js";
import type { NodeDatabase, Sublevels, WriteOp } from "./database.js";
import { AFTER_SEP, installmentKey, keyPart, lastPart, MAX_INSTALLMENT, MetaKey, SEP, subjectAccounts, under } from "./keys.js";
import { SerialQueue } from "./serial.js";
import type {
  AccountTerms,
  DestroyedAccounts,
  RecordStore,
  RecordCommitOptions,
  RetentionRecords,
  StoreCounts,
  StoredAccount,
  StoredRepayment,
  WriteBatch,
  WrittenRecords,
} from "./types.js";
import { opsOf, toBatch } from "./write-batch.js";

/** What the store needs of the data cipher to keep every written account under the current key. */
export interface PiiResealer {
  needsReseal(sealed: Uint8Array): boolean;
  reseal(sealed: Uint8Array, aad: Uint8Array): Uint8Array;
}

/** What LevelRecordStore.destroy() removed. */
export type { DestroyedAccounts } from "./types.js";

/**
 * Furnished accounts and repayments in LevelDB.
 *
 * Keys (inside their sublevels):
 * - acct:  `<accountRef>`                       → account JSON, PII sealed and base64
 * - rep:   `<accountRef>!<installment, 5 digits>` → repayment JSON
 * - subj:  `<subjectToken>!<accountRef>`          → the account's terms: its JSON without the
 *                                                  sealed identity (the subject index)
 *          `<subjectToken>`                       → number of accounts in the index for it
 *          (the subject's inquiries share this index: see keys.ts)
 * - replast: `<accountRef>`                     → the highest installment number stored for the
 *                                                  account ("scan" = read its repayments by range)
 * - meta:  `count:accounts`, `count:subjects`     → counters; `repayments:last-index` once every
 *                                                  account with repayments is in `replast`
 *
 * A holder reads an account's repayments by key from `replast`, in place
 * (getSync): installments 1..N, missing ones skipped, which returns what a
 * range scan of `<accountRef>!` returns, in the same order, without a round
 * trip through the thread pool for every account of every query. Accounts
 * whose range a key read could not cover (a key not in the installment
 * format, a highest installment above IN_PLACE_INSTALLMENTS) and databases
 * not yet indexed (buildLastInstallments(), at open) are read by range.
 *
 * Written with versions (RecordCommitOptions.commitVersioned: the node's
 * transparency log logs each version), an account or repayment value also
 * carries `v`, its version, from the second version on (absent = 1), so a
 * first version is stored exactly as without versions and counting them
 * costs a read of the batch's repayment keys, not a write.
 *
 * The per-subject count lets a batch learn with one getMany whether a token
 * is new or loses its last account, instead of one range scan per token,
 * which costs about 75 µs each and would dominate an ingest batch. The terms
 * in the index entries let a holder read a subject's accounts with one range
 * scan instead of a scan and a read by ref; they are what tradelines are
 * derived from, never the identity. Entries written before they carried
 * terms hold "" and are read through `acct`.
 *
 * Writes are serialised: the counters are read, adjusted and written back,
 * and two interleaved batches would otherwise lose one's adjustment.
 */
export class LevelRecordStore implements RecordStore, RetentionRecords {
  private readonly levels: Sublevels;
  private readonly queue = new SerialQueue();
  private readonly logger: Logger;
  private readonly pii?: PiiResealer;
  /** `replast` covers every account: an account without an entry has no repayments. False again only while an upgrade rebuilds it. */
  private lastIndexed = false;

  /**
   * With `pii`, an account whose identity was sealed under a key other than
   * the current one is sealed again as it is written, so that once a key
   * rotation has passed over every stored account, no write (even one sealed
   * before the rotation began and queued since) brings the old key back.
   */
  constructor(
    private readonly db: NodeDatabase,
    opts: { logger?: Logger; pii?: PiiResealer } = {},
  ) {
    this.levels = db.levels;
    this.logger = (opts.logger ?? silentLogger()).child({ module: "record-store" });
    this.pii = opts.pii;
  }

  async hasAccounts(refs: readonly string[]): Promise<boolean[]> {
    if (refs.length === 0) return [];
    return this.levels.acct.hasMany(refs.map((r) => keyPart("account_ref", r)));
  }

  async getAccounts(refs: readonly string[]): Promise<(StoredAccount | undefined)[]> {
    if (refs.length === 0) return [];
    const values = await this.levels.acct.getMany(refs.map((r) => keyPart("account_ref", r)));
    return values.map((v, i) => (v === undefined ? undefined : decodeAccount(refs[i], v)));
  }

  /**
   * `previous` must be parallel to `accounts`. The stored state is read again
   * under the write lock and used instead, so a caller whose read raced
   * another writer cannot skew the counters or leave a stale index entry.
   */
  async writeRecords(
    accounts: readonly StoredAccount[],
    previous: readonly (StoredAccount | undefined)[],
    repayments: readonly StoredRepayment[],
    opts: RecordCommitOptions = {},
  ): Promise<void> {
    if (previous.length !== accounts.length) {
      throw new CreditMeshError("INTERNAL", `previous has ${previous.length} entries for ${accounts.length} accounts`);
    }
    // Everything that can reject the input happens before anything is queued.
    const accountOps = latestByRef(accounts);
    const commit = opts.commitVersioned;
    if (commit) {
      const latest = latestRepayments(repayments);
      return this.queue.run(() => this.writeVersioned(accountOps, latest, commit));
    }
    const repaymentOps = this.repaymentOps(repayments);
    const highest = highestInstallments(repayments);
    // Repayment-only batches queue too, so batches apply in call order and an
    // older value never overwrites a newer one.
    return this.queue.run(async () => {
      const [{ ops }, lastOps] = await Promise.all([
        accountOps.size === 0 ? { ops: [] as WriteOp[] } : this.accountOps(accountOps, false),
        this.lastInstallmentOps(highest),
      ]);
      for (const op of repaymentOps) ops.push(op);
      for (const op of lastOps) ops.push(op);
      await this.db.write(ops);
    });
  }

  /**
   * The `replast` puts that keep each account's highest installment at or
   * above every installment of `highest` (ref → highest of the batch); read
   * under the write lock, so two batches cannot both lower what the other raised.
   */
  private async lastInstallmentOps(highest: Map<string, number>): Promise<WriteOp[]> {
    if (highest.size === 0) return [];
    const refs = [...highest.keys()];
    const stored = await this.levels.replast.getMany(refs);
    const ops: WriteOp[] = [];
    for (let i = 0; i < refs.length; i++) {
      const before = stored[i];
      const known = before === undefined ? 0 : parseLastInstallment(before);
      // An account read by range stays so: its keys are not all installments.
      if (known === undefined) continue;
      const n = highest.get(refs[i])!;
      if (n > known) ops.push({ type: "put", sublevel: this.levels.replast, key: refs[i], value: String(n) });
    }
    return ops;
  }

  /** Under the write lock: reads the stored versions, writes the next ones, and hands the batch to `commit`. */
  private async writeVersioned(
    latestAccounts: Map<string, StoredAccount>,
    latestReps: Map<string, StoredRepayment>,
    commit: (batch: WriteBatch, written: WrittenRecords) => Promise<void>,
  ): Promise<void> {
    const repKeys = [...latestReps.keys()];
    const [accountPart, storedReps, lastOps] = await Promise.all([
      latestAccounts.size === 0 ? { ops: [] as WriteOp[], versions: new Map<string, number>() } : this.accountOps(latestAccounts, true),
      repKeys.length === 0 ? [] : this.levels.rep.getMany(repKeys),
      this.lastInstallmentOps(highestInstallments(latestReps.values())),
    ]);
    const ops = accountPart.ops;
    const written: WrittenRecords = { accounts: [], repayments: [] };
    for (const [ref, account] of latestAccounts) written.accounts.push({ account, version: accountPart.versions.get(ref)! });
    const rep = this.levels.rep;
    for (let i = 0; i < repKeys.length; i++) {
      const key = repKeys[i];
      const r = latestReps.get(key)!;
      const before = storedReps[i];
      const version = before === undefined ? 1 : storedVersion(parseStored("repayment", key, before, isRepaymentValue)) + 1;
      ops.push({ type: "put", sublevel: rep, key, value: encodeRepayment(r, version) });
      written.repayments.push({ repayment: r, version });
    }
    for (const op of lastOps) ops.push(op);
    await commit(toBatch(ops), written);
  }

  private repaymentOps(repayments: readonly StoredRepayment[]): WriteOp[] {
    const rep = this.levels.rep;
    const ops: WriteOp[] = new Array(repayments.length);
    for (let i = 0; i < repayments.length; i++) {
      const r = repayments[i];
      ops[i] = {
        type: "put",
        sublevel: rep,
        key: repaymentKey(r),
        value: encodeRepayment(r),
      };
    }
    return ops;
  }

  /**
   * Account puts plus the index and counter changes they imply; with
   * `countVersions`, each account's new version (stored + 1), else the
   * stored version is kept.
   */
  private async accountOps(latest: Map<string, StoredAccount>, countVersions: boolean): Promise<{ ops: WriteOp[]; versions: Map<string, number> }> {
    const { acct, subj, meta } = this.levels;
    const refs = [...latest.keys()];
    const [stored, counters] = await Promise.all([
      acct.getMany(refs),
      meta.getMany([MetaKey.accounts, MetaKey.subjects]),
    ]);

    const ops: WriteOp[] = [];
    const versions = new Map<string, number>();
    const delta = new Map<string, number>();
    const bump = (token: string, by: number) => delta.set(token, (delta.get(token) ?? 0) + by);
    let newAccounts = 0;

    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i];
      const account = latest.get(ref)!;
      const before = stored[i] === undefined ? undefined : parseStored("account", ref, stored[i]!, isAccountValue);
      const oldToken = before?.subjectToken;
      const version = before === undefined ? 1 : storedVersion(before) + (countVersions ? 1 : 0);
      versions.set(ref, version);
      ops.push({ type: "put", sublevel: acct, key: ref, value: encodeAccount(this.underCurrentKey(account), version) });
      ops.push({ type: "put", sublevel: subj, key: account.subjectToken + SEP + ref, value: encodeTerms(account) });
      if (oldToken === account.subjectToken) continue;
      if (oldToken === undefined) {
        newAccounts++;
      } else {
        ops.push({ type: "del", sublevel: subj, key: oldToken + SEP + ref });
        bump(oldToken, -1);
      }
      bump(account.subjectToken, +1);
    }

    const tokens = [...delta.keys()].filter((t) => delta.get(t) !== 0);
    const perToken = tokens.length === 0 ? [] : await subj.getMany(tokens);
    let subjects = toCount(counters[1]);
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      const had = toCount(perToken[i]);
      let has = had + delta.get(token)!;
      if (has < 0) {
        // Only reachable if the index was damaged outside this class; keep
        // going with a count that matches what this batch leaves behind.
        this.logger.error({ subjectToken: token, had, delta: delta.get(token) }, "subject index count below zero");
        has = 0;
      }
      if (had === 0 && has > 0) subjects++;
      if (had > 0 && has === 0) subjects--;
      ops.push(
        has === 0
          ? { type: "del", sublevel: subj, key: token }
          : { type: "put", sublevel: subj, key: token, value: String(has) },
      );
    }
    if (newAccounts > 0) {
      ops.push({ type: "put", sublevel: meta, key: MetaKey.accounts, value: String(toCount(counters[0]) + newAccounts) });
    }
    if (subjects !== toCount(counters[1])) {
      ops.push({ type: "put", sublevel: meta, key: MetaKey.subjects, value: String(Math.max(0, subjects)) });
    }
    return { ops, versions };
  }

  async accountsForSubject(subjectToken: string): Promise<AccountTerms[]> {
    const token = keyPart("subject_token", subjectToken);
    return this.accountsFromIndex(token, await this.db.entries(this.levels.subj, subjectAccounts(token)));
  }

  /** Account entries of the subject index (keys `<token>!<ref>`) as terms, in ref order. */
  async accountsFromIndex(subjectToken: string, entries: readonly (readonly [string, string])[]): Promise<AccountTerms[]> {
    const out: AccountTerms[] = [];
    const older: string[] = [];
    for (const [key, value] of entries) {
      const ref = lastPart(key);
      if (value === "") older.push(ref);
      else out.push(decodeTerms(ref, subjectToken, value));
    }
    if (older.length === 0) return out;
    // Point reads of known keys, in place: a thread-pool round trip costs more than the reads, and a holder's answer waits for it.
    const acct = this.levels.acct;
    older.map((ref) => acct.getSync(ref)).forEach((v, i) => {
      if (v === undefined) {
        this.logger.warn({ subjectToken, accountRef: older[i] }, "subject index names a missing account");
        return;
      }
      const { pii: _sealed, ...terms } = decodeAccount(older[i], v);
      out.push(terms);
    });
    return out.sort((a, b) => (a.accountRef < b.accountRef ? -1 : a.accountRef > b.accountRef ? 1 : 0));
  }

  async repaymentsForAccount(accountRef: string): Promise<StoredRepayment[]> {
    const ref = keyPart("account_ref", accountRef);
    const inPlace = this.repaymentsInPlace(ref);
    if (inPlace) return inPlace;
    const entries = await this.db.entries(this.levels.rep, under(ref));
    return entries.map(([key, value]) => decodeRepayment(accountRef, key, value));
  }

  /**
   * The account's repayments read by key on this thread, or undefined when
   * they must be read by range. The keys of one account are adjacent, so
   * they share a block or two: at most that is read from disk here. Each key
   * is read as it is now, not from one snapshot (a snapshot costs more than
   * the reads): an answer read while a batch of the account's repayments is
   * written may show part of it, as it may show an account's new terms with
   * its earlier repayments.
   */
  private repaymentsInPlace(ref: string): StoredRepayment[] | undefined {
    const db = this.db;
    // While the database reopens (NodeDatabase.forget) only queued reads work.
    if (!db.isOpen || !this.isLastIndexed()) return undefined;
    const last = db.getSync(this.levels.replast, ref);
    if (last === undefined) return [];
    const n = parseLastInstallment(last);
    if (n === undefined || n > IN_PLACE_INSTALLMENTS) return undefined;
    const rep = this.levels.rep;
    const out: StoredRepayment[] = [];
    for (let i = 1; i <= n; i++) {
      const key = ref + SEP + installmentKey(i);
      const value = db.getSync(rep, key);
      if (value !== undefined) out.push(decodeRepayment(ref, key, value));
    }
    return out;
  }

  private isLastIndexed(): boolean {
    if (!this.lastIndexed && this.db.getSync(this.levels.meta, MetaKey.repaymentLastIndex) !== undefined) this.lastIndexed = true;
    return this.lastIndexed;
  }

  /**
   * Files every account's highest installment in `replast`, once, for a
   * database written before it existed (marked done in meta), under the
   * write lock so no batch lands meanwhile. An account with a key that is not
   * an installment is marked to be read by range. Returns how many accounts
   * were filed. `rebuild` drops the index and files every account again even
   * if marked done: a node of an earlier schema may have written or deleted
   * repayments around it.
   */
  async buildLastInstallments(logger?: Logger, opts: { rebuild?: boolean } = {}): Promise<number> {
    return this.queue.run(async () => {
      const { meta, rep, replast } = this.levels;
      if (!opts.rebuild && (await meta.get(MetaKey.repaymentLastIndex)) !== undefined) {
        this.lastIndexed = true;
        return 0;
      }
      if (opts.rebuild) {
        // Unmarked first: until filed again, every account is read by range.
        await this.db.write([{ type: "del", sublevel: meta, key: MetaKey.repaymentLastIndex }]);
        this.lastIndexed = false;
        await replast.clear();
      }
      let ops: WriteOp[] = [];
      let filed = 0;
      let ref: string | undefined;
      let highest: number | undefined = 0;
      const file = () => {
        if (ref === undefined) return;
        ops.push({ type: "put", sublevel: replast, key: ref, value: highest === undefined ? BY_RANGE : String(highest) });
        filed++;
      };
      // Keys in order: an account's keys are adjacent.
      for await (const key of rep.keys()) {
        const sep = key.lastIndexOf(SEP);
        const keyRef = key.slice(0, sep);
        if (keyRef !== ref) {
          file();
          if (ops.length >= LAST_INDEX_BATCH) {
            await this.db.write(ops);
            ops = [];
          }
          ref = keyRef;
          highest = 0;
        }
        const n = sep < 0 ? undefined : installmentOf(key.slice(sep + 1));
        highest = n === undefined || highest === undefined ? undefined : Math.max(highest, n);
      }
      file();
      ops.push({ type: "put", sublevel: meta, key: MetaKey.repaymentLastIndex, value: "1" });
      await this.db.write(ops);
      this.lastIndexed = true;
      if (filed > 0) logger?.info({ accounts: filed }, "highest installments filed for reads by key");
      return filed;
    });
  }

  async counts(): Promise<StoreCounts> {
    const [accounts, subjects] = await this.levels.meta.getMany([MetaKey.accounts, MetaKey.subjects]);
    return { accounts: toCount(accounts), subjects: toCount(subjects) };
  }

  /**
   * Destroys accounts with their repayments and index entries, in one batch,
   * so that nothing is left from which they could be rebuilt. Returns how many
   * of the refs existed.
   */
  async deleteAccounts(refs: readonly string[]): Promise<number> {
    return (await this.destroy(refs)).accounts.length;
  }

  /**
   * Destroys accounts with their repayments and subject-index entries, and
   * the writes `extraWrites` returns for them (other stores' records
   * of the same accounts), in ONE synced batch, under the write lock.
   *
   * With `subjectToken`, the subject's whole index goes too: its count key
   * and any entry, even one naming an account that no longer exists, and
   * every account the index names is destroyed with the refs given.
   */
  async destroy(
    refs: readonly string[],
    opts: {
      subjectToken?: string;
      extraWrites?: (destroyed: readonly StoredAccount[]) => Promise<WriteBatch>;
      /** Included in the batch (e.g. the database's forget marker). */
      alsoWrite?: readonly WriteOp[];
      /** Checked under the write lock: an account for which it returns false is kept. */
      onlyIf?: (account: StoredAccount, repayments: readonly StoredRepayment[]) => boolean;
    } = {},
  ): Promise<DestroyedAccounts> {
    for (const r of refs) keyPart("account_ref", r);
    const token = opts.subjectToken === undefined ? undefined : keyPart("subject_token", opts.subjectToken);
    return this.queue.run(async () => {
      const { acct, rep, subj, meta, replast } = this.levels;
      const ops: WriteOp[] = [];
      const wanted = new Set(refs);
      if (token !== undefined) {
        for (const key of await subj.keys(subjectAccounts(token)).all()) {
          ops.push({ type: "del", sublevel: subj, key });
          wanted.add(lastPart(key));
        }
      }
      const unique = [...wanted];
      const stored = unique.length === 0 ? [] : await acct.getMany(unique);
      const destroyed: StoredAccount[] = [];
      const removed = new Map<string, number>();
      let repayments = 0;
      for (let i = 0; i < unique.length; i++) {
        const value = stored[i];
        if (value === undefined) continue;
        const account = decodeAccount(unique[i], value);
        const repaymentEntries = await rep.iterator(under(account.accountRef)).all();
        if (opts.onlyIf && !opts.onlyIf(account, repaymentEntries.map(([key, v]) => decodeRepayment(account.accountRef, key, v)))) continue;
        destroyed.push(account);
        ops.push({ type: "del", sublevel: acct, key: account.accountRef });
        ops.push({ type: "del", sublevel: subj, key: account.subjectToken + SEP + account.accountRef });
        removed.set(account.subjectToken, (removed.get(account.subjectToken) ?? 0) + 1);
        for (const [key] of repaymentEntries) ops.push({ type: "del", sublevel: rep, key });
        ops.push({ type: "del", sublevel: replast, key: account.accountRef });
        repayments += repaymentEntries.length;
      }
      if (token !== undefined && !removed.has(token)) removed.set(token, 0);
      const tokens = [...removed.keys()];
      const [perToken, counters] = await Promise.all([
        tokens.length === 0 ? Promise.resolve([]) : subj.getMany(tokens),
        meta.getMany([MetaKey.accounts, MetaKey.subjects]),
      ]);
      let subjects = toCount(counters[1]);
      tokens.forEach((t, i) => {
        const had = toCount(perToken[i]);
        const has = t === token ? 0 : Math.max(0, had - removed.get(t)!);
        if (had > 0 && has === 0) subjects--;
        ops.push(
          has === 0
            ? { type: "del", sublevel: subj, key: t }
            : { type: "put", sublevel: subj, key: t, value: String(has) },
        );
      });
      if (destroyed.length > 0) {
        ops.push({ type: "put", sublevel: meta, key: MetaKey.accounts, value: String(Math.max(0, toCount(counters[0]) - destroyed.length)) });
      }
      if (subjects !== toCount(counters[1])) {
        ops.push({ type: "put", sublevel: meta, key: MetaKey.subjects, value: String(Math.max(0, subjects)) });
      }
      if (opts.extraWrites) for (const op of opsOf(await opts.extraWrites(destroyed))) ops.push(op);
      for (const op of opts.alsoWrite ?? []) ops.push(op);
      await this.db.write(ops);
      return { accounts: destroyed, repayments };
    });
  }

  /** Up to `limit` account refs that sort after `after` ("" = from the first), in order. */
  refsAfter(after: string, limit: number): Promise<string[]> {
    return this.levels.acct.keys({ ...(after === "" ? {} : { gt: after }), limit }).all();
  }

  /** Up to `limit` accounts whose refs sort after `after` ("" = from the first), in ref order. */
  async accountsAfter(after: string, limit: number): Promise<StoredAccount[]> {
    const entries = await this.levels.acct.iterator({ ...(after === "" ? {} : { gt: after }), limit }).all();
    return entries.map(([ref, value]) => decodeAccount(ref, value));
  }

  /** Repayments of several accounts with one range scan; `refs` must be sorted. */
  async repaymentsForAccounts(refs: readonly string[]): Promise<Map<string, StoredRepayment[]>> {
    const out = new Map<string, StoredRepayment[]>(refs.map((r) => [r, []]));
    if (refs.length === 0) return out;
    const first = keyPart("account_ref", refs[0]);
    const last = keyPart("account_ref", refs[refs.length - 1]);
    for (const [key, value] of await this.levels.rep.iterator({ gt: first + SEP, lt: last + AFTER_SEP }).all()) {
      const ref = key.slice(0, key.lastIndexOf(SEP));
      out.get(ref)?.push(decodeRepayment(ref, key, value));
    }
    return out;
  }

  /**
   * Seals the identity of these accounts again under the current data key,
   * in one batch under the write lock, so that no concurrent update of the
   * same accounts is lost. Accounts already under the current key, and refs
   * that no longer exist, are left alone. Returns how many were resealed.
   */
  async resealPii(refs: readonly string[]): Promise<number> {
    const pii = this.pii;
    if (!pii) throw new CreditMeshError("INTERNAL", "this record store was built without the data cipher");
    for (const r of refs) keyPart("account_ref", r);
    if (refs.length === 0) return 0;
    return this.queue.run(async () => {
      const values = await this.levels.acct.getMany([...refs]);
      const ops: WriteOp[] = [];
      values.forEach((value, i) => {
        if (value === undefined) return;
        const account = decodeAccount(refs[i], value);
        if (!pii.needsReseal(account.pii)) return;
        const version = storedVersion(parseStored("account", refs[i], value, isAccountValue));
        ops.push({ type: "put", sublevel: this.levels.acct, key: account.accountRef, value: encodeAccount(this.underCurrentKey(account), version) });
      });
      await this.db.write(ops);
      return ops.length;
    });
  }

  private underCurrentKey(account: StoredAccount): StoredAccount {
    if (!this.pii || !this.pii.needsReseal(account.pii)) return account;
    return { ...account, pii: this.pii.reseal(account.pii, Buffer.from(account.accountRef, "utf8")) };
  }
}

/** Last write of each ref wins, as if the batch had been applied in order. */
function latestByRef(accounts: readonly StoredAccount[]): Map<string, StoredAccount> {
  const latest = new Map<string, StoredAccount>();
  accounts.forEach((a, i) => {
    keyPart(`accounts[${i}].account_ref`, a.accountRef);
    // "~" and "#" (and whatever sorts before "$") mark the subject index's other entries (keys.ts); refs are hex digests.
    if (a.accountRef.startsWith("~") || a.accountRef < "$") {
      throw new CreditMeshError("VALIDATION_FAILED", `accounts[${i}].account_ref: must not start with "~" or a character before "$"`, { field: `accounts[${i}].account_ref` });
    }
    keyPart(`accounts[${i}].subject_token`, a.subjectToken);
    // Re-inserting moves the ref to the end: the write order follows the batch.
    latest.delete(a.accountRef);
    latest.set(a.accountRef, a);
  });
  return latest;
}

/** Highest installment above which an account's repayments are read by range: ten years of monthly statements. */
const IN_PLACE_INSTALLMENTS = 120;
/** The `replast` value of an account whose repayments are read by range. */
const BY_RANGE = "scan";
/** Accounts filed per batch by buildLastInstallments(). */
const LAST_INDEX_BATCH = 1000;

/** Each account's highest installment among `repayments`. */
function highestInstallments(repayments: Iterable<StoredRepayment>): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of repayments) {
    const known = out.get(r.accountRef);
    if (known === undefined || r.installment > known) out.set(r.accountRef, r.installment);
  }
  return out;
}

/** A stored `replast` value: the highest installment, or undefined for an account read by range. */
function parseLastInstallment(value: string): number | undefined {
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_INSTALLMENT && value === String(n) ? n : undefined;
}

/** The installment a repayment key's last part names, if it is exactly what installmentKey() writes for it. */
function installmentOf(part: string): number | undefined {
  const n = Number(part);
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_INSTALLMENT && part === installmentKey(n) ? n : undefined;
}

function repaymentKey(r: StoredRepayment): string {
  return keyPart("account_ref", r.accountRef) + SEP + installmentKey(r.installment);
}

/** Last write of each (account, installment) wins, as if the batch had been applied in order. */
function latestRepayments(repayments: readonly StoredRepayment[]): Map<string, StoredRepayment> {
  const latest = new Map<string, StoredRepayment>();
  for (const r of repayments) {
    const key = repaymentKey(r);
    latest.delete(key);
    latest.set(key, r);
  }
  return latest;
}

/** A stored value's version: `v`, or 1 for a value written without one (a first version, or before versions). */
function storedVersion(value: { v?: unknown }): number {
  const v = value.v;
  if (v === undefined) return 1;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 2) {
    throw new CreditMeshError("STORE_CORRUPT", `record version ${JSON.stringify(v)} is not a version`);
  }
  return v;
}

function toCount(v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new CreditMeshError("STORE_CORRUPT", `counter value ${JSON.stringify(v)} is not a count`);
  }
  return n;
}

interface AccountValue {
  subjectToken: string;
  pii: string;
  productType: number;
  openedOn: string;
  closedOn: string;
  creditLimit: number;
  termMonths: number;
  currency: string;
  chargedOff: boolean;
  furnishingConsentRef: string;
  nameTag?: string;
  updatedAt: string;
  /** The version, from the second on (see the class comment). */
  v?: number;
}

/** An account's terms: what the subject index keeps and derivation reads, without the identity. */
type TermsValue = Omit<AccountValue, "pii" | "subjectToken" | "v">;

/** The terms fields of a stored or decoded account, in their stored order. */
function pickTerms(v: TermsValue): TermsValue {
  return {
    productType: v.productType,
    openedOn: v.openedOn,
    closedOn: v.closedOn,
    creditLimit: v.creditLimit,
    termMonths: v.termMonths,
    currency: v.currency,
    chargedOff: v.chargedOff,
    furnishingConsentRef: v.furnishingConsentRef,
    ...(v.nameTag ? { nameTag: v.nameTag } : {}),
    updatedAt: v.updatedAt,
  };
}

function encodeAccount(a: StoredAccount, version: number): string {
  const value: AccountValue = {
    subjectToken: a.subjectToken,
    pii: Buffer.from(a.pii.buffer, a.pii.byteOffset, a.pii.byteLength).toString("base64"),
    ...pickTerms(a),
    ...(version > 1 ? { v: version } : {}),
  };
  return JSON.stringify(value);
}

function encodeTerms(a: StoredAccount): string {
  return JSON.stringify(pickTerms(a));
}

function isTermsValue(v: unknown): v is TermsValue {
  return isObject(v) && typeof v.openedOn === "string" && typeof v.productType === "number";
}

function decodeTerms(accountRef: string, subjectToken: string, json: string): AccountTerms {
  const v = parseStored("account terms", `${subjectToken}${SEP}${accountRef}`, json, isTermsValue);
  return { accountRef, subjectToken, ...pickTerms(v) };
}

function isAccountValue(v: unknown): v is AccountValue {
  return isObject(v) && typeof v.subjectToken === "string" && typeof v.pii === "string";
}

function decodeAccount(accountRef: string, json: string): StoredAccount {
  const v = parseStored("account", accountRef, json, isAccountValue);
  return { accountRef, subjectToken: v.subjectToken, pii: new Uint8Array(Buffer.from(v.pii, "base64")), ...pickTerms(v) };
}

interface RepaymentValue {
  dueOn: string;
  amountDue: number;
  paidOn: string;
  amountPaid: number;
  balanceAfter: number;
  /** The version, from the second on (see the class comment). */
  v?: number;
}

function encodeRepayment(r: StoredRepayment, version = 1): string {
  const value: RepaymentValue = {
    dueOn: r.dueOn,
    amountDue: r.amountDue,
    paidOn: r.paidOn,
    amountPaid: r.amountPaid,
    balanceAfter: r.balanceAfter,
    ...(version > 1 ? { v: version } : {}),
  };
  return JSON.stringify(value);
}

function isRepaymentValue(v: unknown): v is RepaymentValue {
  return isObject(v) && typeof v.dueOn === "string" && typeof v.amountDue === "number";
}

function decodeRepayment(accountRef: string, key: string, json: string): StoredRepayment {
  const v = parseStored("repayment", key, json, isRepaymentValue);
  return {
    accountRef,
    installment: Number(lastPart(key)),
    dueOn: v.dueOn,
    amountDue: v.amountDue,
    paidOn: v.paidOn,
    amountPaid: v.amountPaid,
    balanceAfter: v.balanceAfter,
  };
}
