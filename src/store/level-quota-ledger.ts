import { CreditMeshError } from "../errors.js";
import type { QuotaLedger } from "../subject/oprf/evaluator-service.js";
import type { NodeDatabase } from "./database.js";

/**
 * The evaluator's quota counters (`tquota!<key>` → count), durable so that a
 * restart does not hand every requester a fresh day. LevelDB has no
 * compare-and-set: consumes of one key are chained in memory, so two
 * concurrent requests can never both fit in the room left for one.
 */
export class LevelQuotaLedger implements QuotaLedger {
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(private readonly db: NodeDatabase) {}

  consume(key: string, count: number, limit: number): Promise<boolean> {
    if (key.length === 0) throw new CreditMeshError("VALIDATION_FAILED", "quota key: must not be empty", { field: "key" });
    if (!Number.isInteger(count) || count < 0) throw new CreditMeshError("VALIDATION_FAILED", "count: must be a non-negative integer", { field: "count" });
    const run = (this.tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => this.consumeNow(key, count, limit));
    this.tails.set(key, run);
    const forget = () => {
      if (this.tails.get(key) === run) this.tails.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  /** What was consumed under `key` so far (0 when nothing). */
  async used(key: string): Promise<number> {
    const v = await this.db.levels.tquota.get(key);
    return v === undefined ? 0 : Number(v);
  }

  private async consumeNow(key: string, count: number, limit: number): Promise<boolean> {
    const used = await this.used(key);
    if (used + count > limit) return false;
    await this.db.write([{ type: "put", sublevel: this.db.levels.tquota, key, value: String(used + count) }]);
    return true;
  }
}
