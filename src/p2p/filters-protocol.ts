import { CreditMeshError, invalid } from "../errors.js";
import type { FilterBuilder } from "../filters/builder.js";
import { FilterFetchRequest, FilterFetchResponse } from "../gen/creditmesh/v1/filters.js";
import type { FilterInbox, InboxResult } from "../report/filter-inbox.js";
import type { RateLimiter } from "../rate-limit.js";
import { Backoff } from "./backoff.js";
import type { PeerComponents } from "./components.js";
import { FILTERS_PROTOCOL } from "./protocols.js";
import { RpcRemoteError } from "./rpc-client.js";
import { RpcProtocol, type RpcProtocolInit } from "./rpc-protocol.js";

export type FiltersComponents = Pick<PeerComponents, "peer" | "rpc" | "membership" | "signer" | "logger"> & {
  /** The holder's side; absent when this node publishes no filter (it answers UNAVAILABLE). */
  builder?: Pick<FilterBuilder, "answerFetch">;
  /** The requester's side: verifies and records what members publish, and says what is still missing. */
  inbox: Pick<FilterInbox, "fetchResponse" | "wanted">;
  /** Fetches per second each peer may make (`p2p.rateLimits.filters`): a full filter is megabytes, asked for with a few bytes. */
  rateLimiter?: RateLimiter;
};

/** How background fetches are spread out: every member's filter is fetched from that member, most over a connection dialed for it. */
export interface FilterFetchPolicy {
  /** Fetches in flight at once (each may dial a member this node does not keep connected). */
  concurrency: number;
  /** First wait before fetching again from a member whose fetch failed; doubles (with jitter) up to `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
}

export const DEFAULT_FILTER_FETCH_POLICY: FilterFetchPolicy = { concurrency: 4, retryInitialMs: 1_000, retryMaxMs: 60_000 };

/**
 * /creditmesh/filters, both ends. Holder: answers a fetch with its current
 * signed announcement, the full filter when asked (or when the requester's
 * epoch is not current) and the fewest signed deltas after a position.
 * Requester: `fetch(institutionId)` asks a member and hands the answer to the
 * inbox, which verifies everything before recording anything. What is
 * missing is fetched in the background (`pull`): after an announcement of a
 * new epoch, a delta gap, a delta from a member never heard from, and on
 * (re)connecting to a member whose filters are incomplete, so a node that
 * joined after the member's announcement need not wait for the next one.
 *
 * The request is not signed: it asks for nothing private to the requester,
 * the gater admits only members, and every part of the answer is signed by
 * its holder.
 */
export class FiltersProtocol extends RpcProtocol {
  readonly protocol = FILTERS_PROTOCOL;
  #stopConnect: (() => void) | undefined;
  readonly #policy: FilterFetchPolicy;
  /** Members waiting for a fetch slot, in order; a member is here, in flight, or waiting to retry, at most once. */
  readonly #queue = new Set<string>();
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #retry = new Map<string, { backoff: Backoff; timer?: NodeJS.Timeout }>();
  #running = false;

  constructor(
    private readonly c: FiltersComponents,
    init: RpcProtocolInit & { fetch?: Partial<FilterFetchPolicy> },
  ) {
    super(c, init);
    this.#policy = { ...DEFAULT_FILTER_FETCH_POLICY, ...init.fetch };
  }

