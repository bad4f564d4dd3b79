import { FilterGossip } from "../gen/creditmesh/v1/filters.js";
import type { Logger } from "../logger.js";
import type { FilterLeaf } from "../tlog/leaves.js";
import type { FilterBuilder } from "./builder.js";
import type { FilterAction, FilterSchedule } from "./schedule.js";

export interface FilterPublisherModules {
  builder: FilterBuilder;
  schedule: FilterSchedule;
  /** Sends one FilterGossip message (encoded) on the filters topic; p2p/ implements it. */
  publish(message: Uint8Array): Promise<void>;
  logger: Logger;
  /** Appends a delta's leaf to the holder's transparency log (durable before the delta goes out); full filters are logged by the builder. */
  logFilter?: (leaf: FilterLeaf) => Promise<number>;
  /**
   * The last position of this node's revocation log, carried in each delta:
   * members that hear it pull only when they are behind, instead of asking
   * every member on a timer.
   */
  revocationHead?: () => Promise<number>;
}

/**
 * Runs the holder's side on its schedule: the full rebuild when due, a delta
 * every interval, and every `reannounceEvery` deltas the announcement again
 * (with the latest delta number), so members that joined or lost messages
 * since the rebuild learn the epoch. The timer is unref'd: it never keeps the
 * process alive. A failed step is logged and retried at the next tick; the
 * schedule only advances on success.
 */
export class FilterPublisher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<FilterAction | undefined>;
  private stopped = true;
  private abort?: AbortController;
  private deltasSinceAnnouncement = 0;

  constructor(
    private readonly opts: { reannounceEvery: number; /** Wait after a failed step; default 30 s. */ retryMs?: number },
    private readonly modules: FilterPublisherModules,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Cancels the timer, aborts a rebuild in progress and waits for the step to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    await this.running?.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick()
        .then(
          () => this.schedule(this.modules.schedule.delayMs()),
          (err: unknown) => {
            if (this.stopped) return; // stop() aborted the rebuild: nothing failed.
            this.modules.logger.error({ err: (err as Error).message }, "filter publication failed");
            // Not at once: a failing rebuild reads the whole index each time.
            this.schedule(this.opts.retryMs ?? 30_000);
          },
        );
    }, delayMs);
    this.timer.unref();
  }

  /** Does what is due now, if anything; concurrent calls share the step in progress. */
  tick(): Promise<FilterAction | undefined> {
    this.running ??= this.step().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async step(): Promise<FilterAction | undefined> {
    const { builder, schedule, publish, logger } = this.modules;
    const due = schedule.due();
    if (due === "REBUILD") {
      this.abort = new AbortController();
      const full = await builder.rebuild(this.abort.signal);
      schedule.rebuilt(full.startedAt);
      this.deltasSinceAnnouncement = 0;
      await publish(FilterGossip.encode({ kind: { $case: "announcement", value: full.signedAnnouncement } }).finish());
      logger.info({ epoch: full.announcement.epoch, count: full.announcement.count, bytes: full.filter.length }, "filter published");
      return due;
    }
    if (due === "DELTA") {
      const revocationHead = await this.modules.revocationHead?.();
      const delta = builder.issueDelta({ revocationHead });
      schedule.deltaIssued();
      await this.modules.logFilter?.(delta.leaf);
      await publish(FilterGossip.encode({ kind: { $case: "delta", value: delta.signed } }).finish());
      if (++this.deltasSinceAnnouncement >= this.opts.reannounceEvery) {
        this.deltasSinceAnnouncement = 0;
        await publish(FilterGossip.encode({ kind: { $case: "announcement", value: builder.reannounce() } }).finish());
      }
      return due;
    }
    return undefined;
  }
}
