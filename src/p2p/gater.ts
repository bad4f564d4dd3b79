import type { Connection, ConnectionGater, MultiaddrConnection, PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { Logger } from "../logger.js";
import type { Membership, MembershipChange } from "../identity/manifest.js";

const REFUSAL_LOG_INTERVAL_MS = 60_000;
const MAX_REFUSALS_TRACKED = 1024;

/**
 * Admits only peers named in the current manifest. Inbound peers are checked
 * as soon as the Noise handshake has proved who they are (nothing earlier
 * knows the peer id); outbound ones before a dial is even started. The
 * manifest is read on every call, so a replacement takes effect at once.
 */
export class MembershipGater implements ConnectionGater {
  readonly #membership: Membership;
  readonly #log: Logger | undefined;
  /** When each refused inbound peer was last logged, so a peer retrying in a loop cannot flood the log. */
  readonly #refusalsLogged = new Map<string, number>();

  constructor(membership: Membership, logger?: Logger) {
    this.#membership = membership;
    this.#log = logger;
  }

  #deny(peerId: PeerId): boolean {
    return !this.#membership.has(peerId.toString());
  }

  /** An inbound peer proved its identity and is not a member: say so, at most once a minute per peer. */
  #denyInbound(peerId: PeerId, maConn: MultiaddrConnection): boolean {
    if (!this.#deny(peerId)) return false;
    const peer = peerId.toString();
    const now = Date.now();
    const last = this.#refusalsLogged.get(peer);
    if (this.#log !== undefined && (last === undefined || now - last >= REFUSAL_LOG_INTERVAL_MS)) {
      if (this.#refusalsLogged.size >= MAX_REFUSALS_TRACKED) this.#refusalsLogged.clear();
      this.#refusalsLogged.set(peer, now);
      this.#log.warn({ peer_id: peer, remote_addr: maConn.remoteAddr?.toString() }, "refused a connection from a peer not in the manifest");
    }
    return true;
  }

  denyDialPeer(peerId: PeerId): boolean {
    return this.#deny(peerId);
  }

  // Members run on private networks and tests on loopback; libp2p's browser
  // default would refuse those, so the choice is explicit here.
  denyDialMultiaddr(_multiaddr: Multiaddr): boolean {
    return false;
  }

  denyOutboundConnection(peerId: PeerId, _maConn: MultiaddrConnection): boolean {
    return this.#deny(peerId);
  }

  denyInboundEncryptedConnection(peerId: PeerId, maConn: MultiaddrConnection): boolean {
    return this.#denyInbound(peerId, maConn);
  }

  denyOutboundEncryptedConnection(peerId: PeerId, _maConn: MultiaddrConnection): boolean {
    return this.#deny(peerId);
  }

  // The manifest may change during the muxer upgrade; check again at the end.
  denyInboundUpgradedConnection(peerId: PeerId, maConn: MultiaddrConnection): boolean {
    return this.#denyInbound(peerId, maConn);
  }

  denyOutboundUpgradedConnection(peerId: PeerId, _maConn: MultiaddrConnection): boolean {
    return this.#deny(peerId);
  }

  denyInboundRelayReservation(_source: PeerId): boolean {
    return true;
  }

  denyOutboundRelayedConnection(_source: PeerId, _destination: PeerId): boolean {
    return true;
  }

  denyInboundRelayedConnection(_relay: PeerId, _remotePeer: PeerId): boolean {
    return true;
  }

  /**
   * Closes connections of peers a manifest replacement removed. A gater is
   * only asked about new connections, so without this a removed member would
   * keep its open ones. Returns the function that detaches it.
   */
  enforceOn(node: { getConnections(): Connection[] }, logger: Logger): () => void {
    const onChange = (change: MembershipChange): void => {
      if (change.removed.length === 0) return;
      for (const conn of node.getConnections()) {
        const peer = conn.remotePeer.toString();
        if (this.#membership.has(peer)) continue;
        logger.info({ peer_id: peer }, "closing connection of a peer no longer in the manifest");
        conn.abort(new Error("peer removed from the membership manifest"));
      }
    };
    this.#membership.on("change", onChange);
    return () => {
      this.#membership.off("change", onChange);
    };
  }
}
