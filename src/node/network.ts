import type { AuditTrail } from "../audit/trail.js";
import type { Clock } from "../clock.js";
import type { P2pSchema } from "../config/schema.js";
import { watchFileChanges } from "../config/watch-file.js";
import type { DisputeReceiver, DisputeRouter } from "../disputes/service.js";
import { CreditMeshError } from "../errors.js";
import type { Revocation } from "../gen/creditmesh/v1/consent.js";
import type { Dispute } from "../gen/creditmesh/v1/dispute.js";
import type { MemberStatus } from "../gen/creditmesh/v1/node.js";
import type { QueryRequest } from "../gen/creditmesh/v1/peer.js";
import { readManifestFile, type Membership } from "../identity/manifest.js";
import type { NodeKey } from "../identity/node-key.js";
import type { Logger } from "../logger.js";
import { PeerNode } from "../p2p/peer-node.js";
import { createDisputeHandler, createDisputeStatusHandler } from "../p2p/dispute-handler.js";
import { DISPUTE_MAX_FRAME_BYTES, DISPUTE_PROTOCOL, DISPUTE_STATUS_PROTOCOL, QUERY_MAX_FRAME_BYTES, QUERY_PROTOCOL, REVOCATIONS_TOPIC } from "../p2p/protocols.js";
import { createQueryHandler } from "../p2p/query-handler.js";
import { RemoteDisputes } from "../p2p/remote-disputes.js";
import { RemoteHolders } from "../p2p/remote-holders.js";
import { applyRevocation, encodeRevocation } from "../p2p/revocations.js";
import { createRevocationsHandler, peerConnections, RevocationSync } from "../p2p/revocation-sync.js";
import { REVOCATIONS_HANDLER_TIMEOUT_MS, REVOCATIONS_MAX_FRAME_BYTES, REVOCATIONS_PROTOCOL } from "../p2p/protocols.js";
import { RpcClient } from "../p2p/rpc-client.js";
import { RpcServer } from "../p2p/rpc-server.js";
import { RateLimiter } from "../rate-limit.js";
import type { HolderResult } from "../report/assemble.js";
import type { HolderService } from "../report/holder.js";
import type { Holders } from "../report/service.js";
import type { ConsentStore, NonceStore } from "../store/types.js";
import type { z } from "zod";

export interface NetworkModules {
  key: NodeKey;
  membership: Membership;
  holder: HolderService;
  nonces: NonceStore;
  consents: ConsentStore;
  /** The holder's side of routed disputes; without it this node serves no dispute protocol. */
  disputes?: DisputeReceiver;
  clock: Clock;
  logger: Logger;
  audit?: AuditTrail;
}

/**
 * Everything this node does with its peers: the libp2p node, the query
 * protocol in both directions and revocation gossip. The report service sees
 * it only as `Holders`.
 */
export class NetworkLayer implements Holders {
  private peer?: PeerNode;
  private remote?: RemoteHolders;
  private remoteDisputes?: DisputeRouter;
  private unsubscribe?: () => void;
  private pruneTimer?: NodeJS.Timeout;
  private unwatchManifest?: () => void;

  constructor(
    private readonly opts: { institutionId: string; p2p: z.infer<typeof P2pSchema> },
    private readonly modules: NetworkModules,
  ) {}

  get networkId(): string {
    return this.modules.membership.networkId;
  }

  get manifestVersion(): string {
    return this.modules.membership.version.toString();
  }

  multiaddrs(): string[] {
    return this.peer?.multiaddrs() ?? [];
  }

