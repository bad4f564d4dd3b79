import { CreditMeshError } from "../errors.js";
import { Revocation } from "../gen/creditmesh/v1/consent.js";
import { RevocationsPage, RevocationsRequest, Signed } from "../gen/creditmesh/v1/peer.js";
import type { Membership } from "../identity/manifest.js";
import { verifyByPeerId } from "../identity/node-key.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { ConsentStore } from "../store/types.js";
import type { PeerService } from "./peer-node.js";
import { REVOCATIONS_PAGE_LIMIT } from "./protocols.js";

/**
 * Revocation catch-up. Gossip reaches only the members online when a consent
 * is revoked, so every node also keeps the revocations it issued in a log
 * (numbered 1, 2, … in its consent store) and serves them on
 * /creditmesh/revocations/1.0.0; every node pulls from each member what it
 * has not seen yet of that member's log, on every (re)connection to it and
 * periodically as a safety net. A holder that was down during the gossip
 * learns the revocation within seconds of reconnecting.
 *
 * With holder filters on, every member's signed delta also says where its
 * log ended (`heard`): a node behind it pulls at once, from a member it is
 * connected to or not, and a node level with it leaves that member out of
 * the periodic pull. In a large network the timer would otherwise ask every
 * connected member each interval, although nearly every pull finds nothing.
 */

export interface RevocationSyncModules {
  membership: Membership;
  consents: Pick<ConsentStore, "getRevocationCursor" | "putRevocationCursor">;
  /** Sends one request on the revocations protocol to `peerId`. */
  request(peerId: string, body: Uint8Array, signal: AbortSignal): Promise<Uint8Array>;
  /** Stores one signed revocation (the same checks and effects as a gossiped one). */
  apply(signed: Uint8Array): Promise<Revocation | undefined>;
  /** Calls `listener` with the peer id each time a connection to a new peer opens; returns the unsubscribe. */
  onConnect(listener: (peerId: string) => void): () => void;
  connectedPeers(): string[];
  logger: Logger;
  metrics: Metrics | null;
}

/** Delays before retrying a failed pull (the member may still be starting its services). */
const RETRY_DELAYS_MS = [500, 1_000, 2_000, 4_000];
const REQUEST_TIMEOUT_MS = 5_000;
/** Pages per pull; the periodic pull continues where a very long catch-up stopped. */
const MAX_PAGES_PER_PULL = 100;

/** The puller: one pull at a time per member, on connect, periodically and on demand. */
export class RevocationSync implements PeerService {
  readonly #opts: { selfPeerId: string; intervalMs: number };
  readonly #m: RevocationSyncModules;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  /** When the last pull from each member succeeded (this process's clock). */
  readonly #pulledAt = new Map<string, number>();
  /** Each member's cursor as stored, once read: every delta heard compares with it, and only this class writes it. */
  readonly #cursors = new Map<string, number>();
  /** When a member's signed delta last showed this node had all of its log (this process's clock, no later than the delta). */
  readonly #levelAt = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #unlisten: (() => void) | undefined;
  #abort = new AbortController();
  #running = false;

