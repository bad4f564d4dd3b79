import type { FilterInbox, InboxResult } from "../report/filter-inbox.js";
import type { PeerComponents } from "./components.js";
import type { PeerService } from "./peer-node.js";
import { FILTERS_TOPIC } from "./protocols.js";

export type FilterGossipComponents = Pick<PeerComponents, "peer" | "logger"> & {
  inbox: Pick<FilterInbox, "gossip">;
  /** After each accepted message: fetches what it says is missing (a new epoch's filter, a delta gap), if anything. */
  pull(institutionId: string, position: InboxResult["fetch"]): void;
  /** A member's delta said where its revocation log ended when it signed it. */
  revocationHeadHeard?(institutionId: string, head: NonNullable<InboxResult["revocationHead"]>): void;
};

/**
 * The creditmesh/filters/1 topic, both ends: publishes this node's
 * announcements and deltas (FilterGossip, encoded by the publisher), and
 * hands every member's to the inbox, which verifies them against the
 * manifest. A bad message is dropped and logged with its code only.
 */
export class FilterGossipTopic implements PeerService {
  #unsubscribe: (() => void) | undefined;

  constructor(private readonly c: FilterGossipComponents) {}

  start(): void {
    this.#unsubscribe ??= this.c.peer.subscribe(FILTERS_TOPIC, (data) => {
      let result: InboxResult | undefined;
      try {
        result = this.c.inbox.gossip(data);
      } catch (err) {
        this.c.logger.warn({ code: (err as { code?: string }).code, err: (err as Error).message }, "filter gossip dropped");
        return;
      }
      if (result === undefined) return;
      this.c.pull(result.institutionId, result.fetch);
      if (result.revocationHead) this.c.revocationHeadHeard?.(result.institutionId, result.revocationHead);
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  async publish(message: Uint8Array): Promise<void> {
    await this.c.peer.publish(FILTERS_TOPIC, message);
  }
}
