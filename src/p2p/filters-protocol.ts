import { CreditMeshError, invalid } from "../errors.js";
import type { FilterBuilder } from "../filters/builder.js";
import { FilterFetchRequest, FilterFetchResponse } from "../gen/creditmesh/v1/filters.js";
import type { FilterInbox, InboxResult } from "../report/filter-inbox.js";
import type { PeerComponents } from "./components.js";
import { FILTERS_PROTOCOL } from "./protocols.js";
import { RpcProtocol, type RpcProtocolInit } from "./rpc-protocol.js";

export type FiltersComponents = Pick<PeerComponents, "peer" | "rpc" | "membership" | "signer" | "logger"> & {
  /** The holder's side; absent when this node publishes no filter (it answers UNAVAILABLE). */
  builder?: Pick<FilterBuilder, "answerFetch">;
  /** The requester's side: verifies and records what members publish. */
  inbox: Pick<FilterInbox, "fetchResponse">;
};

/**
 * /creditmesh/filters, both ends. Holder: answers a fetch with its current
 * signed announcement, the full filter when asked (or when the requester's
 * epoch is not current) and the fewest signed deltas after a position.
 * Requester: `fetch(institutionId)` asks a member and hands the answer to the
 * inbox, which verifies everything before recording anything; on every
 * (re)connection to a member its filter is fetched, so a node that joined
 * after the member's announcement need not wait for the next one.
 *
 * The request is not signed: it asks for nothing private to the requester,
 * the gater admits only members, and every part of the answer is signed by
 * its holder.
 */
export class FiltersProtocol extends RpcProtocol {
  readonly protocol = FILTERS_PROTOCOL;
  #stopConnect: (() => void) | undefined;
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly c: FiltersComponents,
    init: RpcProtocolInit,
  ) {
    super(c, init);
  }

  override async start(): Promise<void> {
    await super.start();
    this.#stopConnect ??= this.c.peer.onPeerConnect((peerId) => {
      const member = this.c.membership.byPeerId(peerId);
      if (member) this.pull(member.institutionId);
    });
  }

  override async stop(): Promise<void> {
    this.#stopConnect?.();
    this.#stopConnect = undefined;
    await super.stop();
  }

  async handleMessage(body: Uint8Array): Promise<Uint8Array> {
    let req: FilterFetchRequest;
    try {
      req = FilterFetchRequest.decode(body);
    } catch (cause) {
      throw new CreditMeshError("P2P_PROTOCOL", "malformed filter fetch request", { cause });
    }
    const builder = this.c.builder;
    if (builder === undefined) throw new CreditMeshError("UNAVAILABLE", "this member publishes no filter");
    const epoch = Number(req.epoch);
    if (!Number.isSafeInteger(epoch)) throw invalid("epoch", "must be an integer below 2^53");
    const answer = builder.answerFetch({ epoch, includeFilter: req.includeFilter, deltasAfter: Number(req.deltasAfter) });
    return FilterFetchResponse.encode({ announcement: answer.announcement, filter: Buffer.from(answer.filter ?? new Uint8Array(0)), deltas: answer.deltas }).finish();
  }

  /**
   * Fetches from a member and records the answer; follows up once if the
   * inbox still wants something (a gap the first answer did not fill).
   */
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

  /** A fetch in the background, one at a time per member; failures are logged (routing fails open meanwhile). */
  pull(institutionId: string, position?: NonNullable<InboxResult["fetch"]>): void {
    if (this.#inFlight.has(institutionId) || this.c.membership.byInstitution(institutionId)?.peerId === this.c.signer.peerId) return;
    const run = this.fetch(institutionId, position)
      .then(() => undefined)
      .catch((err: unknown) => {
        this.log.debug({ member: institutionId, err: (err as Error).message }, "filter fetch failed");
      })
      .finally(() => this.#inFlight.delete(institutionId));
    this.#inFlight.set(institutionId, run);
  }
}
