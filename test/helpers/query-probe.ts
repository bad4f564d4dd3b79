import { INQUIRY_PROOF_V1 } from "../../src/report/inquiry-proof.js";
import { randomBytes, randomUUID } from "node:crypto";
import { readSecrets } from "../../src/config/secrets.js";
import type { Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import type { QueryRequest } from "../../src/gen/creditmesh/v1/peer.js";
import { Membership, parseOperatorPublicKey } from "../../src/identity/manifest.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { silentLogger } from "../../src/logger.js";
import { PeerNode } from "../../src/p2p/peer-node.js";
import { QueryProtocol } from "../../src/p2p/query-protocol.js";
import { systemClock } from "../../src/clock.js";
import { CreditMeshError } from "../../src/errors.js";
import { RpcClient } from "../../src/p2p/rpc-client.js";
import type { HolderResult } from "../../src/report/assemble.js";

/**
 * Stands in for a lender's node on the wire, to test what the holders do with
 * a consent artefact that the lender's own node would refuse to send (revoked
 * or expired: ReportService checks the consent before any fan-out). It holds
 * the lender's node key (read from its secrets file), so it must only run
 * while that node is stopped; it sends exactly the signed query ReportService
 * would send, through the same QueryProtocol fan-out, without the local check.
 */
export class QueryProbe {
  private constructor(
    private readonly institutionId: string,
    private readonly peer: PeerNode,
    private readonly holders: QueryProtocol,
  ) {}

  static async start(opts: {
    institutionId: string;
    secretsFile: string;
    manifestFile: string;
    operatorPublicKey: string;
    listen?: string[];
  }): Promise<QueryProbe> {
    const key = NodeKey.fromSeed(Buffer.from(readSecrets(opts.secretsFile).nodeKey, "hex"));
    const membership = await Membership.fromFile(opts.manifestFile, parseOperatorPublicKey(opts.operatorPublicKey));
    const logger = silentLogger();
    const peer = await PeerNode.create({ key, membership, listen: opts.listen ?? ["/ip4/127.0.0.1/tcp/0"], logger, dialIntervalMs: 300 });
    const client = new RpcClient(peer, { logger });
    await peer.addService(client);
    // The requester's half only: this probe serves no queries, so its holder half is never started.
    const notServing = () => {
      throw new CreditMeshError("UNAVAILABLE", "the probe answers no queries");
    };
    const holders = new QueryProtocol(
      { peer, rpc: client, membership, signer: key, clock: systemClock, logger, metrics: null, holder: { answer: notServing, refuse: notServing, busy: notServing }, nonces: { claim: notServing, prune: notServing } },
      { institutionId: opts.institutionId, maxClockSkewMs: 60_000, maxFrameBytes: 1024 * 1024, handlerTimeoutMs: 5_000 },
    );
    await peer.start();
    return new QueryProbe(opts.institutionId, peer, holders);
  }

  isConnected(peerId: string): boolean {
    return this.peer.isConnected(peerId);
  }

  /** One signed query with `consent` to every furnishing member; one result per member. */
  ask(consent: Consent, purpose: Purpose, asOf: string, timeoutMs = 5_000): Promise<HolderResult[]> {
    const query: QueryRequest = {
      requestId: randomUUID(),
      requesterInstitutionId: this.institutionId,
      subjectToken: consent.subjectToken,
      purpose,
      consent,
      issuedAt: new Date(),
      nonce: randomBytes(16),
      asOf,
      inquiryProof: INQUIRY_PROOF_V1,
    };
    return this.holders.ask(query, AbortSignal.timeout(timeoutMs));
  }

  /**
   * Publishes `data` on `topic` as this member, as its node's gossip would;
   * joins the topic first so the message goes to its mesh. Returns how many
   * peers it went to (0 until the mesh has formed).
   */
  gossip(topic: string, data: Uint8Array): Promise<number> {
    if (!this.topics.has(topic)) {
      this.topics.add(topic);
      this.peer.subscribe(topic, () => undefined);
    }
    return this.peer.publish(topic, data);
  }

  private readonly topics = new Set<string>();

  stop(): Promise<void> {
    return this.peer.stop();
  }
}
