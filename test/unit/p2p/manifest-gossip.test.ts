import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { Membership, SignedManifest } from "../../../src/identity/manifest.js";
import { silentLogger } from "../../../src/logger.js";
import { ManifestGossip } from "../../../src/p2p/manifest-gossip.js";
import { MANIFEST_TOPIC } from "../../../src/p2p/protocols.js";
import { manifestFor } from "./net-fixture.js";

/** A peer node that records what is published and lets the test announce new subscribers. */
function fakePeer() {
  const published: bigint[] = [];
  const flooded: boolean[] = [];
  let subscriber: ((peerId: string) => void) | undefined;
  return {
    published,
    flooded,
    newSubscriber: () => subscriber?.("a-new-peer"),
    peer: {
      isStarted: true,
      subscribe: () => () => undefined,
      publish: async (topic: string, data: Uint8Array, _signal?: AbortSignal, opts?: { flood?: boolean }) => {
        expect(topic).toBe(MANIFEST_TOPIC);
        published.push(versionOf(data));
        flooded.push(opts?.flood ?? false);
        return 1;
      },
      onTopicSubscriber: (_topic: string, listener: (peerId: string) => void) => {
        subscriber = listener;
        return () => (subscriber = undefined);
      },
    },
  };
}

const operator = generateNodeKey();
const members = [generateNodeKey(), generateNodeKey()].map((key) => ({ key }));
const versionOf = (data: Uint8Array) => new Membership(operator.publicKey, SignedManifest.decode(data)).version;

/** A node's manifest gossip at manifest version 2, started on a fake peer; greetings at most every 10 s. */
function started(republishMs: number) {
  const membership = new Membership(operator.publicKey, manifestFor(operator, members, 2));
  const f = fakePeer();
  const gossip = new ManifestGossip({ peer: f.peer, membership, logger: silentLogger() }, { republishMs, greetingMinIntervalMs: 10_000 });
  gossip.start();
  return { membership, f, gossip };
}

describe("ManifestGossip greetings", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  test("the first subscriber is greeted at once, later ones at most once per interval, and a new manifest at once again", async () => {
    const { membership, f, gossip } = started(0);

    f.newSubscriber();
    await vi.advanceTimersByTimeAsync(200);
    expect(f.published).toEqual([2n]);

    // Many connections in the next seconds: one more greeting, when the interval is over.
    for (let i = 0; i < 20; i++) {
      f.newSubscriber();
      await vi.advanceTimersByTimeAsync(300);
    }
    expect(f.published).toEqual([2n]);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(f.published).toEqual([2n, 2n]);

    // A manifest this node has not gossiped yet is not held back by the interval.
    expect(membership.replace(manifestFor(operator, members, 3))).toBe(true);
    f.newSubscriber();
    await vi.advanceTimersByTimeAsync(200);
    expect(f.published).toEqual([2n, 2n, 3n]);
    // Greetings go to every connected peer: the new subscriber is seldom in the mesh.
    expect(f.flooded).toEqual([true, true, true]);
    gossip.stop();
  });

  test("the periodic republish goes to the mesh, and is not held back by a pending greeting", async () => {
    const { f, gossip } = started(1_000);
    await vi.advanceTimersByTimeAsync(2_200);
    expect(f.published).toEqual([2n, 2n]);
    expect(f.flooded).toEqual([false, false]);
    gossip.stop();
  });

  test("a greeting due later is sent with the periodic republish, to every connected peer", async () => {
    const { f, gossip } = started(1_000);
    f.newSubscriber();
    await vi.advanceTimersByTimeAsync(200);
    f.newSubscriber(); // a greeting now waits ~10 s
    await vi.advanceTimersByTimeAsync(1_000);
    expect(f.published).toEqual([2n, 2n]);
    expect(f.flooded).toEqual([true, true]);
    gossip.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(f.published).toEqual([2n, 2n]);
  });
});
