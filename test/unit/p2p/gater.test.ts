import { describe, expect, test } from "vitest";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { Connection, MultiaddrConnection } from "@libp2p/interface";
import { silentLogger } from "../../../src/logger.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { Membership } from "../../../src/identity/manifest.js";
import { MembershipGater } from "../../../src/p2p/gater.js";
import { manifestFor } from "./net-fixture.js";

const operator = generateNodeKey();
const [a, b, outsider] = [generateNodeKey(), generateNodeKey(), generateNodeKey()];
const maConn = {} as MultiaddrConnection;

describe("MembershipGater", () => {
  test("admits members and refuses everyone else at every peer-aware hook", () => {
    const gater = new MembershipGater(new Membership(operator.publicKey, manifestFor(operator, [{ key: a }, { key: b }], 1)));
    const member = peerIdFromString(b.peerId);
    const stranger = peerIdFromString(outsider.peerId);
    for (const hook of [
      (p: typeof member) => gater.denyDialPeer(p),
      (p: typeof member) => gater.denyOutboundConnection(p, maConn),
      (p: typeof member) => gater.denyInboundEncryptedConnection(p, maConn),
      (p: typeof member) => gater.denyOutboundEncryptedConnection(p, maConn),
      (p: typeof member) => gater.denyInboundUpgradedConnection(p, maConn),
      (p: typeof member) => gater.denyOutboundUpgradedConnection(p, maConn),
    ]) {
      expect(hook(member)).toBe(false);
      expect(hook(stranger)).toBe(true);
    }
    expect(gater.denyDialMultiaddr(multiaddr("/ip4/127.0.0.1/tcp/4001"))).toBe(false);
    expect(gater.denyDialMultiaddr(multiaddr("/ip4/10.1.2.3/tcp/4001"))).toBe(false);
    expect(gater.denyInboundRelayReservation(member)).toBe(true);
  });

  test("follows manifest replacement and closes connections of removed members", () => {
    const membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: a }, { key: b }], 1));
    const gater = new MembershipGater(membership);
    const aborted: string[] = [];
    const conn = (peer: string) =>
      ({ remotePeer: peerIdFromString(peer), abort: () => aborted.push(peer) }) as unknown as Connection;
    const connections = [conn(a.peerId), conn(b.peerId)];
    const detach = gater.enforceOn({ getConnections: () => connections }, silentLogger());

    membership.replace(manifestFor(operator, [{ key: a }, { key: outsider }], 2));
    expect(gater.denyDialPeer(peerIdFromString(b.peerId))).toBe(true);
    expect(gater.denyDialPeer(peerIdFromString(outsider.peerId))).toBe(false);
    expect(aborted).toEqual([b.peerId]);

    detach();
    membership.replace(manifestFor(operator, [{ key: outsider }], 3));
    expect(aborted).toEqual([b.peerId]);
  });
});
