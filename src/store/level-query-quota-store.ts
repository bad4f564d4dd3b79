import type { NodeDatabase, WriteOp } from "./database.js";
import { keyPart, SEP, under } from "./keys.js";
import type { QueryQuotaCount, QueryQuotaStore, WriteBatch } from "./types.js";
import { toBatch } from "./write-batch.js";

/** Keys deleted per batch by a sweep. */
const SWEEP_BATCH = 1000;

/**
 * The holder's per-subject query counts (`qquota!<day>!<member>!<subject>` →
 * count), durable so that a restart does not hand every member a fresh day.
 * The day leads the key, so a day's counts are one range and the days before
 * it are swept with one key scan. A count is written in the batch that logs
 * the query (countWrite), never on its own.
 */
export class LevelQueryQuotaStore implements QueryQuotaStore {
  constructor(private readonly db: NodeDatabase) {}

  async countsOf(day: string): Promise<QueryQuotaCount[]> {
    const prefix = keyPart("day", day) + SEP;
    const counts: QueryQuotaCount[] = [];
    for (const [key, value] of await this.db.entries(this.db.levels.qquota, under(day))) {
      const rest = key.slice(prefix.length);
      const sep = rest.indexOf(SEP);
      const count = Number(value);
      // A key or value this store did not write is skipped rather than trusted.
      if (sep <= 0 || !Number.isSafeInteger(count) || count < 0) continue;
      counts.push({ member: rest.slice(0, sep), subject: rest.slice(sep + 1), count });
    }
    return counts;
  }

  countWrite(day: string, member: string, subject: string, count: number): WriteBatch {
    // The subject is the key's last part, so it may hold anything; the member may not hold a separator.
    const key = keyPart("day", day) + SEP + keyPart("member", member) + SEP + subject;
    return toBatch([{ type: "put", sublevel: this.db.levels.qquota, key, value: String(count) }]);
  }

  /**
   * The deletes of every count about `subjectToken`, for a purge's batch. The
   * subject is the key's last part, so this reads the sublevel's keys: one
   * day's worth at most, since earlier days are swept.
   */
  async destroyOps(subjectToken: string): Promise<WriteOp[]> {
    const level = this.db.levels.qquota;
    const ops: WriteOp[] = [];
    for await (const key of level.keys()) {
      const first = key.indexOf(SEP);
      const second = first < 0 ? -1 : key.indexOf(SEP, first + 1);
      if (second >= 0 && key.slice(second + 1) === subjectToken) ops.push({ type: "del", sublevel: level, key });
    }
    return ops;
  }

  async sweepBefore(day: string): Promise<number> {
    const level = this.db.levels.qquota;
    let swept = 0;
    let ops: WriteOp[] = [];
    for await (const key of level.keys({ lt: day })) {
      ops.push({ type: "del", sublevel: level, key });
      if (ops.length >= SWEEP_BATCH) {
        await this.db.write(ops, { sync: false });
        swept += ops.length;
        ops = [];
      }
    }
    if (ops.length > 0) await this.db.write(ops, { sync: false });
    return swept + ops.length;
  }
}
