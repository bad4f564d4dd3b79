import { Inquiry } from "../gen/creditmesh/v1/report.js";
import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import { decodeStored } from "./codec.js";
import { DeleteBatches } from "./delete-batches.js";
import type { NodeDatabase, WriteOp } from "./database.js";
import { opsOf, toBatch } from "./write-batch.js";
import { keyPart, MetaKey, SEP, SUBJECT_INQUIRIES, SUBJECT_INQUIRY_WINDOW, subjectInquiries, subjectWindow } from "./keys.js";
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
 *
 * Each inquiry also replaces the entry of its requester, purpose and day in
 * the window index (`<subjectToken>!#w!<day>!<requester>!<purpose>`, same
 * batch), which is what a holder reads to answer: one entry per requester,
 * purpose and day, however many queries were logged.
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
    const value = Buffer.from(Inquiry.encode(inquiry).finish()).toString("base64");
    const subj = this.db.levels.subj;
    await commit(toBatch([
      { type: "put", sublevel: subj, key: inquiryKey(token, at.toISOString() + SEP + id), value },
      { type: "put", sublevel: subj, key: windowKey(token, inquiry), value },
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
   * goes. Returns how many went (window index entries go too, uncounted).
   */
  async purgeBefore(before: string, opts: { batchSize?: number; halted?: () => boolean } = {}): Promise<number> {
    const level = this.db.levels.subj;
    const marker = SEP + SUBJECT_INQUIRIES + SEP;
    const windowMarker = SEP + SUBJECT_INQUIRY_WINDOW + SEP;
    // Window entries are per day: one goes once its whole day is before the cutoff, at most a day after its inquiries.
    const beforeDay = before.slice(0, 10);
    const deletes = new DeleteBatches(this.db, { batchSize: opts.batchSize ?? MOVE_BATCH, halted: opts.halted });
    for await (const key of level.keys()) {
      const at = key.indexOf(marker);
      const w = at < 0 ? key.indexOf(windowMarker) : -1;
      if (at < 0 && w < 0) continue;
      const start = at >= 0 ? at + marker.length : w + windowMarker.length;
      if (key.slice(start, key.indexOf(SEP, start)) >= (at >= 0 ? before : beforeDay)) continue;
      if (await deletes.add([{ type: "del", sublevel: level, key }], at >= 0)) break;
    }
    return deletes.finish();
  }

  /** The deletes that destroy a subject's whole inquiry log and its window index, for a caller's batch; `inquiries` counts the log's. */
  async destroyOps(subjectToken: string): Promise<{ ops: WriteOp[]; inquiries: number }> {
    const token = keyPart("subject_token", subjectToken);
    const [logged, window] = await Promise.all([this.db.levels.subj.keys(subjectInquiries(token)).all(), this.db.levels.subj.keys(subjectWindow(token)).all()]);
    const subj = this.db.levels.subj;
    return { ops: [...logged, ...window].map((key) => ({ type: "del", sublevel: subj, key })), inquiries: logged.length };
  }

  /**
   * Files every logged inquiry in the window index, once, for a database
   * written before the index existed (marked done in meta). Later entries of
   * a requester, purpose and day overwrite earlier ones, as add() does.
   * Returns how many inquiries were filed. `rebuild` files them again even if
   * marked done, and first drops every entry there is: a node of an earlier
   * schema may have logged inquiries without their entries, or purged
   * inquiries and left theirs.
   */
  async buildWindowIndex(logger?: Logger, opts: { rebuild?: boolean } = {}): Promise<number> {
    const { meta, subj } = this.db.levels;
    if (!opts.rebuild && (await meta.get(MetaKey.inquiryWindowIndex)) !== undefined) return 0;
    const marker = SEP + SUBJECT_INQUIRIES + SEP;
    const window = SUBJECT_INQUIRY_WINDOW + SEP;
    let ops: WriteOp[] = [];
    let filed = 0;
    // A subject's window entries ("#w") sort before its inquiries ("~q"): each is dropped before it is filed again.
    for await (const [key, value] of subj.iterator()) {
      const at = key.indexOf(marker);
      if (at < 0) {
        if (opts.rebuild && key.startsWith(window, key.indexOf(SEP) + 1)) ops.push({ type: "del", sublevel: subj, key });
        continue;
      }
      const indexKey = earlierWindowKey(key.slice(0, at), key, value);
      if (indexKey) {
        ops.push({ type: "put", sublevel: subj, key: indexKey, value });
        filed++;
      }
      if (ops.length >= MOVE_BATCH) {
        await this.db.write(ops);
        ops = [];
      }
    }
    await this.db.write([...ops, { type: "put", sublevel: meta, key: MetaKey.inquiryWindowIndex, value: "1" }]);
    if (filed > 0) logger?.info({ filed }, "inquiry log filed in the window index");
    return filed;
  }

  /** The writes that move a subject's inquiry log to its new token (a token migration), and how many entries that is. */
  async reindexOps(earlier: string, current: string): Promise<{ ops: WriteOp[]; inquiries: number }> {
    const level = this.db.levels.subj;
    const from = keyPart("subject_token", earlier);
    const to = keyPart("subject_token", current);
    const entries = await this.db.entries(level, subjectInquiries(from));
    // The window index moves with the log, so the re-indexed subject's answers still show its inquiries.
    const window = await this.db.entries(level, subjectWindow(from));
    const ops: WriteOp[] = [...entries, ...window].flatMap(([key, value]): WriteOp[] => [
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
        const token = key.slice(0, sep);
        const value = Buffer.from(bytes).toString("base64");
        ops.push({ type: "put", sublevel: this.db.levels.subj, key: inquiryKey(token, key.slice(sep + 1)), value });
        const filed = earlierWindowKey(token, key, value);
        if (filed) ops.push({ type: "put", sublevel: this.db.levels.subj, key: filed, value });
        ops.push({ type: "del", sublevel: inq, key });
      }
      await this.db.write(ops);
      moved += entries.length;
    }
    if (moved > 0) logger?.info({ moved }, "inquiry log moved into the subject index");
    return moved;
  }
}

/** The window index key of an inquiry: its day, requester and purpose. */
function windowKey(token: string, inquiry: Inquiry): string {
  const day = inquiry.inquiredAt!.toISOString().slice(0, 10);
  return token + SEP + SUBJECT_INQUIRY_WINDOW + SEP + day + SEP + keyPart("requester_institution_id", inquiry.requesterInstitutionId) + SEP + inquiry.purpose;
}

/** The window index key of an inquiry logged earlier, or undefined for one the index cannot file (kept in the log as it is). */
function earlierWindowKey(token: string, key: string, base64: string): string | undefined {
  try {
    const inquiry = decodeInquiry(key, base64);
    return inquiry.inquiredAt && !Number.isNaN(inquiry.inquiredAt.getTime()) ? windowKey(token, inquiry) : undefined;
  } catch {
    return undefined;
  }
}

function inquiryKey(token: string, rest: string): string {
  return token + SEP + SUBJECT_INQUIRIES + SEP + rest;
}

/** An inquiry entry of the subject index. */
export function decodeInquiry(key: string, base64: string): Inquiry {
  return decodeStored("inquiry", key, Buffer.from(base64, "base64"), (b) => Inquiry.decode(b));
}