  override async start(): Promise<void> {
    await super.start();
    this.#running = true;
    // A member met again may have announced while this node could not hear it; one whose filters are complete costs nothing.
    this.#stopConnect ??= this.c.peer.onPeerConnect((peerId) => {
      const member = this.c.membership.byPeerId(peerId);
      if (member) this.pull(member.institutionId);
    });
  }

  override async stop(): Promise<void> {
    this.#running = false;
    this.#stopConnect?.();
    this.#stopConnect = undefined;
    this.#queue.clear();
    for (const r of this.#retry.values()) clearTimeout(r.timer);
    this.#retry.clear();
    await Promise.allSettled([...this.#inFlight.values()]);
    await super.stop();
  }

  async handleMessage(body: Uint8Array, from: { peerId: string }): Promise<Uint8Array> {
    const req = this.openUnsigned(body, "filter fetch request", (b) => FilterFetchRequest.decode(b), { limiter: this.c.rateLimiter, key: from.peerId });
    const builder = this.c.builder;
    if (builder === undefined) throw new CreditMeshError("UNAVAILABLE", "this member publishes no filter");
    const epoch = Number(req.epoch);
    if (!Number.isSafeInteger(epoch)) throw invalid("epoch", "must be an integer below 2^53");
    const answer = builder.answerFetch({ epoch, includeFilter: req.includeFilter, deltasAfter: Number(req.deltasAfter) });
    return FilterFetchResponse.encode({ announcement: answer.announcement, filter: Buffer.from(answer.filter ?? new Uint8Array(0)), deltas: answer.deltas }).finish();
  }

  /** Fetches from a member and records the answer; resolves with what the inbox still wants from it, if anything. */
  async fetch(institutionId: string, position: NonNullable<InboxResult["fetch"]> = { epoch: 0, includeFilter: true, deltasAfter: 0 }, signal?: AbortSignal): Promise<InboxResult> {
    const member = this.c.membership.byInstitution(institutionId);
    if (member === undefined) throw new CreditMeshError("MEMBERSHIP_DENIED", `${institutionId} is not a member`, { field: "institution_id" });
    const body = FilterFetchRequest.encode({
      epoch: String(position.epoch),
      includeFilter: position.includeFilter,
      deltasAfter: String(position.deltasAfter),
    }).finish();
    const bytes = await this.request(member.peerId, body, signal ?? AbortSignal.timeout(this.limits.handlerTimeoutMs * 2));
    return this.c.inbox.fetchResponse(institutionId, bytes);
  }

  /**
   * Fetches in the background what the inbox still lacks from a member, if
   * anything: at most `concurrency` fetches at once over all members, one
   * per member; a failed fetch is tried again after a capped, jittered
   * backoff for as long as something is missing (routing fails open
   * meanwhile). A whole network announcing at once thus costs each node a
   * steady trickle of dials instead of one per member in the same instant.
   */
  pull(institutionId: string): void {
    if (!this.#running || this.#queue.has(institutionId) || this.#inFlight.has(institutionId)) return;
    const retry = this.#retry.get(institutionId);
    if (retry?.timer !== undefined) return;
    if (this.c.inbox.wanted(institutionId) === undefined) return;
    this.#queue.add(institutionId);
    this.#drain();
  }

  /** Members queued, in flight or waiting to retry (for tests and metrics). */
  get pending(): number {
    return this.#queue.size + this.#inFlight.size + [...this.#retry.values()].filter((r) => r.timer !== undefined).length;
  }

  #drain(): void {
    while (this.#running && this.#inFlight.size < this.#policy.concurrency && this.#queue.size > 0) {
      const institutionId = this.#queue.values().next().value as string;
      this.#queue.delete(institutionId);
      const position = this.c.inbox.wanted(institutionId);
      if (position === undefined) continue;
      const run = this.fetch(institutionId, position)
        .then(
          (): "done" | "refused" | "failed" => "done",
          (err: unknown) => {
            this.log.debug({ member: institutionId, err: (err as Error).message }, "filter fetch failed");
            // A member that publishes no filter is not asked again soon; a dial or a stream that failed is.
            return err instanceof RpcRemoteError && err.remoteCode === "UNAVAILABLE" ? "refused" : "failed";
          },
        )
        .then((outcome) => {
          this.#inFlight.delete(institutionId);
          // An answer can leave something missing (a delta published meanwhile): that too waits its turn.
          if (outcome === "done" && this.c.inbox.wanted(institutionId) === undefined) this.#retry.delete(institutionId);
          else this.#retryLater(institutionId, outcome === "refused");
          this.#drain();
        });
      this.#inFlight.set(institutionId, run);
    }
  }

  #retryLater(institutionId: string, refused: boolean): void {
    if (!this.#running) return;
    let retry = this.#retry.get(institutionId);
    if (retry === undefined) {
      retry = { backoff: new Backoff({ initialMs: this.#policy.retryInitialMs, maxMs: this.#policy.retryMaxMs }) };
      this.#retry.set(institutionId, retry);
    }
    const delay = refused ? this.#policy.retryMaxMs : retry.backoff.next();
    const state = retry;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.pull(institutionId);
    }, delay);
    state.timer.unref();
  }
}
