/**
 * Runs tasks one after another. Read-modify-write sequences (counters, index
 * moves) must not interleave, or two writers that read the same state would
 * both apply their change to it and one change would be lost.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // A failed task must not block the ones queued after it.
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Like SerialQueue, but per key: tasks on different keys run concurrently.
 * The map only holds keys with work in flight, so it stays small.
 */
export class KeyedSerialQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
