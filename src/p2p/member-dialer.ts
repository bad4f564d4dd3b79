import type { Logger } from "../logger.js";
import type { Membership, MembershipChange } from "../identity/manifest.js";
import { Backoff } from "./backoff.js";

interface PeerDialState {
  backoff: Backoff;
  nextAt: number;
  dialing: boolean;
}

export interface MemberDialerOptions {
  selfPeerId: string;
  membership: Membership;
  isConnected(peerId: string): boolean;
  dial(peerId: string, signal: AbortSignal): Promise<void>;
  logger: Logger;
  intervalMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * Keeps a connection up to every other member: checks on an interval, redials
 * a lost member with capped backoff, and reacts at once to manifest changes.
 */
export class MemberDialer {
  readonly #opts: MemberDialerOptions;
  readonly #peers = new Map<string, PeerDialState>();
  #timer: NodeJS.Timeout | undefined;
  #abort: AbortController | undefined;

  constructor(opts: MemberDialerOptions) {
    this.#opts = opts;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#abort = new AbortController();
    this.#timer = setInterval(() => this.#tick(), this.#opts.intervalMs);
    this.#timer.unref();
    queueMicrotask(() => this.#tick());
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort(new Error("member dialer stopped"));
    this.#abort = undefined;
    this.#peers.clear();
  }

  membersChanged(change: MembershipChange): void {
    for (const m of change.removed) this.#peers.delete(m.peerId);
    for (const m of change.added) this.#peers.delete(m.peerId);
    if (this.#timer !== undefined) queueMicrotask(() => this.#tick());
  }

  #tick(): void {
    const signal = this.#abort?.signal;
    if (signal === undefined || signal.aborted) return;
    const now = Date.now();
    for (const member of this.#opts.membership.members()) {
      const peerId = member.peerId;
      if (peerId === this.#opts.selfPeerId) continue;
      const state = this.#state(peerId, now);
      if (this.#opts.isConnected(peerId)) {
        state.backoff.reset();
        state.nextAt = now;
        continue;
      }
      if (state.dialing || now < state.nextAt) continue;
      state.dialing = true;
      this.#opts
        .dial(peerId, signal)
        .then(
          () => {
            state.backoff.reset();
            state.nextAt = Date.now();
            this.#opts.logger.debug({ peer_id: peerId }, "connected to member");
          },
          (err: unknown) => {
            const delay = state.backoff.next();
            state.nextAt = Date.now() + delay;
            if (!signal.aborted) {
              this.#opts.logger.debug({ peer_id: peerId, retry_ms: delay, err: String(err) }, "member dial failed");
            }
          },
        )
        .finally(() => {
          state.dialing = false;
        });
    }
  }

  #state(peerId: string, now: number): PeerDialState {
    let state = this.#peers.get(peerId);
    if (state === undefined) {
      // When two members dial each other at once they end up with two
      // connections; letting the smaller peer id go first avoids that.
      const defer = this.#opts.selfPeerId > peerId ? this.#opts.intervalMs : 0;
      state = {
        backoff: new Backoff({ initialMs: this.#opts.initialBackoffMs, maxMs: this.#opts.maxBackoffMs }),
        nextAt: now + defer,
        dialing: false,
      };
      this.#peers.set(peerId, state);
    }
    return state;
  }
}
