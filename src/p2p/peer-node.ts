import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify, type Identify } from "@libp2p/identify";
import { ping, type Ping } from "@libp2p/ping";
import {
  gossipsub,
  TopicValidatorResult,
  type GossipSub,
  type Message,
  type SubscriptionChangeData,
} from "@libp2p/gossipsub";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { Connection, Libp2p, PeerId, StreamHandler, StreamHandlerOptions } from "@libp2p/interface";
import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { NodeKey } from "../identity/node-key.js";
import { SignedManifest, type Membership, type MembershipChange } from "../identity/manifest.js";
import { abortError } from "./abort.js";
import { MembershipGater } from "./gater.js";
import { ManifestGossip } from "./manifest-gossip.js";
import { MemberDialer } from "./member-dialer.js";
import { installLazyYamuxWindowUpdates } from "./yamux-window.js";
import { writeMessagesWhole } from "./tcp-single-write.js";
import { installQuietLengthPrefixEnd } from "./length-prefix-guard.js";
import { gossipFastMsgId } from "./gossip-message-id.js";
import { sodiumNoiseCrypto } from "./noise-crypto.js";
import {
  DEFAULT_DIAL_INTERVAL_MS,
  GOSSIP_IDONTWANT_MIN_BYTES,
  GOSSIP_MESH_DEGREE,
  MANIFEST_REPUBLISH_INTERVAL_MS,
  MAX_GOSSIP_MESSAGE_BYTES,
  REDIAL_INITIAL_MS,
  REDIAL_MAX_MS,
} from "./protocols.js";

export interface PeerNodeOptions {
  key: NodeKey;
  membership: Membership;
  /** Multiaddrs to listen on, e.g. /ip4/0.0.0.0/tcp/4001 (tests: /ip4/127.0.0.1/tcp/0). */
  listen: string[];
  logger: Logger;
  /** Addresses to advertise instead of the listen addresses (NAT, containers). */
  announce?: string[];
  /** How often the node checks that it is connected to every member. */
  dialIntervalMs?: number;
  redialInitialMs?: number;
  redialMaxMs?: number;
  /** How often the current manifest is gossiped even when nothing changed. */
  manifestRepublishMs?: number;
  /** Ceiling on one dial (TCP connect + Noise + Yamux). */
  dialTimeoutMs?: number;
  /** Members kept connected at all times (a stable pseudo-random subset); the others are dialed on demand. Default: all. */
  keepConnected?: number;
  /** An on-demand connection this node dialed is closed after this long without a request (0: never). */
  idleCloseMs?: number;
}

/** Something started after libp2p and stopped before it (protocol handlers, RPC clients). */
export interface PeerService {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

export type GossipHandler = (data: Uint8Array, from: { peerId: string }) => void | Promise<void>;

/** What a topic's validator says of a message: relay and deliver it, drop it quietly, or drop it and penalize the sender. */
export type GossipVerdict = "accept" | "ignore" | "reject";

/** Judges a signed message on a topic before gossipsub relays or delivers it. */
export type GossipValidator = (data: Uint8Array, from: { peerId: string }) => GossipVerdict;

const VERDICTS: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
};

type Services = { identify: Identify; ping: Ping; pubsub: GossipSub };

/** How often libp2p's connection monitor pings each connection, and the least it waits for the answer. */
const CONNECTION_PING_INTERVAL_MS = 60_000;
const CONNECTION_PING_MIN_TIMEOUT_MS = 30_000;

/**
 * One member's libp2p node: TCP + Noise + Yamux, a gater that admits only
 * manifest members, connections kept up to every member, and gossip. It also
 * carries the manifest itself (manifest-gossip.ts), which every member needs
 * whatever protocols it serves.
 */
export class PeerNode {
  readonly libp2p: Libp2p<Services>;
  readonly membership: Membership;
  readonly #log: Logger;
  readonly #gater: MembershipGater;
  readonly #dialer: MemberDialer;
  readonly #services: PeerService[] = [];
  readonly #started = new Set<PeerService>();
  readonly #handlers = new Map<string, Set<GossipHandler>>();
  readonly #validators = new Map<string, GossipValidator>();
  readonly #manifest: ManifestGossip;
  readonly #dialTimeoutMs: number;
  readonly #lastUsed = new Map<string, number>();
  #state: "stopped" | "starting" | "started" | "stopping" = "stopped";
  #transition: Promise<void> = Promise.resolve();
  #teardown: Array<() => void> = [];

