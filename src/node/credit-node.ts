import { existsSync } from "node:fs";
import path from "node:path";
import { ClientAuth } from "../api/auth.js";
import { disputeApi } from "../api/disputes.js";
import { GrpcServer } from "../api/server.js";
import { ApiKeyAuditor } from "../audit/api-keys.js";
import { LevelAuditLog } from "../audit/level-audit-log.js";
import { systemClock, type Clock } from "../clock.js";
import { backupDirUnder } from "../config/backup-root.js";
import { backupRootPath, databasePath, erasureLedgerPath, secretsPath } from "../config/load.js";
import { peerRateLimit, type NodeConfig, type PeerRateLimits } from "../config/schema.js";
import { removeRuntime, writeRuntime } from "../config/runtime-file.js";
import { addDataKey, loadOrCreateSecrets, readSecrets, removeTokenKey, retireDataKeys, type Secrets } from "../config/secrets.js";
import { loadTlsMaterial } from "../config/tls.js";
import { ConsentService } from "../consent/service.js";
import { accountDeletionEffects } from "../disputes/account-deletion.js";
import { DisputeService, type DisputeReceiver } from "../disputes/service.js";
import { CreditMeshError } from "../errors.js";
import type { Dispute } from "../gen/creditmesh/v1/dispute.js";
import type { GetNodeStatusResponse, PublishedFilterStatus } from "../gen/creditmesh/v1/node.js";
import { Membership, parseOperatorPublicKey } from "../identity/manifest.js";
import { NodeKey, verifyByPeerId } from "../identity/node-key.js";
import { VerifiedSignatures } from "../identity/verified-signatures.js";
import { createLogger, type Logger } from "../logger.js";
import { RateLimiter } from "../rate-limit.js";
import { accountRefFor, IngestService } from "../records/ingest.js";
import { RetentionJob } from "../records/retention-job.js";
import { InquiryProofs } from "../report/inquiry-proof.js";
import { HolderService } from "../report/holder.js";
import { ReportService } from "../report/service.js";
import { QueryQuota } from "../report/query-quota.js";
import { ReportQuotaGate } from "../report/quota-gate.js";
import { openStores, type Stores } from "../store/index.js";
import { LevelAuditedApiKeys } from "../store/audited-api-keys.js";
import { ErasureLedger } from "../store/erasure-ledger.js";
import { secureDataDir } from "../store/file-modes.js";
import { KeyBinding } from "../store/key-binding.js";
import { KeyRotation } from "../store/key-rotation.js";
import { SubjectPurge } from "../store/subject-purge.js";
import type { SubjectTokens } from "../subject/tokenizer.js";
import { nodeTokenScheme, type NodeTokenScheme } from "./token-scheme.js";
import { aliasedInquiries, aliasedSubjectIndex, LevelTokenAliases } from "../store/token-aliases.js";
import { TokenMigration } from "./token-migration.js";
import { SubjectTokenParts } from "./subject-tokens.js";
import { NODE_VERSION } from "../version.js";
import { AdminService } from "./admin.js";
import { takeBackup } from "./backup.js";
import { createMetrics, type Metrics } from "../metrics.js";
import type { PeerComponents } from "../p2p/components.js";
import { DisputeProtocol } from "../p2p/dispute-protocol.js";
import { DisputeStatusProtocol } from "../p2p/dispute-status-protocol.js";
import { ManifestFileWatch } from "../p2p/manifest-file.js";
import { PeerNode } from "../p2p/peer-node.js";
import {
  DISPUTE_MAX_FRAME_BYTES,
  QUERY_MAX_FRAME_BYTES,
  REVOCATIONS_HANDLER_TIMEOUT_MS,
  REVOCATIONS_MAX_FRAME_BYTES,
} from "../p2p/protocols.js";
import { QueryProtocol } from "../p2p/query-protocol.js";
import { RevocationGossip } from "../p2p/revocation-gossip.js";
import { RevocationsProtocol } from "../p2p/revocations-protocol.js";
import { RpcClient } from "../p2p/rpc-client.js";
import type { DisputeRouter } from "../disputes/service.js";
import type { LogEvidence, MemberStatus } from "../gen/creditmesh/v1/node.js";
import { MetricsServer } from "./metrics.js";
import { FilterParts } from "./filter-parts.js";
import { NodeTransparencyLog } from "./transparency-log.js";
import { LeafSaltKey } from "../tlog/leaf-salt.js";
import { CheckpointWitnessing, witnessesOf } from "./checkpoint-witnessing.js";
import { WitnessProtocol } from "../p2p/witness-protocol.js";
import { evidenceToShow, LogEvidenceGossip } from "../p2p/log-evidence-gossip.js";
import { WITNESS_MAX_FRAME_BYTES } from "../p2p/protocols.js";
import { LevelWitnessStore } from "../store/level-witness-store.js";

