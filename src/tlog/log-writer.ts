import type { Logger } from "../logger.js";
import { parseCheckpoint } from "./checkpoint.js";
import type { NoteSigner } from "./note.js";
import type { TiledLog } from "./tiled-log.js";

/** Entries per synced batch, at most. */
export const APPEND_BATCH = 1000;

interface Pending {
  entries: readonly Uint8Array[];
  resolve: (first: number) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit in front of a TiledLog: entries added while an append is on
 * its way to disk go together in the next one (up to APPEND_BATCH), so a busy
 * holder pays one fsync per batch rather than per event, and an idle one
 * waits for one fsync only. add() resolves with the first entry's index once
 * its batch is durable.
 */
export class LogWriter {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(private readonly log: TiledLog) {}

  add(entries: readonly Uint8Array[]): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ entries, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        // Whole adds only: one caller's entries stay contiguous (a record's leaves, a query's pair).
        const group: Pending[] = [];
        let count = 0;
        while (this.queue.length > 0 && (group.length === 0 || count + this.queue[0]!.entries.length <= APPEND_BATCH)) {
          const next = this.queue.shift()!;
          group.push(next);
          count += next.entries.length;
        }
        try {
          const { first } = await this.log.append(group.flatMap((p) => p.entries));
          let at = first;
          for (const p of group) {
            p.resolve(at);
            at += p.entries.length;
          }
        } catch (err) {
          for (const p of group) p.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

/**
 * Signs and stores a checkpoint every `intervalMs` when the log grew since
 * the last one. TiledLog only ever signs committed sizes, so a published
 * checkpoint never covers an entry that is not on disk.
 */
export class CheckpointPublisher {
  private timer?: NodeJS.Timeout;
  private publishedSize = -1;
  private running?: Promise<unknown>;

  constructor(
    private readonly opts: { origin: string; intervalMs: number },
    private readonly modules: {
      log: TiledLog;
      signer: NoteSigner;
      logger?: Logger;
      onPublished?: (note: string) => void;
      /** Appends what is waiting (deferred leaves) so the checkpoint covers it. */
      beforePublish?: () => Promise<void>;
    },
  ) {}

  /** Publishes now if the log grew; resolves with the new note, or undefined when there was nothing new. */
  async publishIfGrown(): Promise<string | undefined> {
    const { log, signer, onPublished, beforePublish } = this.modules;
    await beforePublish?.();
    if (log.size === this.publishedSize) return undefined;
    const note = await log.publishCheckpoint(this.opts.origin, signer);
    // The size signed, which appends queued ahead of the signature may have raised.
    this.publishedSize = parseCheckpoint(note.slice(0, note.indexOf("\n\n") + 1)).size;
    onPublished?.(note);
    return note;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.publishIfGrown()
        .catch((err: unknown) => this.modules.logger?.error({ err }, "publishing a log checkpoint failed"))
        .finally(() => (this.running = undefined));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
