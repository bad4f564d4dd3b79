import type { Stream } from "@libp2p/interface";
import { stageNow, stageSpan, stageTraceEnabled } from "../stage-trace.js";

/** A batch stays under one noise message (65,519 bytes of payload), so it is sent and read in one piece. */
const MAX_BATCH_BYTES = 64 * 1024;

/**
 * Sends the frames queued for one stream in the same turn of the event loop
 * as one stream message: one yamux frame, one noise message, one socket write
 * and one message event at the other end. Under load, the requests of many
 * concurrent reports, and the answers one group commit releases together,
 * share the libp2p stack's per-message cost.
 *
 * When the stream's owner says it is not busy (nothing else in flight on it,
 * as for one sequential report), frames leave at the end of the current job
 * (a microtask) instead of the end of the turn: waiting for the turn to end
 * gains no company for the frame there, and costs the frame whatever else the
 * turn still runs (at a lender, everything its own holder starts for the
 * same report). The rule is Nagle's: hold back only while there is traffic.
 */
export class FrameBatcher {
  readonly #stream: Stream;
  #frames: Uint8Array[] = [];
  #onFailed: (((err: Error) => void) | undefined)[] = [];
  #bytes = 0;
  #scheduled = false;
  readonly #busy: () => boolean;
  readonly #flushScheduled = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** `busy`: whether other requests are in flight on the stream (default: always, so frames wait for the turn's end). */
  constructor(stream: Stream, opts: { busy?: () => boolean } = {}) {
    this.#stream = stream;
    this.#busy = opts.busy ?? (() => true);
  }

  /** Queues a frame; `onFailed` learns if the stream refused the batch it went out in. */
  push(frame: Uint8Array, onFailed?: (err: Error) => void): void {
    if (this.#bytes > 0 && this.#bytes + frame.length > MAX_BATCH_BYTES) this.flush();
    this.#frames.push(frame);
    this.#onFailed.push(onFailed);
    this.#bytes += frame.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      // A closure per batch only when stages are traced.
      let flush = this.#flushScheduled;
      if (stageTraceEnabled) {
        const t = stageNow();
        flush = () => {
          stageSpan("p2p.batcher").at("wait", t);
          this.#flushScheduled();
        };
      }
      if (this.#busy()) setImmediate(flush);
      else queueMicrotask(flush);
    }
  }

  /** Sends whatever is queued now. */
  flush(): void {
    if (this.#frames.length === 0) return;
    const frames = this.#frames;
    const onFailed = this.#onFailed;
    const bytes = this.#bytes;
    this.#frames = [];
    this.#onFailed = [];
    this.#bytes = 0;
    try {
      if (this.#stream.writeStatus !== "writable") throw new Error(`stream is ${this.#stream.writeStatus}`);
      const t = stageNow();
      this.#stream.send(frames.length === 1 ? frames[0] : Buffer.concat(frames, bytes));
      stageSpan("p2p.batcher").at("send", t);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const failed of onFailed) failed?.(error);
    }
  }

  /** Forgets what is queued (the stream is being torn down). */
  clear(): void {
    this.#frames = [];
    this.#onFailed = [];
    this.#bytes = 0;
  }
}