/** Consent signatures that verified, remembered (~100 bytes each) so repeat queries skip the check. */
const VERIFIED_CONSENTS_KEPT = 20_000;
const VERIFIED_INQUIRY_PROOFS_KEPT = 20_000;

export interface CreditNodeOptions {
  config: NodeConfig;
  logger?: Logger;
  clock?: Clock;
  /** This node's metrics (default: a registry of its own); null records none. */
  metrics?: Metrics | null;
}

/** The peer side of a running node, as the composition root wired it. */
interface PeerParts {
  peer: PeerNode;
  membership: Membership;
  queries: QueryProtocol;
  disputes: DisputeRouter;
  revocations: RevocationGossip;
  filters?: FilterParts;
  /** The token committee's parts; its tokenizer is undefined while the manifest names no committee. */
  tokens: SubjectTokenParts;
}

/**
 * Builds a node's parts in dependency order and stops them in reverse:
 * stores → services → network → gRPC. The only place that knows every part.
 */
export class CreditNode {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly secretsFile: string;
  readonly secretsCreated: boolean;
  private readonly secrets: Secrets;
  readonly key: NodeKey;
  private stores?: Stores;
  private retention?: RetentionJob;
  private audit?: LevelAuditLog;
  private tlog?: NodeTransparencyLog;
  private witnessing?: CheckpointWitnessing;
  private witnessStore?: LevelWitnessStore;
  private apiKeyAuditor?: ApiKeyAuditor;
  private p2p?: PeerParts;
  private tokenScheme?: NodeTokenScheme;
  private tokenAliases?: LevelTokenAliases;
  readonly metrics: Metrics | null;
  private grpc?: GrpcServer;
  private metricsServer?: MetricsServer;
  private uncountDisputes?: () => void;
  private state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";

  private constructor(opts: CreditNodeOptions) {
    this.config = opts.config;
    this.logger = opts.logger ?? createLogger({ level: opts.config.log.level });
    this.clock = opts.clock ?? systemClock;
    this.metrics = opts.metrics === undefined ? createMetrics() : opts.metrics;
    this.secretsFile = secretsPath(this.config);
    // A node alone tokenizes with its committee of one; a network member holds no token key.
    const { secrets, created } = loadOrCreateSecrets(this.secretsFile, { databaseDir: databasePath(this.config), localTokenKey: !this.config.p2p.enabled });
    this.secrets = secrets;
    this.secretsCreated = created;
    this.key = NodeKey.fromSeed(Buffer.from(secrets.nodeKey, "hex"));
  }

  /** Creates the node (and its secrets file on first start); call start() to serve. */
  static create(opts: CreditNodeOptions): CreditNode {
    return new CreditNode(opts);
  }

  get grpcAddress(): string {
    if (!this.grpc) throw new CreditMeshError("UNAVAILABLE", "node is not running");
    return this.grpc.address;
  }

  get localApiKey(): string {
    return this.secrets.localApiKey;
  }

  /** The metrics/log HTTP server's address (host:port), or "" when metrics are off. */
  get httpAddress(): string {
    return this.metricsServer?.address ?? "";
  }

  /** This node's transparency log, while running. */
  get transparencyLog(): NodeTransparencyLog {
    if (!this.tlog) throw new CreditMeshError("UNAVAILABLE", "node is not running");
    return this.tlog;
  }

  get peerMultiaddrs(): string[] {
    return this.p2p?.peer.multiaddrs() ?? [];
  }

  async start(): Promise<void> {
    if (this.state !== "new") return;
    this.state = "starting";
    try {
      await this.startParts();
      this.state = "running";
    } catch (err) {
      // A failed start undoes itself, so nothing is left holding ports or the DB lock.
      await this.stopParts();
      this.state = "stopped";
      throw err;
    }
  }