  async start(): Promise<void> {
    if (this.peer) return;
    const { modules, opts } = this;
    const peer = await PeerNode.create({
      key: modules.key,
      membership: modules.membership,
      listen: opts.p2p.listen,
      logger: modules.logger,
      dialIntervalMs: opts.p2p.redialIntervalMs,
    });
    this.peer = peer;
    const handler = createQueryHandler(
      { institutionId: opts.institutionId, maxClockSkewMs: opts.p2p.maxClockSkewMs },
      {
        membership: modules.membership,
        answer: (query, also) => modules.holder.answer(query, { also }),
        nonces: modules.nonces,
        sign: (data) => modules.key.sign(data),
        rateLimiter: opts.p2p.rateLimitPerPeer > 0 ? new RateLimiter(opts.p2p.rateLimitPerPeer, undefined, modules.clock) : undefined,
        clock: modules.clock,
        logger: modules.logger.child({ protocol: "query" }),
        audit: modules.audit,
      },
    );
    await peer.addService(
      new RpcServer(peer, QUERY_PROTOCOL, handler, {
        maxFrameBytes: Math.min(opts.p2p.maxMessageBytes, QUERY_MAX_FRAME_BYTES),
        handlerTimeoutMs: opts.p2p.handlerTimeoutMs,
        logger: modules.logger,
      }),
    );
    if (modules.disputes) {
      const disputeOpts = { institutionId: opts.institutionId, maxClockSkewMs: opts.p2p.maxClockSkewMs };
      const disputeModules = {
        membership: modules.membership,
        receiver: modules.disputes,
        sign: (data: Uint8Array) => modules.key.sign(data),
        // One budget per member for filings and status requests together.
        rateLimiter: opts.p2p.rateLimitPerPeer > 0 ? new RateLimiter(opts.p2p.rateLimitPerPeer, undefined, modules.clock) : undefined,
        clock: modules.clock,
        logger: modules.logger.child({ protocol: "dispute" }),
      };
      const limits = {
        maxFrameBytes: Math.min(opts.p2p.maxMessageBytes, DISPUTE_MAX_FRAME_BYTES),
        handlerTimeoutMs: opts.p2p.handlerTimeoutMs,
        logger: modules.logger,
      };
      await peer.addService(new RpcServer(peer, DISPUTE_PROTOCOL, createDisputeHandler(disputeOpts, disputeModules), limits));
      await peer.addService(new RpcServer(peer, DISPUTE_STATUS_PROTOCOL, createDisputeStatusHandler(disputeOpts, disputeModules), limits));
    }
    const client = new RpcClient(peer, { maxFrameBytes: opts.p2p.maxMessageBytes, logger: modules.logger });
    await peer.addService(client);
    // Revocation catch-up: serve the revocations this node issued, and pull
    // the ones it missed from each member on every (re)connection.
    await peer.addService(
      new RpcServer(peer, REVOCATIONS_PROTOCOL, createRevocationsHandler({ consents: modules.consents }), {
        maxFrameBytes: REVOCATIONS_MAX_FRAME_BYTES,
        handlerTimeoutMs: REVOCATIONS_HANDLER_TIMEOUT_MS,
        logger: modules.logger,
      }),
    );
    await peer.addService(
      new RevocationSync(
        { selfPeerId: modules.key.peerId, intervalMs: opts.p2p.revocationPullIntervalMs },
        {
          membership: modules.membership,
          consents: modules.consents,
          request: (peerId, body, signal) => client.request(peerId, REVOCATIONS_PROTOCOL, body, signal),
          apply: (data) =>
            applyRevocation(data, { membership: modules.membership, consents: modules.consents, logger: modules.logger, audit: modules.audit }, "pull"),
          ...peerConnections(peer),
          logger: modules.logger.child({ protocol: "revocations" }),
        },
      ),
    );
    this.remoteDisputes = new RemoteDisputes(
      { institutionId: opts.institutionId },
      {
        membership: modules.membership,
        request: (peerId, body, signal) => client.request(peerId, DISPUTE_PROTOCOL, body, signal),
        requestStatus: (peerId, body, signal) => client.request(peerId, DISPUTE_STATUS_PROTOCOL, body, signal),
        sign: (data) => modules.key.sign(data),
        clock: modules.clock,
        logger: modules.logger.child({ protocol: "dispute" }),
      },
    );
    this.remote = new RemoteHolders(
      { institutionId: opts.institutionId },
      {
        membership: modules.membership,
        request: (peerId, body, signal) => client.request(peerId, QUERY_PROTOCOL, body, signal),
        sign: (data) => modules.key.sign(data),
        logger: modules.logger.child({ protocol: "query" }),
      },
    );
    this.unsubscribe = peer.subscribe(REVOCATIONS_TOPIC, async (data) => {
      await applyRevocation(data, { membership: modules.membership, consents: modules.consents, logger: modules.logger, audit: modules.audit });
    });
    await peer.start();
    // Replay protection only needs nonces inside the freshness window.
    this.pruneTimer = setInterval(() => {
      modules.nonces.prune(modules.clock.now()).catch(() => undefined);
    }, Math.max(10_000, opts.p2p.maxClockSkewMs));
    this.pruneTimer.unref();
    this.watchManifestFile();
  }

  /**
   * The operator publishes a new manifest by replacing one member's manifest
   * file; that node applies it (if newer and validly signed) and gossips it.
   */
  private watchManifestFile(): void {
    const file = this.opts.p2p.manifestFile;
    if (!file) return;
    const { logger } = this.modules;
    this.unwatchManifest = watchFileChanges(
      file,
      () => {
        readManifestFile(file)
          .then((signed) => this.peer?.applyManifest(signed))
          .then((applied) => {
            if (applied) logger.info({ version: this.manifestVersion }, "newer manifest from file applied");
          })
          .catch((err) => logger.warn({ err: (err as Error).message }, "manifest file not applied"));
      },
      { onError: (err) => logger.warn({ err: err.message }, "watching the manifest file failed") },
    );
  }

  targets(): string[] {
    return this.remote?.holders().map((m) => m.institutionId) ?? [];
  }

  ask(query: QueryRequest, signal: AbortSignal): Promise<HolderResult[]> {
    return this.remote ? this.remote.ask(query, signal) : Promise.resolve([]);
  }

  /** Routes a dispute to the member holding the account (DisputeRouter). */
  sendDispute(institutionId: string, dispute: Dispute, signal?: AbortSignal): Promise<Dispute> {
    if (!this.remoteDisputes) return Promise.reject(new CreditMeshError("P2P_UNREACHABLE", "the peer network is not running"));
    return this.remoteDisputes.send(institutionId, dispute, signal);
  }

  /** Asks the member holding a dispute filed here for its current record (DisputeRouter). */
  disputeStatus(institutionId: string, disputeId: string, signal?: AbortSignal): Promise<Dispute> {
    if (!this.remoteDisputes) return Promise.reject(new CreditMeshError("P2P_UNREACHABLE", "the peer network is not running"));
    return this.remoteDisputes.status(institutionId, disputeId, signal);
  }

  async publishRevocation(revocation: Revocation): Promise<void> {
    if (!this.peer) return;
    await this.peer.publish(REVOCATIONS_TOPIC, encodeRevocation(revocation, (d) => this.modules.key.sign(d)));
  }

  memberStatus(): MemberStatus[] {
    return this.modules.membership.members().map((m) => ({
      institutionId: m.institutionId,
      name: m.name,
      peerId: m.peerId,
      roles: m.roles,
      connected: m.peerId === this.modules.key.peerId || (this.peer?.isConnected(m.peerId) ?? false),
    }));
  }

  async stop(): Promise<void> {
    this.unwatchManifest?.();
    this.unwatchManifest = undefined;
    clearInterval(this.pruneTimer);
    this.unsubscribe?.();
    const peer = this.peer;
    this.peer = undefined;
    this.remote = undefined;
    this.remoteDisputes = undefined;
    await peer?.stop();
  }
}