  constructor(opts: { selfPeerId: string; intervalMs: number }, modules: RevocationSyncModules) {
    this.#opts = opts;
    this.#m = modules;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    this.#unlisten = this.#m.onConnect((peerId) => this.#onConnect(peerId));
    this.#timer = setInterval(() => this.pullAll(), this.#opts.intervalMs);
    this.#timer.unref();
    this.pullAll();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#unlisten?.();
    clearInterval(this.#timer);
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#retryTimers.clear();
    this.#again.clear();
    this.#levelAt.clear();
    this.#abort.abort(new CreditMeshError("UNAVAILABLE", "revocation sync stopped"));
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  // Members dial each other on demand (filter fetches, queries, token evaluations) and close idle
  // connections, so a connection opening says little about what this node missed: a pull on every
  // one cost each side a request on each dial. A member pulled within the last interval is left to
  // the periodic pull; after a restart, or for a member not pulled that recently, a connection pulls.
  #onConnect(peerId: string): void {
    const at = this.#pulledAt.get(peerId);
    if (at !== undefined && Date.now() - at < this.#opts.intervalMs) return;
    if (this.#isLevel(peerId)) return;
    this.schedule(peerId);
  }

  /** Schedules a pull from every connected member, but those whose last delta showed nothing to pull. */
  pullAll(): void {
    for (const peerId of this.#m.connectedPeers()) if (!this.#isLevel(peerId)) this.schedule(peerId);
  }

  /**
   * A member's signed filter delta, issued at `issuedAt`, said its revocation
   * log ended at `head`. Behind it, or ahead of it (the member's log
   * restarted), this node pulls now; level with it, neither the timer nor a
   * new connection asks that member for two intervals. Deltas come every
   * filter interval, so a member that stops sending them is asked again.
   */
  heard(institutionId: string, { head, issuedAt }: { head: number; issuedAt: Date }): Promise<void> {
    const member = this.#m.membership.byInstitution(institutionId);
    if (!this.#running || member === undefined || member.peerId === this.#opts.selfPeerId) return Promise.resolve();
    return this.#cursor(institutionId).then(
      (cursor) => {
        if (cursor !== head) this.schedule(member.peerId);
        else this.#levelAt.set(member.peerId, Math.min(Date.now(), issuedAt.getTime()));
      },
      (err: unknown) => this.#m.logger.warn({ member: institutionId, err: (err as Error).message }, "reading a revocation cursor failed"),
    );
  }

  async #cursor(institutionId: string): Promise<number> {
    const known = this.#cursors.get(institutionId);
    if (known !== undefined) return known;
    const stored = await this.#m.consents.getRevocationCursor(institutionId);
    return this.#cursors.get(institutionId) ?? (this.#cursors.set(institutionId, stored), stored);
  }

  async #putCursor(institutionId: string, sequence: number): Promise<void> {
    await this.#m.consents.putRevocationCursor(institutionId, sequence);
    this.#cursors.set(institutionId, sequence);
  }

  #isLevel(peerId: string): boolean {
    const at = this.#levelAt.get(peerId);
    return at !== undefined && Date.now() - at < 2 * this.#opts.intervalMs;
  }

  /** Pulls from `peerId` soon; a pull already running is followed by one more. */
  schedule(peerId: string, attempt = 0): void {
    if (!this.#running || peerId === this.#opts.selfPeerId || !this.#m.membership.has(peerId)) return;
    if (this.#inFlight.has(peerId)) {
      this.#again.add(peerId);
      return;
    }
    const run = this.pullFrom(peerId)
      .then(
        () => {
          this.#pulledAt.set(peerId, Date.now());
          this.#m.metrics?.revocationPulls.inc({ outcome: "ok" });
        },
        (err: unknown) => {
          if (!this.#running) return;
          this.#m.metrics?.revocationPulls.inc({ outcome: "failed" });
          const delay = RETRY_DELAYS_MS[attempt];
          this.#m.logger.debug({ peer_id: peerId, attempt, err: (err as Error).message }, "revocation pull failed");
          if (delay === undefined) {
            this.#m.logger.warn({ peer_id: peerId, err: (err as Error).message }, "revocation pull failed; retrying at the next interval");
            return;
          }
          const timer = setTimeout(() => {
            this.#retryTimers.delete(timer);
            this.schedule(peerId, attempt + 1);
          }, delay);
          timer.unref();
          this.#retryTimers.add(timer);
        },
      )
      .finally(() => {
        this.#inFlight.delete(peerId);
        if (this.#again.delete(peerId)) this.schedule(peerId);
      });
    this.#inFlight.set(peerId, run);
  }

  /**
   * Asks the member for every revocation it issued after the last one this
   * node has from it, checks each (signed by that member's key, for a consent
   * granted to that member, positions increasing) and stores them. Returns how
   * many entries it received.
   */
  async pullFrom(peerId: string): Promise<number> {
    const { membership, logger } = this.#m;
    const member = membership.byPeerId(peerId);
    if (!member) throw new CreditMeshError("MEMBERSHIP_DENIED", `peer ${peerId} is not a member`);
    let cursor = await this.#cursor(member.institutionId);
    let received = 0;
    for (let page = 0; page < MAX_PAGES_PER_PULL; page++) {
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
      const body = RevocationsRequest.encode({ afterSequence: String(cursor), limit: REVOCATIONS_PAGE_LIMIT }).finish();
      let answer: RevocationsPage;
      try {
        answer = RevocationsPage.decode(await this.#m.request(peerId, body, signal));
      } catch (cause) {
        if (cause instanceof CreditMeshError) throw cause;
        throw new CreditMeshError("P2P_PROTOCOL", `malformed revocations page from ${member.institutionId}`, { cause });
      }
      const last = Number(answer.lastSequence);
      if (Number.isSafeInteger(last) && last < cursor) {
        // The member's log restarted (a restored backup, a rebuilt node): start over from its beginning.
        logger.warn({ member: member.institutionId, cursor, last }, "member's revocation log is behind what was pulled; pulling it again from the start");
        cursor = 0;
        await this.#putCursor(member.institutionId, 0);
        continue;
      }
      let next = cursor;
      for (const entry of answer.revocations) {
        const sequence = Number(entry.sequence);
        if (!Number.isSafeInteger(sequence) || sequence <= next) {
          throw new CreditMeshError("P2P_PROTOCOL", `revocations from ${member.institutionId} out of order`);
        }
        const signed = entry.revocation;
        if (!signed || !verifyByPeerId(member.peerId, signed.body, signed.signature)) {
          throw new CreditMeshError("P2P_PROTOCOL", `revocation ${sequence} from ${member.institutionId} is not signed by it`);
        }
        let revocation: Revocation;
        try {
          revocation = Revocation.decode(signed.body);
        } catch (cause) {
          throw new CreditMeshError("P2P_PROTOCOL", `revocation ${sequence} from ${member.institutionId} does not decode`, { cause });
        }
        // A member revokes only consents granted to it.
        if (revocation.granteeInstitutionId !== member.institutionId) {
          throw new CreditMeshError("P2P_PROTOCOL", `revocation ${sequence} from ${member.institutionId} is for another institution's consent`);
        }
        await this.#m.apply(Signed.encode(signed).finish());
        next = sequence;
        received++;
      }
      if (next > cursor) {
        await this.#putCursor(member.institutionId, next);
        cursor = next;
      }
      if (!answer.more || answer.revocations.length === 0) break;
    }
    if (received > 0) logger.info({ member: member.institutionId, received, position: cursor }, "revocations pulled");
    return received;
  }
}
