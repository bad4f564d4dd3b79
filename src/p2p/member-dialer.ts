import type { Logger } from "../logger.js";
import type { Membership, MembershipChange } from "../identity/manifest.js";
import { Backoff } from "./backoff.js";
import { rankMembers } from "./member-rank.js";

interface PeerDialState {
  backoff: Backoff;
  nextAt: number;
  dialing: boolean;
}

export interface MemberDialerOptions {
  selfPeerId: string;
  membership: Membership;
  isConnected(peerId: string): boolean;
  /** Every peer with an open connection; when given, a tick asks this once instead of isConnected() per member. */
  connectedPeers?(): Iterable<string>;
  dial(peerId: string, signal: AbortSignal): Promise<void>;
  logger: Logger;
  intervalMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /**
   * Members kept connected at all times: the first `keep` of rankMembers()
   * (default: every member). The others are dialed on demand by whoever
   * needs them (RpcClient) and closed again once idle: a full mesh of n
   * members is n(n-1)/2 connections, each with its gossip heartbeat work.
   */
  keep?: number;
  /** An on-demand connection this node dialed is closed after this long without a request (0: never). */
  idleCloseMs?: number;
  /** When this node last sent a request to the peer (ms since epoch), if ever. */
  lastUsed?(peerId: string): number | undefined;
  /** Closes this node's outbound connections to a peer it does not keep (inbound ones are the dialer's to close). */
  closeIdle?(peerId: string): Promise<boolean>;
}

/**
 * Keeps a connection up to every other member it keeps (all of them, or a
 * stable pseudo-random subset of `keep`): checks on an interval, redials a
 * lost one with capped backoff, reacts at once to manifest changes, and
 * closes on-demand connections to the others once they are idle.
 */
export class MemberDialer {
  readonly #opts: MemberDialerOptions;
  readonly #peers = new Map<string, PeerDialState>();
  #timer: NodeJS.Timeout | undefined;
  #abort: AbortController | undefined;
  #kept: Set<string> | undefined;
  readonly #seen = new Map<string, number>();

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
    this.#seen.clear();
  }

  /** The members this node keeps connected (recomputed when the manifest changes). */
  kept(): Set<string> {
    if (this.#kept === undefined) {
      const others = this.#opts.membership.members().map((m) => m.peerId).filter((id) => id !== this.#opts.selfPeerId);
      const keep = this.#opts.keep ?? Infinity;
      this.#kept = new Set(keep >= others.length ? others : rankMembers(this.#opts.selfPeerId, others).slice(0, keep));
    }
    return this.#kept;
  }

  membersChanged(change: MembershipChange): void {
    this.#kept = undefined;
    for (const m of change.removed) this.#peers.delete(m.peerId);
    for (const m of change.added) this.#peers.delete(m.peerId);
    if (this.#timer !== undefined) queueMicrotask(() => this.#tick());
  }

  #tick(): void {
    const signal = this.#abort?.signal;
    if (signal === undefined || signal.aborted) return;
    const now = Date.now();
    const kept = this.kept();
    // One look at the connections per tick: asking per member is O(members) lookups on every node every tick.
    const open = this.#opts.connectedPeers ? new Set(this.#opts.connectedPeers()) : undefined;
    const isConnected = (peerId: string) => (open ? open.has(peerId) : this.#opts.isConnected(peerId));
    for (const member of this.#opts.membership.members()) {
      const peerId = member.peerId;
      if (peerId === this.#opts.selfPeerId) continue;
      if (!kept.has(peerId)) {
        this.#closeIfIdle(peerId, now, isConnected(peerId));
        continue;
      }
      const state = this.#state(peerId, now);
      if (isConnected(peerId)) {
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

  #closeIfIdle(peerId: string, now: number, connected: boolean): void {
    const { idleCloseMs = 0, closeIdle, lastUsed } = this.#opts;
    if (idleCloseMs <= 0 || closeIdle === undefined || !connected) {
      this.#seen.delete(peerId);
      return;
    }
    // A connection nobody has used yet counts from when this dialer first saw it.
    const since = Math.max(lastUsed?.(peerId) ?? 0, this.#seen.get(peerId) ?? (this.#seen.set(peerId, now), now));
    if (now - since < idleCloseMs) return;
    this.#seen.delete(peerId);
    closeIdle(peerId).then(
      (closed) => closed && this.#opts.logger.debug({ peer_id: peerId }, "closed an idle connection to a member"),
      (err: unknown) => this.#opts.logger.debug({ peer_id: peerId, err: String(err) }, "closing an idle connection failed"),
    );
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
