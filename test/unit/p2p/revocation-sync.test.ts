import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sealRevocation } from "../../../src/consent/revocation.js";
import { ConsentStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent, Revocation } from "../../../src/gen/creditmesh/v1/consent.js";
import { RevocationsPage, RevocationsRequest } from "../../../src/gen/creditmesh/v1/peer.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { ManualClock } from "../../../src/clock.js";
import { isCreditMeshError } from "../../../src/errors.js";
import { silentLogger } from "../../../src/logger.js";
import { RateLimiter } from "../../../src/rate-limit.js";
import type { PeerComponents } from "../../../src/p2p/components.js";
import { RevocationSync } from "../../../src/p2p/revocation-sync.js";
import { RevocationsProtocol } from "../../../src/p2p/revocations-protocol.js";
import { applyRevocation } from "../../../src/p2p/revocations.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelConsentStore } from "../../../src/store/level-consent-store.js";
import { manifestFor } from "./net-fixture.js";

/** Two members' stores; the holder pulls from the lender through the handler, no network in between. */
let dir: string;
let dbs: NodeDatabase[];
let lenderStore: LevelConsentStore;
let holderStore: LevelConsentStore;
let lenderKey: NodeKey;
let holderKey: NodeKey;
let otherKey: NodeKey;
let membership: Membership;
let lenderId: string;
let otherId: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-revsync-"));
  dbs = await Promise.all(["lender", "holder"].map((n) => NodeDatabase.open(join(dir, n))));
  lenderStore = new LevelConsentStore(dbs[0]!);
  holderStore = new LevelConsentStore(dbs[1]!);
  [lenderKey, holderKey, otherKey] = [generateNodeKey(), generateNodeKey(), generateNodeKey()];
  const operator = generateNodeKey();
  membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: lenderKey }, { key: holderKey }, { key: otherKey }], 1));
  lenderId = membership.byPeerId(lenderKey.peerId)!.institutionId;
  otherId = membership.byPeerId(otherKey.peerId)!.institutionId;
});

afterEach(async () => {
  await Promise.all(dbs.map((db) => db.close()));
  await rm(dir, { recursive: true, force: true });
});

function consent(id: string, grantee = lenderId): Consent {
  return {
    consentId: id,
    subjectToken: "t".repeat(64),
    granteeInstitutionId: grantee,
    purpose: Purpose.LOAN_ORIGINATION,
    validFrom: new Date("2026-01-01T00:00:00.000Z"),
    validUntil: new Date("2026-04-01T00:00:00.000Z"),
    evidenceRef: "sha256:abcd",
    status: ConsentStatus.REVOKED,
    issuedAt: new Date("2026-01-01T00:00:01.000Z"),
    signature: Buffer.alloc(0),
    revokedAt: new Date("2026-02-01T00:00:00.000Z"),
  };
}

/** The lender issues a revocation the way ConsentService.revoke does. */
const issue = (id: string, key: NodeKey = lenderKey, grantee = lenderId) =>
  lenderStore.putIssuedRevocation(consent(id, grantee), (r: Revocation) => sealRevocation(r, key));

