import { existsSync } from "node:fs";
import { ClientAuth } from "../api/auth.js";
import { disputeApi } from "../api/disputes.js";
import { GrpcServer } from "../api/server.js";
import { ApiKeyAuditor } from "../audit/api-keys.js";
import { LevelAuditLog } from "../audit/level-audit-log.js";
import { systemClock, type Clock } from "../clock.js";
import { databasePath, erasureLedgerPath, secretsPath } from "../config/load.js";
import type { NodeConfig } from "../config/schema.js";
import { removeRuntime, writeRuntime } from "../config/runtime-file.js";
import { addDataKey, loadOrCreateSecrets, readSecrets, retireDataKeys, type Secrets } from "../config/secrets.js";
import { loadTlsMaterial } from "../config/tls.js";
import { ConsentService } from "../consent/service.js";
import { accountDeletionEffects } from "../disputes/account-deletion.js";
import { DisputeService } from "../disputes/service.js";
import { CreditMeshError } from "../errors.js";
import type { GetNodeStatusResponse } from "../gen/creditmesh/v1/node.js";
import { Membership, parseOperatorPublicKey } from "../identity/manifest.js";
import { NodeKey, verifyByPeerId } from "../identity/node-key.js";
import { VerifiedSignatures } from "../identity/verified-signatures.js";
import { createLogger, type Logger } from "../logger.js";
import { RateLimiter } from "../rate-limit.js";
import { accountRefFor, IngestService } from "../records/ingest.js";
import { RetentionJob } from "../records/retention-job.js";
import { HolderService } from "../report/holder.js";
import { InquirerPseudonyms } from "../report/inquirer.js";
import { ReportService } from "../report/service.js";
import { openStores, type Stores } from "../store/index.js";
import { ErasureLedger } from "../store/erasure-ledger.js";
import { KeyRotation } from "../store/key-rotation.js";
import { SubjectPurge } from "../store/subject-purge.js";
import { HmacSubjectTokenizer } from "../subject/tokenizer.js";
import { NODE_VERSION } from "../version.js";
import { AdminService } from "./admin.js";
import { takeBackup } from "./backup.js";
import { countOpenDisputesWith } from "../metrics.js";
import { MetricsServer } from "./metrics.js";
import { NetworkLayer } from "./network.js";

/** Consent signatures that verified, remembered (~100 bytes each) so repeat queries skip the check. */
const VERIFIED_CONSENTS_KEPT = 20_000;

export interface CreditNodeOptions {
  config: NodeConfig;
  logger?: Logger;
  clock?: Clock;
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
  private apiKeyAuditor?: ApiKeyAuditor;
  private network?: NetworkLayer;
  private grpc?: GrpcServer;
  private metrics?: MetricsServer;
  private uncountDisputes?: () => void;
  private state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";

