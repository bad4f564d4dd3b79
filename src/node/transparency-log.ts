import type { LogApi } from "../api/log-api.js";
import type { SignedAuditHead } from "../audit/signed-head.js";
import type { Logger } from "../logger.js";
import type { RecordVersionLog } from "../records/ingest.js";
import type { Metrics } from "../metrics.js";
import { LevelLeafSalts, accountRecordId, repaymentRecordId, type RecordLeaf } from "../store/level-leaf-salts.js";
import { LevelLogStore } from "../store/level-log-store.js";
import type { NodeDatabase, WriteOp } from "../store/database.js";
import type { StoredAccount, StoredRepayment, WriteBatch, WrittenRecords } from "../store/types.js";
import { opsOf, toBatch } from "../store/write-batch.js";
import type { AnswerLog } from "../report/holder.js";
import type { AnswerLogProof } from "../gen/creditmesh/v1/report.js";
import {
  CheckpointPublisher,
  LogWriter,
  TiledLog,
  auditHeadLeaf,
  createLogHttpHandler,
  filterLeaf,
  inquiryLeaf,
  recordVersionLeaf,
  sha256,
  tombstoneLeaf,
  answerLeaf,
  buildAnswerProof,
  signCheckpoint,
  type AnswerProofSource,
  type FilterLeaf,
  type LeafSaltKey,
  type NoteSigner,
  type RecordLeafOpening,
} from "../tlog/index.js";

/** Checkpoints signed for answers kept for reuse (one per group commit; concurrent answers share the newest few). */
const ANSWER_CHECKPOINTS_KEPT = 8;

/**
 * The canonical form committed in an account's leaf: its terms, without the
 * sealed personal data, name tag or write time, in a fixed field order (so
 * the same account read back from the store or the subject index hashes the
 * same).
 */
function canonicalAccount(a: Omit<StoredAccount, "pii">): Uint8Array {
  const { accountRef, subjectToken, productType, openedOn, closedOn, creditLimit, termMonths, currency, chargedOff, furnishingConsentRef } = a;
  return Buffer.from(
    JSON.stringify({ accountRef, subjectToken, productType, openedOn, closedOn, creditLimit, termMonths, currency, chargedOff, furnishingConsentRef }),
    "utf8",
  );
}

/** JSON of { accountRef, installment, dueOn, amountDue, paidOn, amountPaid, balanceAfter }, in that order (built directly: one per record at ingest). */
function canonicalRepayment(r: StoredRepayment): Uint8Array {
  const q = JSON.stringify;
  return Buffer.from(
    `{"accountRef":${q(r.accountRef)},"installment":${q(r.installment)},"dueOn":${q(r.dueOn)},"amountDue":${q(r.amountDue)},"paidOn":${q(r.paidOn)},"amountPaid":${q(r.amountPaid)},"balanceAfter":${q(r.balanceAfter)}}`,
    "utf8",
  );
}

/** SHA-256 of the canonical account: what an account's record-version leaf commits to (RecordLeaf.canonicalHash). */
export function canonicalAccountHash(a: Omit<StoredAccount, "pii">): Uint8Array {
  return sha256(canonicalAccount(a));
}

export interface NodeTransparencyLogOptions {
  origin: string;
  checkpointIntervalMs: number;
  /** Anchor every n-th signed audit head (the audit log signs a head per written group). */
  auditHeadEvery: number;
  /** Answers carry a checkpoint and inclusion proofs (tlog.answerProofs; default on). */
  answerProofs?: boolean;
}

/**
 * The holder's transparency log as the node runs it: one TiledLog in the
 * node's database, group-committed appends, a checkpoint signed every
 * interval when the log grew, and the leaves of what the node does
 * (record versions, answered queries, deletions, audit heads).
 */
export class NodeTransparencyLog implements RecordVersionLog, AnswerLog {
  readonly store: LevelLogStore;
  private readonly salts: LevelLeafSalts;
  private readonly writer: LogWriter;
  private readonly publisher: CheckpointPublisher;
  /** Told of each checkpoint published (witnessing, once the network is up). */
  onPublished?: (note: string) => void;
  /** The latest quorum-cosigned checkpoint, when witnessing runs. */
  cosigned?: () => string | undefined;
  private headsSeen = 0;
  /** Leaves waiting for the next synced append: answers and audit heads, which nothing waits for. */
  private deferred: { leaf: Uint8Array; kind: "answer" | "audit-head" }[] = [];
  private readonly answerCheckpoints = new Map<number, Promise<string>>();

