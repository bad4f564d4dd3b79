import type { LogApi } from "../api/log-api.js";
import type { SignedAuditHead } from "../audit/signed-head.js";
import type { Logger } from "../logger.js";
import type { RecordVersionLog } from "../records/ingest.js";
import type { Metrics } from "../metrics.js";
import { LevelLeafSalts, accountRecordId, repaymentRecordId } from "../store/level-leaf-salts.js";
import { LevelLogStore } from "../store/level-log-store.js";
import type { NodeDatabase } from "../store/database.js";
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
  type NoteSigner,
} from "../tlog/index.js";

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
}

/**
 * The holder's transparency log as the node runs it: one TiledLog in the
 * node's database, group-committed appends, a checkpoint signed every
 * interval when the log grew, and the leaves of what the node does
 * (record versions, answered queries, deletions, audit heads).
 */
export class NodeTransparencyLog implements RecordVersionLog {
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
  private pendingHead?: Promise<unknown>;

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
      { log, signer: modules.signer, logger: modules.logger, onPublished: (note) => this.onPublished?.(note) },
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
    await this.pendingHead;
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

  /** An answered query: the signed query as received and the signed answer sent, durable before the answer leaves. */
  async answered(signedQuery: Uint8Array, signedAnswer: Uint8Array): Promise<void> {
    await this.writer.add([inquiryLeaf(sha256(signedQuery)), answerLeaf(sha256(signedAnswer))]);
    this.modules.metrics?.logLeaves.inc({ kind: "inquiry" }, 1);
  }

  /** The audit log's head export: every n-th signed head becomes a leaf (not awaited by the audit writer). */
  readonly auditHeads = {
    publish: (head: SignedAuditHead): void => {
      if (this.headsSeen++ % this.opts.auditHeadEvery !== 0) return;
      const leaf = auditHeadLeaf(head.position, Buffer.from(head.hash, "hex"));
      this.pendingHead = this.writer
        .add([leaf])
        .then(() => this.modules.metrics?.logLeaves.inc({ kind: "audit-head" }, 1))
        .catch((err: unknown) => this.modules.logger.error({ err, position: head.position }, "anchoring the audit head failed"));
    },
  };
}
