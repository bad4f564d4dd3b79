import { CreditMeshError } from "../errors.js";
import type { NodeDatabase, WriteOp } from "./database.js";
import { opsOf, toBatch } from "./write-batch.js";
import { AFTER_SEP, keyPart, SEP } from "./keys.js";
import type { NonceClaim, NonceStore } from "./types.js";

const NONCE = "n";
const BY_EXPIRY = "x";
const PRUNE_BATCH = 1000;

/**
 * The replay window for signed peer requests.
 *
 * - `n!<requester>!<nonce>`            → ISO expiry
 * - `x!<ISO expiry>!<requester>!<nonce>` → "" (so prune reads only what expired)
 *
 * claim() checks and reserves a nonce synchronously and hands back the writes
 * that remember it, for the caller to commit in the batch that records what
 * the request did (a query's inquiry and audit entry): one synced write per
 * answered query, and the nonce is on disk exactly when its answer's record
 * is. LevelDB has no compare-and-set, so a claimed nonce is held in memory
 * until its writes are committed or given up; the database lock keeps other
 * processes out. A nonce still held after its expiry (prune not run yet)
 * counts as seen: such a request is stale anyway.
 */
export class LevelNonceStore implements NonceStore {
  /** Claimed nonces whose writes are not committed yet. */
  private readonly pending = new Set<string>();

  constructor(private readonly db: NodeDatabase) {}

  claim(requester: string, nonce: string, expiresAt: Date): NonceClaim | undefined {
    const key = keyPart("requester", requester) + SEP + keyPart("nonce", nonce);
    if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) {
      throw new CreditMeshError("VALIDATION_FAILED", "expires_at: must be a valid time", { field: "expires_at" });
    }
    const level = this.db.levels.nonce;
    // A point read of a recent key: served from memory, cheaper done in place
    // than on the thread pool (~5 µs instead of ~20 µs and two thread hand-offs).
    if (this.pending.has(key) || level.getSync(NONCE + SEP + key) !== undefined) return undefined;
    this.pending.add(key);
    const iso = expiresAt.toISOString();
    return {
      batch: toBatch([
        { type: "put", sublevel: level, key: NONCE + SEP + key, value: iso },
        { type: "put", sublevel: level, key: BY_EXPIRY + SEP + iso + SEP + key, value: "" },
      ]),
      settled: () => {
        this.pending.delete(key);
      },
    };
  }

  /**
   * claim() with a synced write of its own, for a caller with no batch to put
   * the nonce in. False if it was seen before (a replay), true if it is new.
   */
  async remember(requester: string, nonce: string, expiresAt: Date): Promise<boolean> {
    const claim = this.claim(requester, nonce, expiresAt);
    if (!claim) return false;
    try {
      await this.db.write(opsOf(claim.batch));
      return true;
    } finally {
      claim.settled();
    }
  }

  /** Forgets every nonce that expired at or before `now`; returns how many. */
  async prune(now: Date): Promise<number> {
    const level = this.db.levels.nonce;
    const range = { gt: BY_EXPIRY + SEP, lt: BY_EXPIRY + SEP + now.toISOString() + AFTER_SEP };
    let pruned = 0;
    for (;;) {
      const keys = await level.keys({ ...range, limit: PRUNE_BATCH }).all();
      if (keys.length === 0) return pruned;
      const ops: WriteOp[] = [];
      for (const k of keys) {
        // x!<iso>!<requester>!<nonce>: the nonce key is what follows the time.
        const afterTime = k.indexOf(SEP, BY_EXPIRY.length + 1) + 1;
        ops.push({ type: "del", sublevel: level, key: k });
        ops.push({ type: "del", sublevel: level, key: NONCE + SEP + k.slice(afterTime) });
      }
      // Forgetting is as harmless to lose as remembering (the next prune redoes it).
      await this.db.write(ops, { sync: false });
      pruned += keys.length;
      range.gt = keys[keys.length - 1];
    }
  }
}