  private constructor(
    readonly log: TiledLog,
    store: LevelLogStore,
    private readonly db: NodeDatabase,
    private readonly opts: NodeTransparencyLogOptions,
    private readonly modules: { signer: NoteSigner; logger: Logger; metrics: Metrics | null; saltKey: LeafSaltKey },
  ) {
    this.store = store;
    this.salts = new LevelLeafSalts(db, modules.saltKey);
    this.writer = new LogWriter(log);
    this.publisher = new CheckpointPublisher(
      { origin: opts.origin, intervalMs: opts.checkpointIntervalMs },
      {
        log,
        signer: modules.signer,
        logger: modules.logger,
        onPublished: (note) => this.onPublished?.(note),
        beforePublish: () => this.flushDeferred(),
      },
    );
  }

  static async open(db: NodeDatabase, opts: NodeTransparencyLogOptions, modules: NodeTransparencyLog["modules"]): Promise<NodeTransparencyLog> {
    const store = new LevelLogStore(db);
    const log = await TiledLog.init(store);
    return new NodeTransparencyLog(log, store, db, opts, modules);
  }

  start(): void {
    this.publisher.start();
  }

  /** Publishes what was appended, then stops; the database may close after. */
  async stop(): Promise<void> {
    await this.publisher.stop();
    await this.flushDeferred().catch((err: unknown) => this.modules.logger.error({ err }, "appending answer leaves failed"));
    await this.publisher.publishIfGrown().catch((err: unknown) => this.modules.logger.error({ err }, "final log checkpoint failed"));
  }

  publishNow(): Promise<string | undefined> {
    return this.publisher.publishIfGrown();
  }

  /** The gRPC log calls' view. */
  api(): LogApi {
    const { log, store, opts } = this;
    return {
      origin: opts.origin,
      get size() {
        return log.size;
      },
      checkpoint: () => store.checkpoint(),
      cosigned: () => this.cosigned?.(),
      inclusionProof: (index, size) => log.inclusionProof(index, size),
      consistencyProof: (oldSize, size) => log.consistencyProof(oldSize, size),
      leafHash: (index) => log.leafHash(index),
    };
  }

  httpHandler(): ReturnType<typeof createLogHttpHandler> {
    return createLogHttpHandler(this.store, { logger: this.modules.logger });
  }

  /**
   * Commits an ingest batch (`batch`, the record store's writes) with a leaf
   * per record version it wrote, the leaves' tiles and each account's latest
   * leaf entry, in ONE synced write: a record is never durable without its
   * leaf, nor a leaf without its record. Per record: one salt derivation, one
   * canonical hash, one commitment and the tree's hashing; nothing is read.
   */
  async commitRecords(batch: WriteBatch, written: WrittenRecords, subjectOf: (accountRef: string) => string): Promise<void> {
    const { salts } = this;
    const leaves: Uint8Array[] = [];
    const accountLeaves: { accountRef: string; offset: number; version: number; canonicalHash: Uint8Array }[] = [];
    for (const { account, version } of written.accounts) {
      const canonicalHash = sha256(canonicalAccount(account));
      const salt = this.modules.saltKey.salt(accountRecordId(account.accountRef), version);
      accountLeaves.push({ accountRef: account.accountRef, offset: leaves.length, version, canonicalHash });
      leaves.push(recordVersionLeaf({ recordKind: "account", subjectToken: account.subjectToken, accountRef: account.accountRef, version, canonicalHash, salt }));
    }
    for (const { repayment: r, version } of written.repayments) {
      const salt = this.modules.saltKey.salt(repaymentRecordId(r.accountRef, r.installment), version);
      leaves.push(
        recordVersionLeaf({ recordKind: "repayment", subjectToken: subjectOf(r.accountRef), accountRef: r.accountRef, version, canonicalHash: sha256(canonicalRepayment(r)), salt }),
      );
    }
    if (leaves.length === 0) return this.db.write(opsOf(batch));
    await this.log.appendWith(leaves, (update, first) =>
      this.db.write([
        ...opsOf(batch),
        ...this.store.updateOps(update),
        ...salts.accountLeafOps(accountLeaves.map((a) => ({ accountRef: a.accountRef, index: first + a.offset, version: a.version, canonicalHash: a.canonicalHash }))),
      ]),
    );
    this.modules.metrics?.logLeaves.inc({ kind: "record" }, leaves.length);
  }

  /**
   * The latest record-version leaf of an account, for an answer's inclusion
   * proof: the verifier rebuilds it with recordVersionLeaf({ recordKind:
   * "account", subjectToken, accountRef, version, canonicalHash, salt }).
   */
  recordLeaf(accountRef: string): Promise<RecordLeaf | undefined> {
    return this.salts.accountLeaf(accountRef);
  }