  private constructor(libp2p: Libp2p<Services>, opts: PeerNodeOptions, gater: MembershipGater) {
    this.libp2p = libp2p;
    this.membership = opts.membership;
    this.#log = opts.logger.child({ module: "p2p" });
    this.#gater = gater;
    this.#manifest = new ManifestGossip(
      { peer: this, membership: opts.membership, logger: this.#log },
      { republishMs: opts.manifestRepublishMs ?? MANIFEST_REPUBLISH_INTERVAL_MS },
    );
    // Started first among the services, stopped last.
    this.#services.push(this.#manifest);
    this.#dialTimeoutMs = opts.dialTimeoutMs ?? 10_000;
    // The TCP connection class is not exported: its first instance shows it (tcp-single-write.ts).
    const wholeWrites = (evt: CustomEvent<unknown>): void => {
      if (writeMessagesWhole((evt.detail as { maConn?: unknown }).maConn)) libp2p.removeEventListener("connection:open", wholeWrites);
    };
    libp2p.addEventListener("connection:open", wholeWrites);
    this.#dialer = new MemberDialer({
      selfPeerId: opts.key.peerId,
      membership: opts.membership,
      isConnected: (peerId) => this.isConnected(peerId),
      connectedPeers: () => this.connectedPeers(),
      dial: (peerId, signal) => this.connect(peerId, signal).then(() => undefined),
      logger: this.#log,
      intervalMs: opts.dialIntervalMs ?? DEFAULT_DIAL_INTERVAL_MS,
      initialBackoffMs: opts.redialInitialMs ?? REDIAL_INITIAL_MS,
      maxBackoffMs: opts.redialMaxMs ?? REDIAL_MAX_MS,
      keep: opts.keepConnected,
      idleCloseMs: opts.idleCloseMs,
      lastUsed: (peerId) => this.#lastUsed.get(peerId),
      closeIdle: (peerId) => this.#closeOutbound(peerId),
    });
  }

  static async create(opts: PeerNodeOptions): Promise<PeerNode> {
    installLazyYamuxWindowUpdates();
    installQuietLengthPrefixEnd();
    const gater = new MembershipGater(opts.membership, opts.logger.child({ module: "p2p" }));
    const libp2p = await createLibp2p<Services>({
      start: false,
      privateKey: opts.key.libp2pPrivateKey,
      addresses: { listen: opts.listen, announce: opts.announce ?? [] },
      transports: [tcp()],
      connectionEncrypters: [noise({ crypto: sodiumNoiseCrypto })],
      streamMuxers: [yamux()],
      connectionGater: gater,
      // libp2p pings every connection over a new stream (a protocol negotiation each) every 10 s by
      // default and aborts one whose ping is slower than ~5 s: most of a member's idle CPU, and on a busy
      // host it cuts healthy connections with requests in flight. Requests have their own deadlines and
      // the member dialer redials what is lost, so a dead connection is found soon enough this way.
      connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS, pingTimeout: { minTimeout: CONNECTION_PING_MIN_TIMEOUT_MS } },
      connectionManager: {
        dialTimeout: opts.dialTimeoutMs ?? 10_000,
        // Members often share a host (tests, one operator running several
        // institutions); the gater, not a per-IP rate, decides who gets in.
        inboundConnectionThreshold: 100,
        maxIncomingPendingConnections: 64,
      },
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          emitSelf: false,
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          // Each node keeps ~16 connections but at 100 members holds ~70 at a time (dialed on demand
          // for filter fetches, queries, evaluations): flooding every filter delta to all of them was
          // as much of a node host's CPU as forwarding. Rare messages ask for a flood (publish()).
          floodPublish: false,
          // IHAVE gossip each heartbeat to Dlazy peers only (gossipsub's default: a quarter of the
          // non-mesh peers, ~17 at 100 members; the heartbeat's sends were 7 % of a host's CPU).
          gossipFactor: 0,
          fallbackToFloodsub: false,
          doPX: false,
          maxInboundDataLength: MAX_GOSSIP_MESSAGE_BYTES,
          // Gossipsub penalises every peer beyond 10 sharing an IP address, quadratically, as a
          // defence against sybils; past ~11 members on one address their messages fall under the
          // graylist threshold and are dropped unseen (filter deltas, revocations, evidence). Here
          // every peer is a member admitted by the signed manifest (the gater), so an address shared
          // by several members (one operator, one hosting provider, a test network) says nothing.
          scoreParams: { IPColocationFactorWeight: 0 },
          // Without it every copy of a message (one from each mesh peer that forwards it) has its
          // signature verified before the seen-cache finds it a duplicate: at 60 members ~11 % of a
          // node host's CPU. A copy carries its publisher's signature over the whole message, so the
          // signature names it; an id enters the cache only once its message was verified.
          fastMsgIdFn: gossipFastMsgId,
          // Every member publishes a signed filter delta each interval, so a node's gossip work grows
          // with the network: at 100 members each copy forwarded to a mesh peer and each IDONTWANT
          // announced to the others was most of a node host's CPU. CreditMesh messages are a few KB:
          // receiving a duplicate costs less than the control message that would prevent it, and a
          // mesh of 4 (3–8) among members admitted by the manifest keeps every member reached, with
          // gossip (IHAVE) covering a lost copy.
          idontwantMinDataSize: GOSSIP_IDONTWANT_MIN_BYTES,
          ...GOSSIP_MESH_DEGREE,
        }),
      },
    });
    return new PeerNode(libp2p, opts, gater);
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  get isStarted(): boolean {
    return this.#state === "started";
  }

  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((ma) => ma.toString());
  }

  isConnected(peerId: string): boolean {
    const id = tryPeerId(peerId);
    return id !== undefined && this.libp2p.getConnections(id).some((c) => c.status === "open");
  }

  /** Calls `listener` with the peer id each time a connection to a new peer opens; returns what stops it. */
  onPeerConnect(listener: (peerId: string) => void): () => void {
    const handler = (evt: CustomEvent<PeerId>): void => listener(evt.detail.toString());
    this.libp2p.addEventListener("peer:connect", handler);
    return () => this.libp2p.removeEventListener("peer:connect", handler);
  }

  /** Notes a request sent to or answered for `peerId`, so that its on-demand connection is not closed as idle. */
  markUsed(peerId: string): void {
    this.#lastUsed.set(peerId, Date.now());
  }

  /** Peer ids of the members this node keeps connected (every member unless `keepConnected` is set). */
  keptMembers(): Set<string> {
    return this.#dialer.kept();
  }

  async #closeOutbound(peerId: string): Promise<boolean> {
    const id = tryPeerId(peerId);
    if (id === undefined) return false;
    this.#lastUsed.delete(peerId);
    const outbound = this.libp2p.getConnections(id).filter((c) => c.direction === "outbound" && c.status === "open");
    await Promise.all(outbound.map((c) => c.close().catch(() => c.abort(new Error("idle")))));
    return outbound.length > 0;
  }

  connectedPeers(): string[] {
    return [...new Set(this.libp2p.getConnections().filter((c) => c.status === "open").map((c) => c.remotePeer.toString()))];
  }

  /**
   * An open connection to a member, dialling its manifest addresses if there is
   * none. MEMBERSHIP_DENIED for a non-member, P2P_UNREACHABLE when the dial fails.
   * `instead`: a connection found closing (its other end closed it while it
   * still looked open here) is not taken again; a new one is dialed if it was the only one.
   */
  async connect(peerId: string, signal?: AbortSignal, instead?: Connection): Promise<Connection> {
    const member = this.membership.byPeerId(peerId);
    const id = tryPeerId(peerId);
    if (member === undefined || id === undefined) {
      throw new CreditMeshError("MEMBERSHIP_DENIED", `peer ${peerId} is not a member of the network`);
    }
    if (this.#state !== "started") {
      throw new CreditMeshError("P2P_UNREACHABLE", "the p2p node is not running");
    }
    const open = this.libp2p.getConnections(id).find((c) => c.status === "open" && c !== instead);
    if (open !== undefined) return open;
    const timeout = AbortSignal.timeout(this.#dialTimeoutMs);
    const dialSignal = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const addrs = dialableAddrs(member.addrs, peerId);
    try {
      return await this.libp2p.dial(addrs.length > 0 ? addrs : id, { signal: dialSignal, force: instead !== undefined });
    } catch (cause) {
      if (signal?.aborted) throw abortError(signal, `dialling ${peerId} timed out`);
      throw new CreditMeshError("P2P_UNREACHABLE", `cannot reach peer ${peerId}: ${errorMessage(cause)}`, { cause });
    }
  }

  /** Registers a service started after libp2p (and at once if the node is running). */
  async addService(service: PeerService): Promise<void> {
    if (this.#services.includes(service)) return;
    this.#services.push(service);
    if (this.#state === "started") {
      await service.start();
      this.#started.add(service);
    }
  }

  async removeService(service: PeerService): Promise<void> {
    const i = this.#services.indexOf(service);
    if (i >= 0) this.#services.splice(i, 1);
    if (this.#started.delete(service)) await service.stop();
  }

  async handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void> {
    await this.libp2p.handle(protocol, handler, { ...options, force: true });
  }

  async unhandle(protocol: string): Promise<void> {
    await this.libp2p.unhandle(protocol);
  }

  /**
   * Gossips `data` on `topic`; returns how many peers it was sent to (0 is
   * fine: nobody else is subscribed yet). Messages are signed by this node's
   * key; our own messages are not delivered back to us. Sent to this node's
   * mesh peers for the topic, which forward it; `flood` sends it to every
   * connected member on the topic as well (a rare message that a peer just
   * connected must get, or that must not wait for the mesh).
   */
  async publish(topic: string, data: Uint8Array, signal?: AbortSignal, opts: { flood?: boolean } = {}): Promise<number> {
    signal?.throwIfAborted();
    if (data.length > MAX_GOSSIP_MESSAGE_BYTES) {
      throw new CreditMeshError("P2P_PROTOCOL", `gossip message of ${data.length} bytes exceeds ${MAX_GOSSIP_MESSAGE_BYTES}`);
    }
    if (this.#state !== "started") {
      throw new CreditMeshError("P2P_UNREACHABLE", "the p2p node is not running");
    }
    // The implementation takes per-call options that its exported interface leaves out (gossipsub.d.ts).
    const pubsub = this.libp2p.services.pubsub as unknown as { publish(topic: string, data: Uint8Array, o: { floodPublish: boolean }): ReturnType<GossipSub["publish"]> };
    const result = await pubsub.publish(topic, data, { floodPublish: opts.flood ?? false });
    return result.recipients.length;
  }

  /**
   * Calls `handler` for every message on `topic` from a member (other than
   * ourselves). `validate` judges each message first (the topic's first
   * validator counts); without one, any member's signed message is accepted.
   * Returns the function that unsubscribes this handler.
   */
  subscribe(topic: string, handler: GossipHandler, validate?: GossipValidator): () => void {
    if (validate && !this.#validators.has(topic)) this.#validators.set(topic, validate);
    let set = this.#handlers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#handlers.set(topic, set);
      if (this.#state === "started") this.#subscribeTopic(topic);
    }
    set.add(handler);
    return () => {
      const current = this.#handlers.get(topic);
      if (current === undefined) return;
      current.delete(handler);
      if (current.size === 0) {
        this.#handlers.delete(topic);
        this.#validators.delete(topic);
        this.libp2p.services.pubsub.topicValidators.delete(topic);
        if (this.#state === "started") this.libp2p.services.pubsub.unsubscribe(topic);
      }
    };
  }

  /**
   * Applies a newer operator-signed manifest locally and gossips it to the
   * network. False when it is not newer or not validly signed.
   */
  applyManifest(signed: SignedManifest, signal?: AbortSignal): Promise<boolean> {
    return this.#manifest.apply(signed, signal);
  }

  /** Calls `listener` each time a peer subscribes to `topic`; returns what stops it. */
  onTopicSubscriber(topic: string, listener: (peerId: string) => void): () => void {
    const pubsub = this.libp2p.services.pubsub;
    const handler = (evt: CustomEvent<SubscriptionChangeData>): void => {
      if (evt.detail.subscriptions.some((s) => s.topic === topic && s.subscribe)) listener(evt.detail.peerId.toString());
    };
    pubsub.addEventListener("subscription-change", handler);
    return () => pubsub.removeEventListener("subscription-change", handler);
  }

  async start(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.#transition.catch(() => undefined);
    if (this.#state === "started") return;
    this.#state = "starting";
    this.#transition = this.#doStart().then(
      () => {
        this.#state = "started";
      },
      async (err: unknown) => {
        this.#state = "started"; // let stop() undo whatever did start
        await this.#doStop();
        this.#state = "stopped";
        throw err;
      },
    );
    await this.#transition;
  }

  async stop(_signal?: AbortSignal): Promise<void> {
    await this.#transition.catch(() => undefined);
    if (this.#state === "stopped") return;
    this.#state = "stopping";
    this.#transition = this.#doStop().finally(() => {
      this.#state = "stopped";
    });
    await this.#transition;
  }

  async #doStart(): Promise<void> {
    await this.libp2p.start();
    this.#teardown.push(this.#gater.enforceOn(this.libp2p, this.#log));

    const pubsub = this.libp2p.services.pubsub;
    const onMessage = (evt: CustomEvent<Message>): void => this.#onGossip(evt.detail);
    pubsub.addEventListener("message", onMessage);
    this.#teardown.push(() => pubsub.removeEventListener("message", onMessage));

    const onMembershipChange = (change: MembershipChange): void => {
      this.#log.info(
        { version: change.current.version, added: change.added.length, removed: change.removed.length },
        "membership manifest replaced",
      );
      this.#dialer.membersChanged(change);
    };
    this.membership.on("change", onMembershipChange);
    this.#teardown.push(() => this.membership.off("change", onMembershipChange));

    for (const topic of this.#handlers.keys()) this.#subscribeTopic(topic);

    this.#state = "started"; // services may dial and publish from their start()
    for (const service of this.#services) {
      await service.start();
      this.#started.add(service);
    }
    this.#dialer.start();
    this.#log.info({ peer_id: this.peerId, addrs: this.multiaddrs() }, "p2p node started");
  }

  async #doStop(): Promise<void> {
    try {
      this.#dialer.stop();
      for (const service of [...this.#services].reverse()) {
        if (!this.#started.delete(service)) continue;
        try {
          await service.stop();
        } catch (err) {
          this.#log.warn({ err }, "p2p service failed to stop");
        }
      }
    } finally {
      for (const undo of this.#teardown.splice(0).reverse()) undo();
      await this.libp2p.stop();
      this.#log.info({ peer_id: this.peerId }, "p2p node stopped");
    }
  }

  #subscribeTopic(topic: string): void {
    const pubsub = this.libp2p.services.pubsub;
    pubsub.topicValidators.set(topic, (_from, msg) => this.#validate(topic, msg));
    pubsub.subscribe(topic);
  }

  #validate(topic: string, msg: Message): TopicValidatorResult {
    if (msg.type !== "signed" || msg.data.length > MAX_GOSSIP_MESSAGE_BYTES) return TopicValidatorResult.Reject;
    const from = { peerId: msg.from.toString() };
    const validate = this.#validators.get(topic);
    if (validate) return VERDICTS[validate(msg.data, from)];
    return this.membership.has(from.peerId) ? TopicValidatorResult.Accept : TopicValidatorResult.Reject;
  }

  #onGossip(msg: Message): void {
    if (msg.type !== "signed") return;
    const from = { peerId: msg.from.toString() };
    const handlers = this.#handlers.get(msg.topic);
    if (handlers === undefined) return;
    for (const handler of handlers) {
      Promise.resolve()
        .then(() => handler(msg.data, from))
        .catch((err: unknown) => this.#log.warn({ err, topic: msg.topic, from: from.peerId }, "gossip handler failed"));
    }
  }
}

/**
 * Parsed peer ids by their text. The member dialer asks isConnected() of
 * every member on every tick, and parsing an id (base58, multihash) each
 * time was a few percent of an idle node's CPU at 50 members. Bounded: the
 * ids seen are members' and peers', and a full cache starts over.
 */
const PEER_IDS = new Map<string, PeerId>();
const MAX_CACHED_PEER_IDS = 4_096;

function tryPeerId(peerId: string): PeerId | undefined {
  const cached = PEER_IDS.get(peerId);
  if (cached !== undefined) return cached;
  try {
    const id = peerIdFromString(peerId);
    if (PEER_IDS.size >= MAX_CACHED_PEER_IDS) PEER_IDS.clear();
    PEER_IDS.set(peerId, id);
    return id;
  } catch {
    return undefined;
  }
}

/** Manifest addresses with /p2p/<id> appended, so Noise checks that the right peer answered. */
function dialableAddrs(addrs: string[], peerId: string): Multiaddr[] {
  const out: Multiaddr[] = [];
  for (const addr of addrs) {
    try {
      const ma = multiaddr(addr);
      out.push(ma.getComponents().some((c) => c.name === "p2p") ? ma : ma.encapsulate(`/p2p/${peerId}`));
    } catch {
      // validateManifest refuses bad addresses; nothing to dial here
    }
  }
  return out;
}

function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(errorMessage).join("; ");
  return err instanceof Error ? err.message : String(err);
}
