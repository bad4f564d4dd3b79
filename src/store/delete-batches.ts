import type { NodeDatabase, WriteOp } from "./database.js";

/**
 * The deletes of a retention sweep, written in batches of about `batchSize`
 * operations, each batch one write. `add` says when the sweep should stop:
 * right after a batch was written, once `halted()` says so, so a stopped
 * sweep never leaves an item half deleted.
 */
export class DeleteBatches {
  #ops: WriteOp[] = [];
  #pending = 0;
  #done = 0;

  constructor(
    private readonly db: Pick<NodeDatabase, "write">,
    private readonly opts: { batchSize: number; halted?: () => boolean },
  ) {}

  /** Queues one item's deletes, counted as one item unless `counted` is false; true = stop here. */
  async add(ops: readonly WriteOp[], counted = true): Promise<boolean> {
    this.#ops.push(...ops);
    if (counted) this.#pending++;
    if (this.#ops.length < this.opts.batchSize) return false;
    await this.#flush();
    return this.opts.halted?.() ?? false;
  }

  /** Writes what is queued; returns how many counted items went in all. */
  async finish(): Promise<number> {
    await this.#flush();
    return this.#done;
  }

  async #flush(): Promise<void> {
    if (this.#ops.length === 0) return;
    await this.db.write(this.#ops);
    this.#done += this.#pending;
    this.#pending = 0;
    this.#ops = [];
  }
}