function sync(opts: { pageLimit?: number; tamper?: (page: RevocationsPage) => RevocationsPage; intervalMs?: number; connected?: string[] } = {}) {
  // The lender's side, never started: its handler is called directly.
  const served = new RevocationsProtocol(
    { peer: {} as PeerComponents["peer"], rpc: { request: async () => new Uint8Array() }, membership, signer: lenderKey, logger: silentLogger(), metrics: null, consents: lenderStore },
    { maxFrameBytes: 256 * 1024, handlerTimeoutMs: 5_000, pullIntervalMs: 60_000 },
  );
  const handler = (body: Uint8Array) => served.handleMessage(body, { peerId: "requester" });
  const requests: number[] = [];
  const connected: { listener?: (peerId: string) => void } = {};
  const s = new RevocationSync(
    { selfPeerId: holderKey.peerId, intervalMs: opts.intervalMs ?? 60_000 },
    {
      membership,
      consents: holderStore,
      request: async (_peerId, body, signal) => {
        const req = RevocationsRequest.decode(body);
        requests.push(Number(req.afterSequence));
        signal.throwIfAborted();
        const answer = await handler(RevocationsRequest.encode({ ...req, limit: opts.pageLimit ?? req.limit }).finish());
        return opts.tamper ? RevocationsPage.encode(opts.tamper(RevocationsPage.decode(answer))).finish() : answer;
      },
      apply: (data) => applyRevocation(data, { membership, consents: holderStore, logger: silentLogger(), metrics: null }, "pull"),
      onConnect: (listener) => {
        connected.listener = listener;
        return () => (connected.listener = undefined);
      },
      connectedPeers: () => opts.connected ?? [],
      logger: silentLogger(),
      metrics: null,
    },
  );
  return { s, requests, connect: (peerId: string) => connected.listener?.(peerId) };
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("revocation catch-up", () => {
  it("pulls every revocation the member issued, page by page, and then only newer ones", async () => {
    for (const id of ["c-1", "c-2", "c-3", "c-4", "c-5"]) await issue(id);
    const { s, requests } = sync({ pageLimit: 2 });
    expect(await s.pullFrom(lenderKey.peerId)).toBe(5);
    expect(requests).toEqual([0, 2, 4]);
    for (const id of ["c-1", "c-2", "c-3", "c-4", "c-5"]) expect(await holderStore.getRevocation(lenderId, id)).toEqual(new Date("2026-02-01T00:00:00.000Z"));
    expect(await holderStore.getRevocationCursor(lenderId)).toBe(5);

    await issue("c-6");
    requests.length = 0;
    expect(await s.pullFrom(lenderKey.peerId)).toBe(1);
    expect(requests).toEqual([5]);
    expect(await holderStore.getRevocation(lenderId, "c-6")).toBeDefined();
    expect(await s.pullFrom(lenderKey.peerId)).toBe(0);
  });

  it("a connection pulls from a member not pulled within the interval, and not from one pulled just now", async () => {
    await issue("c-1");
    const { s, requests, connect } = sync({ intervalMs: 1_000 });
    s.start();
    try {
      connect(lenderKey.peerId);
      await until(() => requests.length === 1);
      await until(async () => (await holderStore.getRevocationCursor(lenderId)) === 1);
      // Dialed again on demand right after: the pull just made stands.
      await new Promise((r) => setTimeout(r, 50));
      connect(lenderKey.peerId);
      await new Promise((r) => setTimeout(r, 100));
      expect(requests).toEqual([0]);
      // Once the interval has passed since that pull, a new connection pulls again.
      await issue("c-2");
      await new Promise((r) => setTimeout(r, 1_000));
      connect(lenderKey.peerId);
      await until(async () => (await holderStore.getRevocationCursor(lenderId)) === 2);
      expect(requests).toEqual([0, 1]);
    } finally {
      await s.stop();
    }
  });

  it("a member's delta level with what was pulled keeps it out of the periodic pull and the pull on connection; one ahead pulls at once", async () => {
    await issue("c-1");
    const { s, requests, connect } = sync({ connected: [lenderKey.peerId] });
    s.start();
    try {
      await until(async () => (await holderStore.getRevocationCursor(lenderId)) === 1); // start() pulls from the connected member
      await s.heard(lenderId, { head: 1, issuedAt: new Date() });
      s.pullAll();
      connect(lenderKey.peerId);
      await new Promise((r) => setTimeout(r, 100)); // a pull, had one been scheduled, would have asked by now
      expect(requests).toEqual([0]);

      // The gossip of c-2 was lost; the lender's next delta says its log ends at 2.
      await issue("c-2");
      await s.heard(lenderId, { head: 2, issuedAt: new Date() });
      await until(async () => (await holderStore.getRevocationCursor(lenderId)) === 2);
      expect(await holderStore.getRevocation(lenderId, "c-2")).toBeDefined();
      expect(requests).toEqual([0, 1]);
    } finally {
      await s.stop();
    }
  });

  it("a level delta older than two intervals no longer keeps the member out of the periodic pull", async () => {
    const { s, requests } = sync({ connected: [lenderKey.peerId], intervalMs: 60_000 });
    s.start();
    try {
      await until(() => requests.length === 1);
      await s.heard(lenderId, { head: 0, issuedAt: new Date(Date.now() - 121_000) });
      s.pullAll();
      await until(() => requests.length === 2);
      expect(requests).toEqual([0, 0]);
    } finally {
      await s.stop();
    }
  });

  it("a delta behind what was pulled (the member's log restarted) pulls; a non-member's, this node's own or one heard when stopped does nothing", async () => {
    await issue("c-1");
    const { s, requests } = sync();
    await s.heard(lenderId, { head: 5, issuedAt: new Date() }); // not started
    s.start();
    try {
      expect(await s.pullFrom(lenderKey.peerId)).toBe(1);
      requests.length = 0;
      await s.heard("bank-x", { head: 5, issuedAt: new Date() });
      await s.heard(membership.byPeerId(holderKey.peerId)!.institutionId, { head: 5, issuedAt: new Date() });
      await s.heard(lenderId, { head: 0, issuedAt: new Date() });
      await until(() => requests.length === 1);
      expect(requests).toEqual([1]);
    } finally {
      await s.stop();
    }
  });

  it("refuses an entry not signed by the member it asked, and stores nothing from it", async () => {
    await issue("c-1", otherKey);
    const { s } = sync();
    await expect(s.pullFrom(lenderKey.peerId)).rejects.toMatchObject({ code: "P2P_PROTOCOL" });
    expect(await holderStore.getRevocation(lenderId, "c-1")).toBeUndefined();
    expect(await holderStore.getRevocationCursor(lenderId)).toBe(0);
  });

  it("refuses a revocation of another institution's consent, even signed by the member", async () => {
    await issue("c-1", lenderKey, otherId);
    const { s } = sync();
    await expect(s.pullFrom(lenderKey.peerId)).rejects.toThrow(/another institution's consent/);
    expect(await holderStore.getRevocation(lenderId, "c-1")).toBeUndefined();
  });

  it("refuses positions that do not increase", async () => {
    await issue("c-1");
    await issue("c-2");
    const { s } = sync({ tamper: (p) => ({ ...p, revocations: [p.revocations[1]!, p.revocations[0]!] }) });
    await expect(s.pullFrom(lenderKey.peerId)).rejects.toThrow(/out of order/);
    expect(await holderStore.getRevocationCursor(lenderId)).toBe(0);
  });

  it("starts over when the member's log is behind the position pulled (its log restarted)", async () => {
    await issue("c-1");
    await holderStore.putRevocationCursor(lenderId, 40);
    const { s, requests } = sync();
    expect(await s.pullFrom(lenderKey.peerId)).toBe(1);
    expect(requests).toEqual([40, 0]);
    expect(await holderStore.getRevocation(lenderId, "c-1")).toBeDefined();
    expect(await holderStore.getRevocationCursor(lenderId)).toBe(1);
  });
});

describe("serving revocation pulls", () => {
  it("with p2p.rateLimitPerPeer set, a peer pulling faster is refused RATE_LIMITED before the log is read; other peers are not", async () => {
    await issue("c-1");
    const clock = new ManualClock("2026-03-01T00:00:00Z");
    let reads = 0;
    const consents = {
      lastIssuedSequence: () => (reads++, lenderStore.lastIssuedSequence()),
      listIssuedRevocations: (after: number, limit: number) => lenderStore.listIssuedRevocations(after, limit),
    } as unknown as LevelConsentStore;
    const served = new RevocationsProtocol(
      {
        peer: {} as PeerComponents["peer"], rpc: { request: async () => new Uint8Array() }, membership, signer: lenderKey, logger: silentLogger(), metrics: null,
        consents, rateLimiter: new RateLimiter(1, 1, clock),
      },
      { maxFrameBytes: 256 * 1024, handlerTimeoutMs: 5_000, pullIntervalMs: 60_000 },
    );
    const pull = RevocationsRequest.encode({ afterSequence: "0", limit: 10 }).finish();
    const pageOf = async (peerId: string) => RevocationsPage.decode(await served.handleMessage(pull, { peerId }));
    expect((await pageOf(holderKey.peerId)).revocations).toHaveLength(1);
    const err = await served.handleMessage(pull, { peerId: holderKey.peerId }).catch((e: unknown) => e);
    expect(isCreditMeshError(err, "RATE_LIMITED")).toBe(true);
    expect(reads).toBe(1);
    expect((await pageOf(otherKey.peerId)).revocations).toHaveLength(1);
    clock.advance(1_000);
    expect((await pageOf(holderKey.peerId)).revocations).toHaveLength(1);
  });
});
