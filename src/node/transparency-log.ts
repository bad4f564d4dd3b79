import type { LogApi } from "../api/log-api.js";
import type { SignedAuditHead } from "../audit/signed-head.js";
import type { Logger } from "../logger.js";
import type { RecordVersionLog } from "../records/ingest.js";
import type { Metrics } from "../metrics.js";
import { LevelLeafSalts, accountRecordId, repaymentRecordId } from "../store/level-leaf-salts.js";
import { LevelLogStore } from "../store/level-log-store.js";
import type { NodeDatabase, WriteOp } from "../store/database.js";
import { toBatch } from "../store/write-batch.js";
import type { AnswerLog } from "../report/holder.js";
import type { AnswerLogProof } from "../gen/creditmesh/v1/report.js";
import type { StoredAccount, StoredRepayment } from "../store/types.js";
import {
  CheckpointPublisher,
  LogWriter,
  TiledLog,
  auditHeadLeaf,
  createLogHttpHandler,
  inquiryLeaf,
  newSalt,
  recordVersionLeaf,
  sha256,
  tombstoneLeaf,
  answerLeaf,
  buildAnswerProof,
  recordLeafFields,
  signCheckpoint,
  TRADELINE_RECORD_KIND,
  type AnswerProofSource,
  type NoteSigner,
  type RecordLeafOpening,
} from "../tlog/index.js";

/** Checkpoints signed for answers kept for reuse (one per group commit; concurrent answers share the newest few). */
const ANSWER_CHECKPOINTS_KEPT = 8;
/** Record leaves' public fields kept by index, so an answer does not re-read a whole entry bundle per tradeline. */
const RECORD_FIELDS_KEPT = 16_384;

/** The canonical form committed in a record leaf: the stored record without its sealed personal data or write time. */
function canonicalAccount(a: StoredAccount): Uint8Array {
  const { pii: _pii, updatedAt: _at, nameTag: _tag, ...terms } = a;
  return Buffer.from(JSON.stringify(terms), "utf8");
}

