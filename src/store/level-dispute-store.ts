import { DisputeOutcome, DisputeStatus } from "../gen/creditmesh/v1/common.js";
import { Dispute } from "../gen/creditmesh/v1/dispute.js";
import { decodeStored } from "./codec.js";
import type { NodeDatabase, Sublevels, WriteOp } from "./database.js";
import { keyPart, lastPart, SEP, under } from "./keys.js";
import { KeyedSerialQueue } from "./serial.js";
import type { DisputeCleanup, DisputeStore, WriteBatch } from "./types.js";
import { toBatch } from "./write-batch.js";

const DISPUTE = "d";
const BY_ACCOUNT = "a";
const OPEN = "o";
const EMPTY = new Uint8Array(0);

/**
 * Disputes (protobuf bytes) with two indexes, kept in one batch with the record:
 *
 * - `d!<disputeId>`              → Dispute
 * - `a!<accountRef>!<disputeId>` → empty
 * - `o!<disputeId>`              → empty while the dispute is OPEN
 *
 * The open set lets the 30-day deadline sweep read only unresolved disputes.
 *
 * Every report asks for the disputes of each account it derives, and almost
 * no account has one. The refs that have (or had) a dispute are kept in
 * memory, read once from the account index and added to by put(), so that
 * the usual answer costs no read at all. The set only ever errs on the side
 * of a read that finds nothing (a destroyed dispute's ref stays in it).
 */
export class LevelDisputeStore implements DisputeStore, DisputeCleanup {
  private readonly levels: Sublevels;
  private readonly queue = new KeyedSerialQueue();
  private disputedRefs?: Promise<Set<string>>;

  constructor(private readonly db: NodeDatabase) {
    this.levels = db.levels;
  }

  async put(dispute: Dispute): Promise<void> {
    const id = keyPart("dispute_id", dispute.disputeId);
    const ref = keyPart("account_ref", dispute.accountRef);
    const bytes = Dispute.encode(dispute).finish();
    return this.queue.run(id, async () => {
      const level = this.levels.dispute;
      const ops: WriteOp[] = [
        { type: "put", sublevel: level, key: DISPUTE + SEP + id, value: bytes },
        { type: "put", sublevel: level, key: accountKey(ref, id), value: EMPTY },
        dispute.status === DisputeStatus.OPEN
          ? { type: "put", sublevel: level, key: OPEN + SEP + id, value: EMPTY }
          : { type: "del", sublevel: level, key: OPEN + SEP + id },
      ];
      // Known before it is written: a reader must never skip an account that has a dispute on disk.
      (await this.disputed()).add(ref);
      const old = await this.get(id);
      if (old !== undefined && old.accountRef !== ref) {
        ops.push({ type: "del", sublevel: level, key: accountKey(old.accountRef, id) });
      }
      await this.db.write(ops);
    });
  }

  async get(disputeId: string): Promise<Dispute | undefined> {
    const key = DISPUTE + SEP + keyPart("dispute_id", disputeId);
    const bytes = await this.levels.dispute.get(key);
    return bytes === undefined ? undefined : decodeDispute(key, bytes);
  }

  listOpen(): Promise<Dispute[]> {
    return this.listBy(OPEN);
  }

  async listAll(): Promise<Dispute[]> {
    const out: Dispute[] = [];
    for await (const [key, value] of this.levels.dispute.iterator(under(DISPUTE))) out.push(decodeDispute(key, value));
    return out;
  }

  async listForAccount(accountRef: string): Promise<Dispute[]> {
    const ref = keyPart("account_ref", accountRef);
    if (!(await this.disputed()).has(ref)) return [];
    return this.listBy(BY_ACCOUNT + SEP + ref);
  }

  private disputed(): Promise<Set<string>> {
    // A failed read (database closing) is tried again by the next caller.
    return (this.disputedRefs ??= this.readDisputedRefs().catch((err: unknown) => {
      this.disputedRefs = undefined;
      throw err;
    }));
  }

  private async readDisputedRefs(): Promise<Set<string>> {
    const refs = new Set<string>();
    for await (const key of this.levels.dispute.keys(under(BY_ACCOUNT))) {
      // a!<accountRef>!<disputeId>
      refs.add(key.slice(BY_ACCOUNT.length + SEP.length, key.lastIndexOf(SEP)));
    }
    return refs;
  }

