import type { Connection, ConnectionGater, MultiaddrConnection, PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { Logger } from "../logger.js";
import type { Membership, MembershipChange } from "../identity/manifest.js";

/**
 * Admits only peers named in the current manifest. Inbound peers are checked
 * as soon as the Noise handshake has proved who they are (nothing earlier
 * knows the peer id); outbound ones before a dial is even started. The
 * manifest is read on every call, so a replacement takes effect at once.
 */
export class MembershipGater implements ConnectionGater {
  readonly #membership: Membership;

  constructor(membership: Membership) {
    this.#membership = membership;
  }

  #deny(peerId: PeerId): boolean {
    return !this.#membership.has(peerId.toString());
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

  denyInboundEncryptedConnection(peerId: PeerId, _maConn: MultiaddrConnection): boolean {
    return this.#deny(peerId);
  }

  denyOutboundEncryptedConnection(peerId: PeerId, _maConn: MultiaddrConnection): boolean {
    return this.#deny(peerId);
  }

  // The manifest may change during the muxer upgrade; check again at the end.
  denyInboundUpgradedConnection(peerId: PeerId, _maConn: MultiaddrConnection): boolean {
    return this.#deny(peerId);
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