  private async startParts(): Promise<void> {
    const { config, logger, clock, metrics } = this;
    const institutionId = config.institution.id;
    const log = (module: string) => logger.child({ module });
    // Before anything opens: a node must not come up half-secured.
    const tls = config.grpc.tls ? { config: config.grpc.tls, material: loadTlsMaterial(config.grpc.tls) } : undefined;

    secureDataDir(path.resolve(config.storage.dataDir), databasePath(config));
    this.stores = await openStores(databasePath(config), {
      logger: log("store"),
      dataKeys: this.secrets.dataKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, "hex") })),
    });
    const stores = this.stores;
    const keyBinding = new KeyBinding(stores.db, this.secretsFile);
    await keyBinding.check(this.secrets);
    const tlog = (this.tlog = await NodeTransparencyLog.open(
      stores.db,
      { origin: institutionId, checkpointIntervalMs: config.tlog.checkpointIntervalMs, auditHeadEvery: config.tlog.auditHeadEvery, answerProofs: config.tlog.answerProofs },
      {
        signer: { name: institutionId, publicKey: this.key.publicKey, sign: (d) => this.key.sign(d) },
        logger: log("tlog"),
        metrics,
        saltKey: LeafSaltKey.derivedFrom(Buffer.from(this.secrets.accountRefKey, "hex")),
      },
    ));
    const audit = (this.audit = await LevelAuditLog.open(stores.db, {
      clock,
      logger: log("audit"),
      sign: (data) => this.key.sign(data),
      publicKey: this.key.publicKey,
      headExport: tlog.auditHeads,
      logCarrier: (ops, leaves) => tlog.carry(ops, leaves),
      logOrigin: institutionId,
    }));
    this.apiKeyAuditor = new ApiKeyAuditor({ secretsFile: this.secretsFile }, { audit, recorded: new LevelAuditedApiKeys(stores.db), logger: log("audit") });
    await this.apiKeyAuditor.start();
    const membership = config.p2p.enabled ? await this.loadMembership() : undefined;
    if (membership && membership.byInstitution(institutionId)?.peerId !== this.key.peerId) {
      throw new CreditMeshError(
        "MANIFEST_INVALID",
        `the manifest does not list institution ${institutionId} with this node's peer id ${this.key.peerId}`,
      );
    }

    const filters = membership && config.filters.enabled
      ? new FilterParts({ ...config.filters, institutionId }, {
        db: stores.db, key: this.key, membership, clock, metrics, logger: log("filters"),
        logFilter: (leaf) => tlog.filterPublished(leaf),
        revocationHead: () => stores.consents.lastIssuedSequence(),
      })
      : undefined;
    const noteToken = filters && ((token: string) => filters.noteToken(token));
    if (filters && !membership?.tokenCommittee()) logger.warn("filters are on with HMAC subject tokens: any member can test guessed identifiers against them; use only on test networks");
    // The committee's tokenizer is bound late: it exists once the peer side does.
    const scheme = (this.tokenScheme = nodeTokenScheme(
      { secrets: this.secrets, p2pEnabled: config.p2p.enabled, hasCommittee: membership?.tokenCommittee() !== undefined, network: membership && { networkId: membership.networkId, version: membership.version.toString() } },
      { committeeTokens: () => this.p2p?.tokens?.tokenizer, logger: log("tokens") },
    ));
    const subjectTokens: SubjectTokens = scheme.subjectTokens;
    const tokenizer = {
      nameTag: (subjectToken: string, name: string) => scheme.subjectTokens.nameTag!(subjectToken, name),
      nameTags: (subjectToken: string, name: string) => scheme.subjectTokens.nameTags!(subjectToken, name),
    };
    const inquirers = scheme.pseudonyms;
    const consentSignatures = new VerifiedSignatures({ max: VERIFIED_CONSENTS_KEPT }, verifyByPeerId);
    // One inquiry comes back in the answers of every holder asked about its subject, report after report.
    const inquiryProofSignatures = new VerifiedSignatures({ max: VERIFIED_INQUIRY_PROOFS_KEPT }, verifyByPeerId);
    const verifyGranteeSignature = (granteeId: string, data: Uint8Array, signature: Uint8Array): boolean => {
      const peerId = granteeId === institutionId ? this.key.peerId : membership?.byInstitution(granteeId)?.peerId;
      return peerId !== undefined && consentSignatures.verify(peerId, data, signature);
    };

    const ingest = new IngestService(
      { accountRefKey: Buffer.from(this.secrets.accountRefKey, "hex"), maxAmountMinor: config.records.maxAmountMinor },
      {
        store: stores.records,
        recordLog: config.tlog.recordVersions ? tlog : undefined,
        deletions: accountDeletionEffects({ institutionId, disputes: stores.disputes, audit, clock }),
        tokenizer: subjectTokens,
        sealer: stores.cipher,
        clock,
        logger: log("ingest"),
        onSubjectHeld: noteToken,
      },
    );
    // Subjects re-indexed by `tokens migrate` stay answerable under their earlier tokens until the transition ends.
    const aliases = (this.tokenAliases = new LevelTokenAliases(stores.db));
    // One count per member and subject, kept by the holder and taken by this node's own reports before their fan-out.
    const queryQuota = await QueryQuota.open(
      { subjectPerDay: config.p2p.subjectQueriesPerDay, memberPerDay: config.p2p.memberQueriesPerDay },
      stores.queryQuota,
      clock.now(),
      log("quota"),
    );
    const holder = new HolderService(
      { institutionId, maxClockSkewMs: config.p2p.maxClockSkewMs, subjectQueriesPerDay: config.p2p.subjectQueriesPerDay },
      {
        subjects: aliasedSubjectIndex(stores.subjects, aliases),
        records: stores.records,
        consents: stores.consents,
        inquiries: aliasedInquiries(stores.inquiries, aliases),
        disputes: stores.disputes,
        sign: (data) => this.key.sign(data),
        verifyGranteeSignature,
        audit,
        answerLog: tlog,
        reindexedToken: async (token) => (await aliases.resolve(token)) !== undefined,
        inquirerPseudonym: (subjectToken, institutionId) => inquirers.of(subjectToken, institutionId),
        clock,
        logger: log("holder"),
        onSubjectHeld: noteToken,
        metrics: this.metrics,
        quota: queryQuota,
      },
    );

    // Bound lazily: the dispute service routes through the peer protocols, which serve it.
    const receiver = { receive: (d: Dispute, from: string) => disputes.receive(d, from), statusFor: (id: string, from: string) => disputes.statusFor(id, from) };
    const p2p = (this.p2p = membership ? await this.createPeerParts(membership, { holder, receiver, stores, audit, filters, tlog }) : undefined);
    const consents = new ConsentService(
      { institutionId, maxClockSkewMs: config.p2p.maxClockSkewMs },
      {
        store: stores.consents,
        signer: this.key,
        clock,
        logger: log("consent"),
        publishRevocation: p2p ? (r) => p2p.revocations.publish(r) : undefined,
        audit,
        currentTokenOf: (earlier) => aliases.resolve(earlier),
      },
    );
    const accountRefKey = Buffer.from(this.secrets.accountRefKey, "hex");
    const disputes: DisputeService = new DisputeService(
      { institutionId, responseDays: config.disputes.responseDays, maxClockSkewMs: config.p2p.maxClockSkewMs },
      {
        store: stores.disputes,
        records: stores.records,
        ingest,
        consents: {
          usableFor: (subjectToken) => consents.usableFor(subjectToken),
          getRevocation: (grantee, consentId) => stores.consents.getRevocation(grantee, consentId),
          verifyGranteeSignature,
        },
        accountRefOf: (accountId) => accountRefFor(accountRefKey, accountId),
        subjectNameOf: async (accountRef) => {
          const [account] = await stores.records.getAccounts([accountRef]);
          return account && stores.cipher.openPii(account.pii, accountRef).name;
        },
        router: p2p?.disputes,
        audit,
        clock,
        logger: log("dispute"),
        tombstones: tlog,
      },
    );

    this.uncountDisputes = metrics?.countOpenDisputesWith(() => disputes.openCounts());

    const reports = new ReportService(
      {
        institutionId,
        peerId: this.key.peerId,
        defaultDeadlineMs: config.report.defaultDeadlineMs,
        maxDeadlineMs: config.report.maxDeadlineMs,
      },
      {
        consents,
        holder,
        holders: p2p?.queries,
        router: filters?.router,
        memberNames: () => this.memberNames(membership),
        nameTags: (subjectToken, name) => tokenizer.nameTags(subjectToken, name),
        clock,
        logger: log("report"),
        quotaGate: new ReportQuotaGate({ institutionId }, { quota: queryQuota, metrics: this.metrics }),
        metrics,
        inquiryProofs: membership && new InquiryProofs({
          memberIds: () => membership.institutionIds(),
          peerIdOf: (id) => membership.byInstitution(id)?.peerId,
          pseudonymOf: (subjectToken, id) => inquirers.of(subjectToken, id),
          verify: (signer, data, signature) => inquiryProofSignatures.verify(signer, data, signature),
        }),
      },
    );

    await p2p?.peer.start();
    if (p2p) await this.countEvidence();

    const subjectPurge = new SubjectPurge({ ...stores, audit, ledger: new ErasureLedger(erasureLedgerPath(config)), clock, logger: log("purge"), tombstones: tlog });
    const keyRotation = new KeyRotation(
      {},
      {
        cipher: stores.cipher,
        records: stores.records,
        keyFile: {
          add: async () => {
            const k = addDataKey(this.secretsFile);
            await keyBinding.addDataKey(k);
            return { id: k.id, key: Buffer.from(k.key, "hex") };
          },
          retire: async (ids) => {
            await keyBinding.retireDataKeys(ids);
            retireDataKeys(this.secretsFile, ids);
          },
        },
        audit,
        logger: log("key-rotation"),
      },
    );
    if (stores.cipher.keyIds.length > 1) {
      logger.warn({ keyIds: stores.cipher.keyIds }, "several data keys are configured (an unfinished rotation?): run `creditmesh keys rotate`");
    }

    this.grpc = new GrpcServer(
      {
        host: config.grpc.host,
        port: config.grpc.port,
        maxBatchRecords: config.grpc.maxBatchRecords,
        maxMessageBytes: config.grpc.maxMessageBytes,
        maxRequestBytes: config.grpc.maxRequestBytes,
        methodMaxRequestBytes: config.grpc.methodMaxRequestBytes,
        tls,
      },
      {
        auth: new ClientAuth(this.secretsFile, config.grpc.tls?.clientRoles, clock),
        rateLimiter: config.grpc.rateLimitPerKey > 0 ? new RateLimiter(config.grpc.rateLimitPerKey, undefined, clock) : undefined,
        ingest,
        consents,
        reports,
        disputes: disputeApi(disputes),
        admin: new AdminService({
          audit,
          backup: (outDir) =>
            takeBackup(stores.db, backupDirUnder(backupRootPath(config), outDir), {
              institutionId,
              peerId: this.key.peerId,
              // From the file, so that a rotated key is named even before this process reloads it.
              dataKeys: () => readSecrets(this.secretsFile).dataKeys,
              clock,
            }),
          purgeSubject: (subjectToken, requestRef, caller) => subjectPurge.purge(subjectToken, requestRef, caller.keyId),
          runTokenCeremony: p2p && ((plan, caller) => p2p.tokens.runCeremony(plan, caller.keyId)),
          rotateDataKey: async (caller) => {
            const r = await keyRotation.rotate(caller.keyId);
            return { keyId: r.keyId, resealed: String(r.resealed), retiredKeyIds: r.retiredKeyIds };
          },
          logger: log("admin"),
        }),
        tokenizer: subjectTokens,
        status: () => this.status(),
        log: tlog.api(),
        clock,
        logger: log("api"),
        metrics,
      },
    );
    await this.grpc.start();

    if (config.retention.enabled) {
      this.retention = new RetentionJob(
        { accountYears: config.retention.accountYears, inquiryYears: config.retention.inquiryYears, institutionId, intervalMs: config.retention.intervalMs },
        { records: stores.records, disputes: stores.disputes, inquiries: stores.inquiries, consents: stores.consents, clock, audit, logger: log("retention"), tombstones: tlog },
      );
      this.retention.start();
    }

    tlog.start();

    if (config.metrics.enabled) {
      this.metricsServer = new MetricsServer({ host: config.metrics.host, port: config.metrics.port }, {
        logger: log("metrics"),
        metrics: metrics ?? createMetrics(),
        extra: tlog.httpHandler(),
      });
      await this.metricsServer.start();
    }
    writeRuntime(config, { pid: process.pid, grpcAddr: this.grpc.address, peerId: this.key.peerId, multiaddrs: this.peerMultiaddrs });
    logger.info({ institutionId, peerId: this.key.peerId, grpc: this.grpc.address, version: NODE_VERSION }, "node started");
  }

  /**
   * The peer side: one libp2p node and the protocols it serves and calls,
   * each built from the parts it needs and started and stopped by the node.
   */
  private async createPeerParts(
    membership: Membership,
    parts: { holder: HolderService; receiver: DisputeReceiver; stores: Stores; audit: LevelAuditLog; filters?: FilterParts; tlog: NodeTransparencyLog },
  ): Promise<PeerParts> {
    const { config, clock, metrics } = this;
    const { p2p } = config;
    const institutionId = config.institution.id;
    const logger = this.logger.child({ module: "p2p" });
    const peer = await PeerNode.create({
      key: this.key, membership, listen: p2p.listen, logger, dialIntervalMs: p2p.redialIntervalMs, keepConnected: p2p.keepConnected, idleCloseMs: p2p.idleCloseMs,
    });
    const rpc = new RpcClient(peer, { maxFrameBytes: p2p.maxMessageBytes, logger });
    const components: PeerComponents = { peer, rpc, membership, signer: this.key, clock, logger, metrics };
    const limiter = (protocol: keyof PeerRateLimits) => {
      const rate = peerRateLimit(p2p, protocol);
      return rate > 0 ? new RateLimiter(rate, undefined, clock) : undefined;
    };
    const skew = { maxClockSkewMs: p2p.maxClockSkewMs, handlerTimeoutMs: p2p.handlerTimeoutMs };

    const queries = new QueryProtocol(
      { ...components, logger: logger.child({ protocol: "query" }), holder: parts.holder, nonces: parts.stores.nonces, rateLimiter: limiter("query"), logAnswered: (a) => parts.tlog.answered(a) },
      {
        ...skew,
        institutionId,
        maxFrameBytes: Math.min(p2p.maxMessageBytes, QUERY_MAX_FRAME_BYTES),
        maxConcurrentQueries: p2p.maxConcurrentQueries,
        maxConcurrentQueriesPerMember: p2p.maxConcurrentQueriesPerMember,
        answerTurns: p2p.answerTurns,
        maxInFlightPerHolder: p2p.maxInFlightPerHolder,
        requireAnswerProofs: config.tlog.answerProofs,
      },
    );
    // One budget per member for filings and status requests together.
    const disputeComponents = { ...components, logger: logger.child({ protocol: "dispute" }), receiver: parts.receiver, rateLimiter: limiter("dispute") };
    const disputeInit = { ...skew, institutionId, maxFrameBytes: Math.min(p2p.maxMessageBytes, DISPUTE_MAX_FRAME_BYTES) };
    const disputes = new DisputeProtocol(disputeComponents, disputeInit);
    const disputeStatus = new DisputeStatusProtocol(disputeComponents, disputeInit);
    const revocationParts = { ...components, logger: logger.child({ protocol: "revocations" }), consents: parts.stores.consents, audit: parts.audit };
    const revocationsPull = new RevocationsProtocol({ ...revocationParts, rateLimiter: limiter("revocations") }, {
      maxFrameBytes: REVOCATIONS_MAX_FRAME_BYTES,
      handlerTimeoutMs: REVOCATIONS_HANDLER_TIMEOUT_MS,
      pullIntervalMs: p2p.revocationPullIntervalMs,
    });
    const revocations = new RevocationGossip(revocationParts);
    // Every member witnesses the logs of those that ask, and asks a few of the members it keeps connected to witness its own.
    const witnessStore = (this.witnessStore = new LevelWitnessStore(parts.stores.db));
    const evidenceGossip = new LogEvidenceGossip({ ...components, logger: logger.child({ protocol: "log-evidence" }), store: witnessStore, onEvidence: () => void this.countEvidence() });
    const witness = new WitnessProtocol(
      {
        ...components,
        logger: logger.child({ protocol: "witness" }),
        store: witnessStore,
        rateLimiter: limiter("witness"),
        witness: { name: institutionId, publicKey: this.key.publicKey, sign: (d) => this.key.sign(d) },
        onEvidence: (_origin, note) => {
          void this.countEvidence();
          evidenceGossip.publish(note).catch((err: unknown) => logger.warn({ err: (err as Error).message }, "gossiping log evidence failed"));
        },
      },
      { maxFrameBytes: Math.min(p2p.maxMessageBytes, WITNESS_MAX_FRAME_BYTES), handlerTimeoutMs: p2p.handlerTimeoutMs },
    );
    const witnessing = (this.witnessing = new CheckpointWitnessing(
      { quorum: Math.min(config.tlog.witnessQuorum, config.tlog.witnesses, membership.members().length - 1) },
      {
        log: parts.tlog.log,
        witnesses: () => witnessesOf(peer.peerId, membership, config.tlog.witnesses),
        protocol: witness,
        logger: logger.child({ part: "witnessing" }),
      },
    ));
    parts.tlog.onPublished = (note) => witnessing.published(note);
    parts.tlog.cosigned = () => witnessing.cosigned;

    const tokens = await SubjectTokenParts.create(membership, components, {
      institutionId, maxClockSkewMs: p2p.maxClockSkewMs, dailyTokenQuota: this.config.tokens.dailyQuota, evaluationDeadlineMs: this.config.tokens.evaluationDeadlineMs, secrets: this.secrets, stores: parts.stores, audit: parts.audit,
      rateLimiter: limiter("tokens"),
    });

    // Started in this order after libp2p, stopped in reverse before it.
    await peer.addService(rpc);
    for (const protocol of [queries, disputes, disputeStatus, revocationsPull, revocations, witness, evidenceGossip, ...tokens.services]) {
      await peer.addService(protocol);
    }
    for (const service of parts.filters?.peerServices(components, logger, limiter("filters"), (id, head) => void revocationsPull.sync.heard(id, head)) ?? []) await peer.addService(service);
    if (p2p.manifestFile) await peer.addService(new ManifestFileWatch(p2p.manifestFile, { peer, logger }));
    return {
      peer,
      membership,
      queries,
      revocations,
      filters: parts.filters,
      tokens,
      disputes: {
        send: (holderId, dispute, signal) => disputes.send(holderId, dispute, signal),
        status: (holderId, disputeId, signal) => disputeStatus.fetch(holderId, disputeId, signal),
      },
    };
  }

  private async countEvidence(): Promise<void> {
    const held = evidenceToShow((await this.witnessStore?.evidence()) ?? [], this.config.institution.id);
    this.metrics?.logEquivocations.set(new Set(held.map((e) => e.origin)).size);
  }

  private async logEvidence(): Promise<LogEvidence[]> {
    const held = evidenceToShow((await this.witnessStore?.evidence()) ?? [], this.config.institution.id);
    return held.map((e) => ({ origin: e.origin, observedAt: new Date(e.observedAt), kind: e.note.split("\n")[1] ?? "", note: e.note }));
  }

  private memberStatus(): MemberStatus[] {
    const p2p = this.p2p;
    if (!p2p) return [];
    const router = p2p.filters?.router;
    return p2p.membership.members().map((m) => {
      const self = m.peerId === this.key.peerId;
      const filter = router && !self ? router.standing(m.institutionId) : undefined;
      return {
        institutionId: m.institutionId,
        name: m.name,
        peerId: m.peerId,
        roles: m.roles,
        connected: self || p2p.peer.isConnected(m.peerId),
        filter: filter && {
          epoch: String(filter.epoch),
          deltaHead: String(filter.deltaHead),
          failOpen: filter.failOpen ?? "",
          lastHeardAt: filter.lastHeardAt,
          failingOpenSince: filter.failingOpenSince,
          skippedPastLimit: filter.skippedPastLimit,
          consistency: filter.consistency && {
            epoch: String(filter.consistency.epoch),
            routed: String(filter.consistency.routed),
            claimed: String(filter.consistency.claimed),
            claimedNoData: String(filter.consistency.claimedNoData),
            probed: String(filter.consistency.probed),
            deniedWithData: String(filter.consistency.deniedWithData),
            inflated: filter.consistency.inflated,
            hiding: filter.consistency.hiding,
          },
        },
      };
    });
  }

  private async loadMembership(): Promise<Membership> {
    const { p2p } = this.config;
    if (!p2p.manifestFile || !existsSync(p2p.manifestFile)) {
      throw new CreditMeshError("CONFIG_INVALID", "p2p.manifestFile: required (an existing signed manifest) when p2p.enabled", {
        field: "p2p.manifestFile",
      });
    }
    if (!p2p.operatorPublicKey) {
      throw new CreditMeshError("CONFIG_INVALID", "p2p.operatorPublicKey: required when p2p.enabled", { field: "p2p.operatorPublicKey" });
    }
    return Membership.fromFile(p2p.manifestFile, parseOperatorPublicKey(p2p.operatorPublicKey));
  }

  private memberNames(membership: Membership | undefined): Map<string, string> {
    const names = new Map<string, string>([[this.config.institution.id, this.config.institution.name]]);
    for (const m of membership?.members() ?? []) names.set(m.institutionId, m.name);
    return names;
  }

  async status(): Promise<GetNodeStatusResponse> {
    if (!this.stores) throw new CreditMeshError("UNAVAILABLE", "node is not running");
    const counts = await this.stores.records.counts();
    return {
      institutionId: this.config.institution.id,
      peerId: this.key.peerId,
      members: this.memberStatus(),
      accounts: String(counts.accounts),
      subjects: String(counts.subjects),
      version: NODE_VERSION,
      networkId: this.p2p?.membership.networkId ?? "",
      manifestVersion: this.p2p?.membership.version.toString() ?? "0",
      logEvidence: await this.logEvidence(),
      tokenCommitteeEpoch: String(this.p2p?.tokens.committee?.epoch ?? 0),
      tokenEvaluator: this.p2p?.tokens.evaluator ?? false,
      publishedFilter: this.publishedFilter(),
    };
  }

  private publishedFilter(): PublishedFilterStatus | undefined {
    const published = this.p2p?.filters?.builder.published();
    if (!published) return undefined;
    const { announcement: a, deltas } = published;
    return { epoch: String(a.epoch), count: String(a.count), filterBytes: String(a.filterBytes), deltas: String(deltas), builtAt: a.issuedAt };
  }

  /**
   * `tokens migrate` on this running node: re-indexes its data to the tokens
   * of its committee (or its committee of one), see node/token-migration.ts.
   */
  tokenMigration(opts: { batch?: number; actor: string }): { migration: TokenMigration; committee: { kind: string; members: string[]; threshold: number; connected: string[] } } {
    const { stores, audit, tokenScheme: scheme, tokenAliases: aliases } = this;
    if (!stores || !audit || !scheme || !aliases) throw new CreditMeshError("UNAVAILABLE", "node is not running");
    const committee = this.p2p?.tokens?.committee;
    const keyId = committee?.keyId ?? scheme.local?.keyId;
    if ((scheme.kind !== "committee" && scheme.kind !== "local") || keyId === undefined) {
      throw new CreditMeshError(
        "UNAVAILABLE",
        `no token committee to migrate to: ${this.p2p ? `the manifest of ${this.p2p.membership.networkId} (v${this.p2p.membership.version}) names none` : "this node runs alone without its own key"}; ` +
          "the operator must create the committee (creditmesh tokens keygen) and publish the manifest first",
      );
    }
    const ids = committee?.institutionIds ?? [this.config.institution.id];
    const connected = ids.filter((id) => id === this.config.institution.id || (this.p2p?.membership.byInstitution(id) && this.p2p.peer.isConnected(this.p2p.membership.byInstitution(id)!.peerId)));
    const tokens = scheme.subjectTokens;
    const migration = new TokenMigration(
      { keyId, batch: opts.batch, actor: opts.actor },
      {
        db: stores.db, records: stores.records, inquiries: stores.inquiries, consents: stores.consents, aliases, cipher: stores.cipher,
        recordLog: this.config.tlog.recordVersions ? this.tlog : undefined,
        tokens: { tokens: (s, p, signal) => tokens.tokens(s, p, signal), nameTag: (t, n) => tokens.nameTag!(t, n) },
        audit, logger: this.logger.child({ module: "token-migration" }), now: () => this.clock.now(),
        retireTokenKey: async () => {
          await new KeyBinding(stores.db, this.secretsFile).forgetTokenKey();
          return removeTokenKey(this.secretsFile);
        },
      },
    );
    return { migration, committee: { kind: scheme.kind, members: ids, threshold: committee?.threshold ?? 1, connected } };
  }

  async stop(): Promise<void> {
    if (this.state === "stopped" || this.state === "stopping" || this.state === "new") {
      this.state = this.state === "new" ? "stopped" : this.state;
      return;
    }
    this.state = "stopping";
    await this.stopParts();
    this.state = "stopped";
    this.logger.info({ institutionId: this.config.institution.id }, "node stopped");
  }

  /** Reverse order of start; every step runs even if an earlier one failed. */
  private async stopParts(): Promise<void> {
    const steps: [string, (() => Promise<void>) | undefined][] = [
      ["runtime file", async () => removeRuntime(this.config)],
      ["grpc", this.grpc && (() => this.grpc!.stop())],
      ["metrics", this.metricsServer && (() => this.metricsServer!.stop())],
      ["dispute gauge", this.uncountDisputes && (async () => this.uncountDisputes!())],
      ["witnessing", this.witnessing && (() => this.witnessing!.flushed())],
      ["network", this.p2p && (() => this.p2p!.peer.stop())],
      ["retention", this.retention && (() => this.retention!.stop())],
      ["api key audit", this.apiKeyAuditor && (() => this.apiKeyAuditor!.stop())],
      ["audit", this.audit && (() => this.audit!.flushed())],
      // After the audit trail's last head is handed over, before the database closes.
      ["transparency log", this.tlog && (() => this.tlog!.stop())],
      ["store", this.stores && (() => this.stores!.close())],
    ];
    for (const [name, step] of steps) {
      if (!step) continue;
      try {
        await step();
      } catch (err) {
        this.logger.error({ part: name, err: (err as Error).message }, "error while stopping");
      }
    }
    this.grpc = undefined;
    this.metricsServer = undefined;
    this.uncountDisputes = undefined;
    this.p2p = undefined;
    this.witnessing = undefined;
    this.witnessStore = undefined;
    this.apiKeyAuditor = undefined;
    this.audit = undefined;
    this.tlog = undefined;
    this.retention = undefined;
    this.stores = undefined;
    this.tokenScheme = undefined;
    this.tokenAliases = undefined;
  }
}