function canonicalRepayment(r: StoredRepayment): Uint8Array {
  return Buffer.from(JSON.stringify(r), "utf8");
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
  /** The latest batch's leaf indexes, which a deletion right after it must see. */
  private indexesWritten: Promise<unknown> = Promise.resolve();
  /** Leaves waiting for the next synced append: answers and audit heads, which nothing waits for. */
  private deferred: { leaf: Uint8Array; kind: "answer" | "audit-head" }[] = [];
  private readonly answerCheckpoints = new Map<number, Promise<string>>();
  /** Only what the log itself publishes (kind, version, record commitment): salts are read from the store each time, so erasure still destroys them. */
  private readonly recordFields = new Map<number, ReturnType<typeof recordLeafFields>>();

  private constructor(
    readonly log: TiledLog,
    store: LevelLogStore,
    db: NodeDatabase,
    private readonly opts: NodeTransparencyLogOptions,
    private readonly modules: { signer: NoteSigner; logger: Logger; metrics: Metrics | null },
  ) {
    this.store = store;
    this.salts = new LevelLeafSalts(db);
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

  async accepted(accounts: readonly StoredAccount[], repayments: readonly (StoredRepayment & { subjectToken: string })[]): Promise<{ durable: Promise<unknown> }> {
    const items = [
      ...accounts.map((a) => ({ id: accountRecordId(a.accountRef), kind: "account", subjectToken: a.subjectToken, accountRef: a.accountRef, canonical: canonicalAccount(a) })),
      ...repayments.map((r) => ({
        id: repaymentRecordId(r.accountRef, r.installment),
        kind: "repayment",
        subjectToken: r.subjectToken,
        accountRef: r.accountRef,
        canonical: canonicalRepayment({ accountRef: r.accountRef, installment: r.installment, dueOn: r.dueOn, amountDue: r.amountDue, paidOn: r.paidOn, amountPaid: r.amountPaid, balanceAfter: r.balanceAfter }),
      })),
    ];
    if (items.length === 0) return { durable: Promise.resolve() };
    const versions = await this.salts.versions(items.map((i) => i.id));
    const saved = items.map((it, i) => ({ ...it, version: versions[i]! + 1, salt: newSalt() }));
    // Unsynced: the log's own synced append comes after it and makes it durable too (one write-ahead log).
    await this.salts.save(saved, { sync: false });
    const appended = this.writer.add(
      saved.map((it) =>
        recordVersionLeaf({ recordKind: it.kind, subjectToken: it.subjectToken, accountRef: it.accountRef, version: it.version, canonicalRecord: it.canonical, salt: it.salt }),
      ),
    );
    const durable = appended.then(async (first) => {
      await this.salts.setLeafIndexes(accounts.map((a, i) => ({ accountRef: a.accountRef, index: first + i })));
      this.modules.metrics?.logLeaves.inc({ kind: "record" }, saved.length);
    });
    this.indexesWritten = durable.catch(() => undefined);
    return { durable };
  }

  async deleted(accountRefs: readonly string[], reason: string): Promise<{ durable: Promise<unknown> }> {
    await this.indexesWritten;
    const leaves: Uint8Array[] = [];
    for (const ref of accountRefs) {
      const target = await this.salts.forget(ref);
      if (target !== undefined) leaves.push(tombstoneLeaf(target, reason));
    }
    if (leaves.length === 0) return { durable: Promise.resolve() };
    const durable = this.writer.add(leaves).then(() => this.modules.metrics?.logLeaves.inc({ kind: "tombstone" }, leaves.length));
    return { durable };
  }

  /**
   * A signed answer sent. Its inquiry leaf went to disk with the inquiry
   * itself (carry()); the answer leaf waits for the next synced append (the
   * next query's, a deletion's, or the checkpoint's at the latest), so it
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

  /** The proof an answer carries (tlog/answer-proof.ts), or none when tlog.answerProofs is off. */
  async prove(input: { inquiryIndex: number; signedQueryHash: Uint8Array; accountRefs: readonly string[] }): Promise<AnswerLogProof | undefined> {
    if (this.opts.answerProofs === false) return undefined;
    return buildAnswerProof(this.proofSource, input);
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

  /** Opens the accounts' latest record-version leaves from their log entries and stored salts. */
  private async recordLeaves(accountRefs: readonly string[]): Promise<(RecordLeafOpening | { missing: string })[]> {
    const indexes = await this.salts.leafIndexes(accountRefs);
    type Fields = { index: number; version: number; recordCommitment: Uint8Array; recordKind: string } | { missing: string };
    const fields = await Promise.all(
      indexes.map(async (index): Promise<Fields> => {
        if (index === undefined) return { missing: "no record-version leaf logged for this account (tlog.recordVersions was off when it was furnished)" };
        try {
          let known = this.recordFields.get(index);
          if (!known) {
            known = recordLeafFields(await this.log.entry(index));
            if (this.recordFields.size >= RECORD_FIELDS_KEPT) this.recordFields.delete(this.recordFields.keys().next().value!);
            this.recordFields.set(index, known);
          }
          if (known.recordKind !== TRADELINE_RECORD_KIND) return { missing: `leaf ${index} is not an account's record version` };
          return { index, ...known };
        } catch (err) {
          this.modules.logger.error({ err: (err as Error).message, index }, "opening a record leaf failed");
          return { missing: `leaf ${index} could not be opened` };
        }
      }),
    );
    const opened = fields.flatMap((f, i) => ("missing" in f ? [] : [{ i, id: accountRecordId(accountRefs[i]!), version: f.version }]));
    const salts = await this.salts.salts(opened);
    const out: (RecordLeafOpening | { missing: string })[] = fields.map((f) => ("missing" in f ? f : { missing: "the salt was not read" }));
    opened.forEach(({ i, version }, k) => {
      const f = fields[i] as Exclude<Fields, { missing: string }>;
      const salt = salts[k];
      out[i] = salt ? { index: f.index, version, salt, recordCommitment: f.recordCommitment } : { missing: `the salt of version ${version} is gone` };
    });
    return out;
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
