import type { Clock } from "../clock.js";
import { FilterBuilder } from "../filters/builder.js";
import type { FilterLeaf } from "../tlog/leaves.js";
import { FilterPublisher } from "../filters/publisher.js";
import { FilterSchedule, maxSilenceMs, type FiltersConfig } from "../filters/schedule.js";
import { DEFAULT_FILTER_LIMITS } from "../filters/types.js";
import type { Membership } from "../identity/manifest.js";
import type { NodeKey } from "../identity/node-key.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { PeerComponents } from "../p2p/components.js";
import { FilterGossipTopic, type FilterGossipComponents } from "../p2p/filter-gossip.js";
import { FiltersProtocol } from "../p2p/filters-protocol.js";
import type { PeerService } from "../p2p/peer-node.js";
import { FILTERS_HANDLER_TIMEOUT_MS, FILTERS_MAX_FILTER_BYTES, FILTERS_MAX_FRAME_BYTES } from "../p2p/protocols.js";
import { FilterBook } from "../report/filter-book.js";
import { FilterInbox } from "../report/filter-inbox.js";
import type { RateLimiter } from "../rate-limit.js";
import { FilterRouter } from "../report/filter-router.js";
import type { NodeDatabase } from "../store/database.js";
import { subjectTokens } from "../store/subject-tokens.js";

/** Announcements again after this many deltas, for members that joined or lost messages since the rebuild. */
const REANNOUNCE_EVERY_DELTAS = 10;

/**
 * Both sides of published holder filters for one node: the holder's builder
 * (fed by `noteToken` after durable writes) and the requester's book, inbox
 * and router. The peer services come later, once the peer node exists.
 */
export class FilterParts {
  readonly builder: FilterBuilder;
  readonly schedule: FilterSchedule;
  readonly book: FilterBook;
  readonly inbox: FilterInbox;
  readonly router: FilterRouter;
  private readonly logFilter?: (leaf: FilterLeaf) => Promise<number>;
  private readonly revocationHead?: () => Promise<number>;

  constructor(
    private readonly config: FiltersConfig & { institutionId: string },
    modules: {
      db: Pick<NodeDatabase, "levels">;
      key: Pick<NodeKey, "sign">;
      membership: Membership;
      clock: Clock;
      metrics: Metrics | null;
      /** Where routing tells of members whose filters do not match their answers. */
      logger?: Logger;
      /** The holder's transparency log: a leaf per full filter and delta published. */
      logFilter?: (leaf: FilterLeaf) => Promise<number>;
      /** The last position of this node's revocation log, carried in each delta. */
      revocationHead?: () => Promise<number>;
    },
  ) {
    const { clock } = modules;
    this.logFilter = modules.logFilter;
    this.revocationHead = modules.revocationHead;
    this.builder = new FilterBuilder({ institutionId: config.institutionId }, { tokens: () => subjectTokens(modules.db), key: modules.key, clock, logFilter: modules.logFilter });
    this.schedule = new FilterSchedule(config, { clock });
    this.book = new FilterBook({ clock });
    this.inbox = new FilterInbox(
      { selfInstitutionId: config.institutionId, limits: { ...DEFAULT_FILTER_LIMITS, maxFilterBytes: FILTERS_MAX_FILTER_BYTES } },
      {
        book: this.book,
        members: (id) => {
          const m = modules.membership.byInstitution(id);
          return m && { institutionId: m.institutionId, peerId: m.peerId };
        },
      },
    );
    this.router = new FilterRouter({ maxSilenceMs: maxSilenceMs(config), failOpenLimitMs: config.failOpenLimitMs }, { book: this.book, clock, metrics: modules.metrics, logger: modules.logger });
  }

  /** A subject this node now holds data for (a new account, a logged inquiry). */
  noteToken(subjectToken: string): void {
    this.builder.noteToken(subjectToken);
  }

  /**
   * The fetch protocol, the gossip topic and the publisher's timer, in start
   * order. `revocationHeadHeard` hears where each member's revocation log
   * ended when it signed a gossiped delta (this node's own head goes out in
   * its deltas: `revocationHead` in the constructor).
   */
  peerServices(
    components: PeerComponents,
    logger: Logger,
    rateLimiter?: RateLimiter,
    revocationHeadHeard?: FilterGossipComponents["revocationHeadHeard"],
  ): PeerService[] {
    const protocol = new FiltersProtocol(
      { ...components, logger: logger.child({ protocol: "filters" }), builder: this.builder, inbox: this.inbox, rateLimiter },
      { maxFrameBytes: FILTERS_MAX_FRAME_BYTES, handlerTimeoutMs: FILTERS_HANDLER_TIMEOUT_MS },
    );
    const gossip = new FilterGossipTopic({
      ...components,
      logger: logger.child({ topic: "filters" }),
      inbox: this.inbox,
      // A delta from a member whose announcement was missed, a new epoch, a gap: fetch rather than wait for the next announcement.
      pull: (id) => protocol.pull(id),
      revocationHeadHeard,
    });
    const publisher = new FilterPublisher(
      { reannounceEvery: REANNOUNCE_EVERY_DELTAS, retryMs: Math.min(30_000, this.config.deltaIntervalMs) },
      {
        builder: this.builder,
        schedule: this.schedule,
        publish: (m) => gossip.publish(m),
        logger: logger.child({ module: "filters" }),
        logFilter: this.logFilter,
        revocationHead: this.revocationHead,
      },
    );
    return [protocol, gossip, { start: () => publisher.start(), stop: () => publisher.stop() }];
  }
}
