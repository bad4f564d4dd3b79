import { Inquiry } from "../gen/creditmesh/v1/report.js";
import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import { decodeStored } from "./codec.js";
import type { NodeDatabase, WriteOp } from "./database.js";
import { opsOf, toBatch } from "./write-batch.js";
import { keyPart, SEP, SUBJECT_INQUIRIES, subjectInquiries } from "./keys.js";
import type { InquiryStore, InquiryWrite, InquiryPurge } from "./types.js";

/** Entries moved from the earlier inquiry sublevel per batch. */
const MOVE_BATCH = 1000;

/**
 * The inquiry log, in the subject index (see keys.ts) so that a holder reads
 * a subject's accounts and inquiries with one range scan:
 * `<subjectToken>!~q!<ISO time>!<inquiryId>` → Inquiry (protobuf, base64).
 *
 * toISOString() has a fixed width for years 0–9999, so a range scan returns a
 * subject's inquiries oldest first. Re-adding an inquiry (same id and time)
 * overwrites it rather than logging it twice.
 */
export class LevelInquiryStore implements InquiryStore, InquiryPurge {
  constructor(private readonly db: NodeDatabase) {}

  async add(subjectToken: string, inquiry: Inquiry, opts: InquiryWrite = {}): Promise<void> {
    const { also, commit = (batch) => this.db.write(opsOf(batch)) } = opts;
    const token = keyPart("subject_token", subjectToken);
    const id = keyPart("inquiry_id", inquiry.inquiryId);
    const at = inquiry.inquiredAt;
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
      throw new CreditMeshError("VALIDATION_FAILED", "inquired_at: must be a valid time", { field: "inquired_at" });
    }
    await commit(toBatch([
      {
        type: "put",
        sublevel: this.db.levels.subj,
        key: inquiryKey(token, at.toISOString() + SEP + id),
        value: Buffer.from(Inquiry.encode(inquiry).finish()).toString("base64"),
      },
      ...opsOf(also),
    ]));
  }

  /** Oldest first. */
  async listForSubject(subjectToken: string): Promise<Inquiry[]> {
    const entries = await this.db.entries(this.db.levels.subj, subjectInquiries(keyPart("subject_token", subjectToken)));
    return entries.map(([key, value]) => decodeInquiry(key, value));
  }

  /**
   * Deletes every inquiry logged before `before` (an ISO time), for the
   * retention sweep: reads the subject index's keys only, deletes in batches
   * of `batchSize`, and stops at a batch boundary once `halted()` says so.
   * Inquiries logged meanwhile are newer than any cutoff, so none of them
   * goes. Returns how many went.
   */
  async purgeBefore(before: string, opts: { batchSize?: number; halted?: () => boolean } = {}): Promise<number> {
    const level = this.db.levels.subj;
    const marker = SEP + SUBJECT_INQUIRIES + SEP;
    const batchSize = opts.batchSize ?? MOVE_BATCH;
    let ops: WriteOp[] = [];
    let purged = 0;
    const flush = async () => {
      if (ops.length === 0) return;
      await this.db.write(ops);
      purged += ops.length;
      ops = [];
    };
    for await (const key of level.keys()) {
      const at = key.indexOf(marker);
      if (at < 0) continue;
      const start = at + marker.length;
      if (key.slice(start, key.indexOf(SEP, start)) >= before) continue;
      ops.push({ type: "del", sublevel: level, key });
      if (ops.length >= batchSize) {
        await flush();
        if (opts.halted?.()) return purged;
      }
    }
    await flush();
    return purged;
  }

  /** The deletes that destroy a subject's whole inquiry log, for a caller's batch. */
  async destroyOps(subjectToken: string): Promise<WriteOp[]> {
    const keys = await this.db.levels.subj.keys(subjectInquiries(keyPart("subject_token", subjectToken))).all();
    return keys.map((key) => ({ type: "del", sublevel: this.db.levels.subj, key }));
  }

  /** The writes that move a subject's inquiry log to its new token (a token migration), and how many entries that is. */
  async reindexOps(earlier: string, current: string): Promise<{ ops: WriteOp[]; inquiries: number }> {
    const level = this.db.levels.subj;
    const from = keyPart("subject_token", earlier);
    const to = keyPart("subject_token", current);
    const entries = await this.db.entries(level, subjectInquiries(from));
    const ops: WriteOp[] = entries.flatMap(([key, value]): WriteOp[] => [
      { type: "put", sublevel: level, key: to + key.slice(from.length), value },
      { type: "del", sublevel: level, key },
    ]);
    return { ops, inquiries: entries.length };
  }

  /**
   * Moves inquiries logged in the earlier layout (the `inq` sublevel, keyed
   * `<subjectToken>!<ISO time>!<inquiryId>`) into the subject index. Each
   * batch writes the new entries and deletes the old ones atomically, so an
   * interrupted move resumes at the next open. Returns how many moved.
   */
  async moveEarlierLog(logger?: Logger): Promise<number> {
    const { inq } = this.db.levels;
    let moved = 0;
    for (;;) {
      const entries = await inq.iterator({ limit: MOVE_BATCH }).all();
      if (entries.length === 0) break;
      const ops: WriteOp[] = [];
      for (const [key, bytes] of entries) {
        const sep = key.indexOf(SEP);
        ops.push({ type: "put", sublevel: this.db.levels.subj, key: inquiryKey(key.slice(0, sep), key.slice(sep + 1)), value: Buffer.from(bytes).toString("base64") });
        ops.push({ type: "del", sublevel: inq, key });
      }
      await this.db.write(ops);
      moved += entries.length;
    }
    if (moved > 0) logger?.info({ moved }, "inquiry log moved into the subject index");
    return moved;
  }
}

function inquiryKey(token: string, rest: string): string {
  return token + SEP + SUBJECT_INQUIRIES + SEP + rest;
}

/** An inquiry entry of the subject index. */
export function decodeInquiry(key: string, base64: string): Inquiry {
  return decodeStored("inquiry", key, Buffer.from(base64, "base64"), (b) => Inquiry.decode(b));
}