  /**
   * A tombstone for each deleted or erased account that was logged, naming
   * its latest version's leaf and a reason code (never data); its leaf entry
   * goes. Resolves once the tombstones are queued, with `durable` once they
   * are on disk.
   */
  async deleted(accountRefs: readonly string[], reason: string): Promise<{ durable: Promise<unknown> }> {
    const leaves: Uint8Array[] = [];
    for (const ref of accountRefs) {
      const target = await this.salts.forget(ref);
      if (target !== undefined) leaves.push(tombstoneLeaf(target, reason));
    }
    if (leaves.length === 0) return { durable: Promise.resolve() };
    const durable = this.writer.add(leaves).then(() => this.modules.metrics?.logLeaves.inc({ kind: "tombstone" }, leaves.length));
    return { durable };
  }

  /** A published holder filter or delta; resolves with its leaf index once durable (the announcement names it). */
  async filterPublished(leaf: FilterLeaf): Promise<number> {
    const index = await this.writer.add([filterLeaf(leaf)]);
    this.modules.metrics?.logLeaves.inc({ kind: "filter" }, 1);
    return index;
  }

  /**
   * A signed answer sent. Its inquiry leaf went to disk with the inquiry
   * itself (carry()); the answer leaf waits for the next synced append (the
   * next query's, or the checkpoint's at the latest), so it
   * costs no disk flush of its own — and a crash before then loses it.
   */
  answered(signedAnswer: Uint8Array): void {
    this.deferred.push({ leaf: answerLeaf(sha256(signedAnswer)), kind: "answer" });
  }

  private async flushDeferred(): Promise<void> {
    if (this.deferred.length === 0) return;
    const leaves = this.deferred.splice(0);
    try {
      await this.writer.add(leaves.map((d) => d.leaf));
    } catch (err) {
      this.deferred.unshift(...leaves);
      throw err;
    }
    this.countDeferred(leaves);
  }

  private countDeferred(leaves: readonly { kind: string }[]): void {
    const metrics = this.modules.metrics;
    if (!metrics) return;
    for (const kind of ["answer", "audit-head"]) {
      const n = leaves.filter((d) => d.kind === kind).length;
      if (n > 0) metrics.logLeaves.inc({ kind }, n);
    }
  }

  /**
   * Appends `leaves` in the same synced batch as `ops` (the audit trail's
   * group: inquiries, audit entries, nonces), behind any deferred answer
   * leaves; resolves with the index of the first of `leaves`.
   */
  async carry(ops: WriteOp[], leaves: readonly Uint8Array[]): Promise<number> {
    const deferred = this.deferred.splice(0);
    let first: number;
    try {
      ({ first } = await this.log.append([...deferred.map((d) => d.leaf), ...leaves], undefined, toBatch(ops)));
    } catch (err) {
      this.deferred.unshift(...deferred);
      throw err;
    }
    this.countDeferred(deferred);
    this.modules.metrics?.logLeaves.inc({ kind: "inquiry" }, leaves.length);
    return first + deferred.length;
  }

  /** The inquiry leaf of a signed query as received. */
  inquiryLeaf(signedQuery: Uint8Array): { leaf: Uint8Array; queryHash: Uint8Array } {
    const queryHash = sha256(signedQuery);
    return { leaf: inquiryLeaf(queryHash), queryHash };
  }

  /**
   * Starts reading the record-version leaf entries of these accounts (the
   * subject's, as a query reads them), for prove() to take: read beside the
   * repayments and the query's synced write, the proof has nothing left to
   * read once the inquiry is durable. Undefined when answers carry no proofs.
   */
  readRecordLeaves(accountRefs: readonly string[]): RecordLeafReads | undefined {
    if (this.opts.answerProofs === false || accountRefs.length === 0) return undefined;
    return new RecordLeafReads(accountRefs, this.salts.accountLeaves(accountRefs));
  }