  private async listBy(indexPrefix: string): Promise<Dispute[]> {
    const level = this.levels.dispute;
    const keys = await level.keys(under(indexPrefix)).all();
    if (keys.length === 0) return [];
    const out: Dispute[] = [];
    // Known keys, read in place: a holder's answer waits for a disputed account's disputes.
    for (const k of keys) {
      const recordKey = DISPUTE + SEP + lastPart(k);
      const v = level.getSync(recordKey);
      if (v !== undefined) out.push(decodeDispute(recordKey, v));
    }
    return out;
  }

  /**
   * The writes that close, as DELETED with `note`, every OPEN dispute that
   * `institutionId` holds about these accounts, for a caller's batch (the one
   * that deletes the accounts).
   */
  async closeWrites(
    accountRefs: readonly string[],
    institutionId: string,
    note: string,
    resolvedAt: Date,
  ): Promise<{ batch: WriteBatch; closed: Dispute[] }> {
    const level = this.levels.dispute;
    const ops: WriteOp[] = [];
    const closed: Dispute[] = [];
    for (const ref of accountRefs) {
      for (const d of await this.listForAccount(ref)) {
        if (d.institutionId !== institutionId || d.status !== DisputeStatus.OPEN) continue;
        const next: Dispute = { ...d, status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.DELETED, note, resolvedAt };
        const id = keyPart("dispute_id", d.disputeId);
        ops.push({ type: "put", sublevel: level, key: DISPUTE + SEP + id, value: Dispute.encode(next).finish() });
        ops.push({ type: "del", sublevel: level, key: OPEN + SEP + id });
        closed.push(next);
      }
    }
    return { batch: toBatch(ops), closed };
  }

  /**
   * Destroys the copies this node keeps of disputes held by other
   * institutions (filed through it) that were resolved before `before`, with
   * their index entries, in one batch; returns how many went. A resolved
   * dispute never changes again, so no update can race this.
   */
  async destroyResolvedCopies(selfInstitutionId: string, before: Date): Promise<number> {
    const level = this.levels.dispute;
    const ops: WriteOp[] = [];
    let copies = 0;
    for await (const [key, value] of level.iterator(under(DISPUTE))) {
      const d = decodeDispute(key, value);
      if (d.institutionId === selfInstitutionId || d.status === DisputeStatus.OPEN || !d.resolvedAt || d.resolvedAt >= before) continue;
      copies++;
      ops.push({ type: "del", sublevel: level, key });
      ops.push({ type: "del", sublevel: level, key: accountKey(d.accountRef, d.disputeId) });
      ops.push({ type: "del", sublevel: level, key: OPEN + SEP + d.disputeId });
    }
    await this.db.write(ops);
    return copies;
  }

  /**
   * The deletes that destroy every dispute about these accounts or filed for
   * this subject (also those filed here about another holder's tradeline),
   * with their index entries, for a caller's batch.
   */
  async destroyWrites(match: { subjectToken?: string; accountRefs?: readonly string[] }): Promise<{ batch: WriteBatch; disputes: number }> {
    const refs = new Set(match.accountRefs ?? []);
    const level = this.levels.dispute;
    const ops: WriteOp[] = [];
    let disputes = 0;
    for await (const [key, value] of level.iterator(under(DISPUTE))) {
      const d = decodeDispute(key, value);
      if (!refs.has(d.accountRef) && (match.subjectToken === undefined || d.subjectToken !== match.subjectToken)) continue;
      disputes++;
      ops.push({ type: "del", sublevel: level, key });
      ops.push({ type: "del", sublevel: level, key: accountKey(d.accountRef, d.disputeId) });
      ops.push({ type: "del", sublevel: level, key: OPEN + SEP + d.disputeId });
    }
    return { batch: toBatch(ops), disputes };
  }
}

function accountKey(ref: string, id: string): string {
  return BY_ACCOUNT + SEP + ref + SEP + id;
}

function decodeDispute(key: string, bytes: Uint8Array): Dispute {
  return decodeStored("dispute", key, bytes, (b) => Dispute.decode(b));
}
