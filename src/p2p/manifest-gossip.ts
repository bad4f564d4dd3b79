import { SignedManifest, type Membership } from "../identity/manifest.js";
import type { Logger } from "../logger.js";
import type { GossipVerdict, PeerNode, PeerService } from "./peer-node.js";
import { MANIFEST_GREETING_MIN_INTERVAL_MS, MANIFEST_TOPIC } from "./protocols.js";

/**
 * The creditmesh/manifest/1 topic, both ends: a newer operator-signed
 * manifest heard on it is applied at once, and the current one is gossiped
 * to peers that subscribe and periodically, so a node that missed an update
 * converges. Every peer node runs one (the gater depends on the manifest).
 */
export class ManifestGossip implements PeerService {
  #unsubscribe: (() => void) | undefined;
  #unlisten: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #soon: { timer: NodeJS.Timeout; due: number; flood: boolean } | undefined;
  #published: { at: number; body: Uint8Array } | undefined;

  constructor(
    private readonly c: { peer: Pick<PeerNode, "subscribe" | "publish" | "onTopicSubscriber" | "isStarted">; membership: Membership; logger: Logger },
    private readonly init: { republishMs: number; greetingMinIntervalMs?: number },
  ) {}

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.c.peer.subscribe(MANIFEST_TOPIC, (data, from) => this.#onMessage(data, from.peerId), (data, from) => this.#validate(data, from.peerId));
    this.#unlisten = this.c.peer.onTopicSubscriber(MANIFEST_TOPIC, () => this.#greet());
    if (this.init.republishMs > 0) {
      this.#timer = setInterval(() => this.#publishIn(0, false), this.init.republishMs);
      this.#timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#soon?.timer);
    this.#timer = this.#soon = undefined;
    this.#unlisten?.();
    this.#unsubscribe?.();
    this.#unlisten = this.#unsubscribe = undefined;
  }

  /** Applies a newer operator-signed manifest here and gossips it. False when it is not newer or not validly signed. */
  async apply(signed: SignedManifest, signal?: AbortSignal): Promise<boolean> {
    if (!this.c.membership.replace(signed)) return false;
    if (this.c.peer.isStarted) await this.#publish(signal);
    return true;
  }

  // Whoever relays it, only the operator's signature matters here: a member
  // added by this very manifest may be its first sender.
  #validate(data: Uint8Array, from: string): GossipVerdict {
    let signed: SignedManifest;
    try {
      signed = SignedManifest.decode(data);
    } catch {
      return "reject";
    }
    const verdict = this.c.membership.evaluate(signed);
    if (verdict.kind === "newer") return "accept";
    if (verdict.kind === "same" || verdict.kind === "older") return "ignore";
    this.c.logger.warn({ from, verdict: verdict.kind }, "rejected a manifest on the manifest topic");
    return "reject";
  }

  #onMessage(data: Uint8Array, from: string): void {
    let signed: SignedManifest;
    try {
      signed = SignedManifest.decode(data);
    } catch {
      return;
    }
    if (this.c.membership.replace(signed)) {
      this.c.logger.info({ from, version: this.c.membership.manifest.version }, "applied a newer manifest from gossip");
    }
  }

  // Each new connection is a new subscriber, and members dial each other on demand (filter fetches,
  // queries, evaluations): at a hundred members a greeting per connection, each reaching every peer of
  // the greeter, was a storm. A manifest already gossiped greets again at most once per greeting
  // interval (a minute: at 10 s, every node greeting its ~70 connections was still a third of the
  // gossip at 100 members).
  #greet(): void {
    const last = this.#published;
    const changed = last === undefined || !Buffer.from(last.body).equals(this.c.membership.signed.body);
    this.#publishIn(changed ? 0 : last.at + (this.init.greetingMinIntervalMs ?? MANIFEST_GREETING_MIN_INTERVAL_MS) - Date.now(), true);
  }

  // Debounced: several requests close together cost one publish, at the earliest time asked for.
  // A greeting floods (the new subscriber is seldom in the mesh); the periodic republish reaches the
  // mesh peers, each of which republishes to its own.
  #publishIn(ms: number, flood: boolean): void {
    if (!this.c.peer.isStarted || !this.#unsubscribe) return;
    const due = Date.now() + Math.max(100, ms);
    if (this.#soon !== undefined) {
      if (this.#soon.due <= due) {
        this.#soon.flood ||= flood;
        return;
      }
      clearTimeout(this.#soon.timer);
      flood ||= this.#soon.flood;
    }
    const timer = setTimeout(() => {
      const soon = this.#soon;
      this.#soon = undefined;
      this.#publish(undefined, soon?.flood ?? flood).catch((err: unknown) => this.c.logger.debug({ err }, "manifest gossip failed"));
    }, due - Date.now());
    timer.unref();
    this.#soon = { timer, due, flood };
  }

  async #publish(signal?: AbortSignal, flood = true): Promise<void> {
    const signed = this.c.membership.signed;
    // The interval that holds greetings back counts from the last publish that reached every connected peer.
    if (flood) this.#published = { at: Date.now(), body: signed.body };
    await this.c.peer.publish(MANIFEST_TOPIC, SignedManifest.encode(signed).finish(), signal, { flood });
  }
}
