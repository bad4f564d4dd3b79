import type { Stream } from "@libp2p/interface";

/** A batch stays under one noise message (65,519 bytes of payload), so it is sent and read in one piece. */
const MAX_BATCH_BYTES = 64 * 1024;

/**
 * Sends the frames queued for one stream in the same turn of the event loop
 * as one stream message: one yamux frame, one noise message, one socket write
 * and one message event at the other end. Under load, the requests of many
 * concurrent reports, and the answers one group commit releases together,
 * share the libp2p stack's per-message cost; a lone frame leaves at the end
 * of the turn it was queued in.
 */
export class FrameBatcher {
  readonly #stream: Stream;
  #frames: Uint8Array[] = [];
  #onFailed: (((err: Error) => void) | undefined)[] = [];
  #bytes = 0;
  #scheduled = false;

  constructor(stream: Stream) {
    this.#stream = stream;
  }

  /** Queues a frame; `onFailed` learns if the stream refused the batch it went out in. */
  push(frame: Uint8Array, onFailed?: (err: Error) => void): void {
    if (this.#bytes > 0 && this.#bytes + frame.length > MAX_BATCH_BYTES) this.flush();
    this.#frames.push(frame);
    this.#onFailed.push(onFailed);
    this.#bytes += frame.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
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
      this.#stream.send(frames.length === 1 ? frames[0] : Buffer.concat(frames, bytes));
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