  private constructor(opts: CreditNodeOptions) {
    this.config = opts.config;
    this.logger = opts.logger ?? createLogger({ level: opts.config.log.level });
    this.clock = opts.clock ?? systemClock;
    this.secretsFile = secretsPath(this.config);
    const { secrets, created } = loadOrCreateSecrets(this.secretsFile);
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

  get peerMultiaddrs(): string[] {
    return this.network?.multiaddrs() ?? [];
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
    const { config, logger, clock } = this;
    const institutionId = config.institution.id;
    const log = (module: string) => logger.child({ module });
    // Before anything opens: a node must not come up half-secured.
    const tls = config.grpc.tls ? { config: config.grpc.tls, material: loadTlsMaterial(config.grpc.tls) } : undefined;

    this.stores = await openStores(databasePath(config), {
      logger: log("store"),
      dataKeys: this.secrets.dataKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, "hex") })),
    });
    const stores = this.stores;
    const audit = (this.audit = await LevelAuditLog.open(stores.db, { clock, logger: log("audit") }));
    this.apiKeyAuditor = new ApiKeyAuditor({ secretsFile: this.secretsFile }, { audit, db: stores.db, logger: log("audit") });
    await this.apiKeyAuditor.start();
    const membership = config.p2p.enabled ? await this.loadMembership() : undefined;
    if (membership && membership.byInstitution(institutionId)?.peerId !== this.key.peerId) {
      throw new CreditMeshError(
        "MANIFEST_INVALID",
        `the manifest does not list institution ${institutionId} with this node's peer id ${this.key.peerId}`,
      );
    }

    const tokenizer = new HmacSubjectTokenizer(Buffer.from(this.secrets.tokenKey, "hex"));
    const inquirers = new InquirerPseudonyms(Buffer.from(this.secrets.tokenKey, "hex"));
    const consentSignatures = new VerifiedSignatures({ max: VERIFIED_CONSENTS_KEPT }, verifyByPeerId);
    const verifyGranteeSignature = (granteeId: string, data: Uint8Array, signature: Uint8Array): boolean => {
      const peerId = granteeId === institutionId ? this.key.peerId : membership?.byInstitution(granteeId)?.peerId;
      return peerId !== undefined && consentSignatures.verify(peerId, data, signature);
    };

    const ingest = new IngestService(
      { accountRefKey: Buffer.from(this.secrets.accountRefKey, "hex"), maxAmountMinor: config.records.maxAmountMinor },
      {
        store: stores.records,
        deletions: accountDeletionEffects({ institutionId, disputes: stores.disputes, audit, clock }),
        tokenizer,
        sealer: stores.cipher,
        clock,
        logger: log("ingest"),
      },
    );
    const holder = new HolderService(
      { institutionId },
      {
        subjects: stores.subjects,
        records: stores.records,
        consents: stores.consents,
        inquiries: stores.inquiries,
        disputes: stores.disputes,
        sign: (data) => this.key.sign(data),
        verifyGranteeSignature,
        audit,
        inquirerPseudonym: (subjectToken, institutionId) => inquirers.of(subjectToken, institutionId),
        clock,
        logger: log("holder"),
      },
    );

    if (membership) {
      this.network = new NetworkLayer(
        { institutionId, p2p: config.p2p },
        {
          key: this.key,
          membership,
          holder,
          nonces: stores.nonces,
          consents: stores.consents,
          audit,
          // Bound lazily: the dispute service routes through this network layer.
          disputes: { receive: (dispute, from) => disputes.receive(dispute, from), statusFor: (id, from) => disputes.statusFor(id, from) },
          clock,
          logger: log("p2p"),
        },
      );
    }
    const network = this.network;
    const accountRefKey = Buffer.from(this.secrets.accountRefKey, "hex");
    const disputes: DisputeService = new DisputeService(
      { institutionId, responseDays: config.disputes.responseDays },
      {
        store: stores.disputes,
        records: stores.records,
        ingest,
        accountRefOf: (accountId) => accountRefFor(accountRefKey, accountId),
        router: network && {
          send: (holderId, dispute, signal) => network.sendDispute(holderId, dispute, signal),
          status: (holderId, disputeId, signal) => network.disputeStatus(holderId, disputeId, signal),
        },
        audit,
        clock,
        logger: log("dispute"),
      },
    );

    this.uncountDisputes = countOpenDisputesWith(() => disputes.openCounts());

    const consents = new ConsentService(
      { institutionId },
      {
        store: stores.consents,
        signer: this.key,
        clock,
        logger: log("consent"),
        publishRevocation: network ? (r) => network.publishRevocation(r) : undefined,
        audit,
      },
    );
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
        holders: network,
        memberNames: () => this.memberNames(membership),
        clock,
        logger: log("report"),
      },
    );

    await network?.start();

    const subjectPurge = new SubjectPurge({ ...stores, audit, ledger: new ErasureLedger(erasureLedgerPath(config)), clock, logger: log("purge") });
    const keyRotation = new KeyRotation(
      {},
      {
        cipher: stores.cipher,
        records: stores.records,
        keyFile: {
          add: () => {
            const k = addDataKey(this.secretsFile);
            return { id: k.id, key: Buffer.from(k.key, "hex") };
          },
          retire: (ids) => retireDataKeys(this.secretsFile, ids),
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
        tls,
      },
      {
        auth: new ClientAuth(this.secretsFile, config.grpc.tls?.clientRoles, clock),
        rateLimiter: config.grpc.rateLimitPerKey > 0 ? new RateLimiter(config.grpc.rateLimitPerKey) : undefined,
        ingest,
        consents,
        reports,
        disputes: disputeApi(disputes),
        admin: new AdminService({
          audit,
          backup: (outDir) =>
            takeBackup(stores.db, outDir, {
              institutionId,
              peerId: this.key.peerId,
              // From the file, so that a rotated key is named even before this process reloads it.
              dataKeys: () => readSecrets(this.secretsFile).dataKeys,
              clock,
            }),
          purgeSubject: (subjectToken, requestRef, caller) => subjectPurge.purge(subjectToken, requestRef, caller.keyId),
          rotateDataKey: async (caller) => {
            const r = await keyRotation.rotate(caller.keyId);
            return { keyId: r.keyId, resealed: String(r.resealed), retiredKeyIds: r.retiredKeyIds };
          },
          logger: log("admin"),
        }),
        tokenizer,
        status: () => this.status(),
        clock,
        logger: log("api"),
      },
    );
    await this.grpc.start();

    if (config.retention.enabled) {
      this.retention = new RetentionJob(
        { accountYears: config.retention.accountYears, inquiryYears: config.retention.inquiryYears, institutionId, intervalMs: config.retention.intervalMs },
        { records: stores.records, disputes: stores.disputes, inquiries: stores.inquiries, clock, audit, logger: log("retention") },
      );
      this.retention.start();
    }

    if (config.metrics.enabled) {
      this.metrics = new MetricsServer({ host: config.metrics.host, port: config.metrics.port }, { logger: log("metrics") });
      await this.metrics.start();
    }
    writeRuntime(config, { pid: process.pid, grpcAddr: this.grpc.address, peerId: this.key.peerId, multiaddrs: this.peerMultiaddrs });
    logger.info({ institutionId, peerId: this.key.peerId, grpc: this.grpc.address, version: NODE_VERSION }, "node started");
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
      members: this.network?.memberStatus() ?? [],
      accounts: String(counts.accounts),
      subjects: String(counts.subjects),
      version: NODE_VERSION,
      networkId: this.network?.networkId ?? "",
      manifestVersion: this.network?.manifestVersion ?? "0",
    };
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
      ["metrics", this.metrics && (() => this.metrics!.stop())],
      ["dispute gauge", this.uncountDisputes && (async () => this.uncountDisputes!())],
      ["network", this.network && (() => this.network!.stop())],
      ["retention", this.retention && (() => this.retention!.stop())],
      ["api key audit", this.apiKeyAuditor && (() => this.apiKeyAuditor!.stop())],
      ["audit", this.audit && (() => this.audit!.flushed())],
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
    this.metrics = undefined;
    this.uncountDisputes = undefined;
    this.network = undefined;
    this.apiKeyAuditor = undefined;
    this.audit = undefined;
    this.retention = undefined;
    this.stores = undefined;
  }
}