  /**
   * The proof an answer carries (tlog/answer-proof.ts), or none when tlog.answerProofs is off.
   * `recordsUnprovable`: why no record leaf can back this answer's tradelines (each is then marked not logged, with it).
   * `reads`: the leaf entries readRecordLeaves() started; accounts it did not cover are read here.
   */
  async prove(input: {
    inquiryIndex: number;
    signedQueryHash: Uint8Array;
    accountRefs: readonly string[];
    recordsUnprovable?: string;
    reads?: object;
  }): Promise<AnswerLogProof | undefined> {
    if (this.opts.answerProofs === false) return undefined;
    const why = input.recordsUnprovable;
    const reads = input.reads instanceof RecordLeafReads ? input.reads : undefined;
    const source: AnswerProofSource =
      why !== undefined
        ? { ...this.proofSource, recordLeaves: async (refs) => refs.map(() => ({ missing: why })) }
        : reads
          ? { ...this.proofSource, recordLeaves: async (refs) => this.openings(await reads.leavesOf(refs, (missing) => this.salts.accountLeaves(missing))) }
          : this.proofSource;
    return buildAnswerProof(source, input);
  }

  private readonly proofSource: AnswerProofSource = {
    size: () => this.log.size,
    checkpointAt: (size) => this.checkpointAt(size),
    inclusionProof: (index, size) => this.log.inclusionProof(index, size),
    recordLeaves: (accountRefs) => this.recordLeaves(accountRefs),
  };

  /** A checkpoint for `size`, signed once however many answers name it; not stored (the published ones are). */
  private checkpointAt(size: number): Promise<string> {
    let note = this.answerCheckpoints.get(size);
    if (!note) {
      note = this.log.root(size).then((root) => signCheckpoint({ origin: this.opts.origin, size, root }, this.modules.signer));
      note.catch(() => this.answerCheckpoints.delete(size));
      this.answerCheckpoints.set(size, note);
      if (this.answerCheckpoints.size > ANSWER_CHECKPOINTS_KEPT) this.answerCheckpoints.delete(this.answerCheckpoints.keys().next().value!);
    }
    return note;
  }

  /**
   * Opens the accounts' latest record-version leaves: each account's leaf
   * entry (index, version, canonical hash; written with the account and its
   * leaf) in one read for all, and its salt derived from the version.
   */
  private async recordLeaves(accountRefs: readonly string[]): Promise<(RecordLeafOpening | { missing: string })[]> {
    return this.openings(await this.salts.accountLeaves(accountRefs));
  }

  /** Leaf entries as an answer's proof opens them: only leaves the committed size covers. */
  private openings(leaves: readonly (RecordLeaf | undefined)[]): (RecordLeafOpening | { missing: string })[] {
    const size = this.log.size;
    return leaves.map((leaf) => {
      if (leaf === undefined) return { missing: "no record-version leaf logged for this account (tlog.recordVersions was off when it was furnished)" };
      // The entry lands in the append's own batch; the log's size follows once that batch resolves.
      if (leaf.leafIndex >= size) return { missing: `leaf ${leaf.leafIndex} is not committed yet` };
      return { index: leaf.leafIndex, version: leaf.version, salt: leaf.salt, canonicalHash: leaf.canonicalHash };
    });
  }

  /**
   * The audit log's head export: every n-th signed head becomes a leaf,
   * appended with the next synced append (a query's, or the next checkpoint's).
   */
  readonly auditHeads = {
    publish: (head: SignedAuditHead): void => {
      if (this.headsSeen++ % this.opts.auditHeadEvery !== 0) return;
      this.deferred.push({ leaf: auditHeadLeaf(head.position, Buffer.from(head.hash, "hex")), kind: "audit-head" });
    },
  };
}

/**
 * Record-version leaf entries read ahead of an answer's proof
 * (NodeTransparencyLog.readRecordLeaves), by account ref.
 */
class RecordLeafReads {
  readonly #refs: readonly string[];
  readonly #leaves: Promise<(RecordLeaf | undefined)[]>;

  constructor(accountRefs: readonly string[], leaves: Promise<(RecordLeaf | undefined)[]>) {
    this.#refs = [...accountRefs];
    this.#leaves = leaves;
    // Awaited by the proof; a query that fails before it must not leave the read's failure unhandled.
    leaves.catch(() => undefined);
  }

  /** The entries of `accountRefs`, in that order; refs not read ahead are read with `read`. */
  async leavesOf(accountRefs: readonly string[], read: (refs: readonly string[]) => Promise<(RecordLeaf | undefined)[]>): Promise<(RecordLeaf | undefined)[]> {
    const leaves = await this.#leaves;
    const byRef = new Map<string, RecordLeaf | undefined>();
    this.#refs.forEach((ref, i) => byRef.set(ref, leaves[i]));
    const missing = accountRefs.filter((ref) => !byRef.has(ref));
    if (missing.length > 0) (await read(missing)).forEach((leaf, i) => byRef.set(missing[i]!, leaf));
    return accountRefs.map((ref) => byRef.get(ref));
  }
}
