import { z } from "zod";
import { FiltersSchema } from "../filters/schedule.js";
import { API_ROLES } from "./secrets.js";

/** One schema per section; defaults live here so that `{}` is a valid config. */

/** What an institution id may be: a node's own id, and so the id a member is admitted under. */
export const INSTITUTION_ID = { pattern: /^[a-z0-9][a-z0-9-]{1,62}$/, rule: "lowercase letters, digits and dashes, 2-63 characters" } as const;
/** A display name's bounds, in the config and in the manifest. */
export const INSTITUTION_NAME_MAX = 128;

const institutionId = z.string().regex(INSTITUTION_ID.pattern, INSTITUTION_ID.rule);

export const InstitutionSchema = z.object({
  id: institutionId.default("local-bureau"),
  name: z.string().min(1).max(INSTITUTION_NAME_MAX).default("Local credit bureau"),
});

export const StorageSchema = z.object({
  /** LevelDB directory; relative paths are resolved against the working directory. */
  dataDir: z.string().min(1).default("./data"),
  /** Secrets file (node key, token key, data keys, API keys); default `<dataDir>/secrets.json`. */
  secretsFile: z.string().min(1).optional(),
  /** Where `backup` may write (its out_dir is resolved against it and must stay inside); default `<dataDir>/backups`. */
  backupRoot: z.string().min(1).optional(),
});

/**
 * TLS on the gRPC endpoint (PEM files). With `clientCaFile` every client must
 * present a certificate issued by that CA (mutual TLS); `clientRoles` then lets
 * a client whose certificate's subject CN is listed call without an API key.
 */
export const GrpcTlsSchema = z
  .object({
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
    clientCaFile: z.string().min(1).optional(),
    clientRoles: z.record(z.string().min(1), z.array(z.enum(API_ROLES)).min(1)).optional(),
  })
  .strict()
  .refine((t) => !t.clientRoles || t.clientCaFile, {
    message: "needs clientCaFile: roles are granted only to certificates the node verified",
    path: ["clientRoles"],
  });

export const GrpcSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(50051),
  /** Records per SubmitRecords request message. */
  maxBatchRecords: z.number().int().min(1).max(100_000).default(10_000),
  /** Largest message grpc-js accepts at all (SubmitRecords batches); larger ones are refused before they are buffered. */
  maxMessageBytes: z.number().int().min(1024).default(16 * 1024 * 1024),
  /** Largest request of every other method, refused before it is decoded. */
  maxRequestBytes: z.number().int().min(1024).default(64 * 1024),
  /** Per-method overrides of maxRequestBytes, by RPC name (e.g. { "ResolveDispute": 262144 }). */
  methodMaxRequestBytes: z.record(z.string().min(1), z.number().int().min(1024)).default({}),
  /** Requests per second allowed per API key (token bucket); 0 disables the limit. */
  rateLimitPerKey: z.number().min(0).default(0),
  /** Plaintext when absent (loopback use); see GrpcTlsSchema. */
  tls: GrpcTlsSchema.optional(),
});

/**
 * Requests per second one member may make here, per protocol: a token bucket
 * that holds one second's worth (at least one request), so a burst of that
 * size passes and a flood is refused RATE_LIMITED before its work is done.
 * Each default sits well above what an honest member sends at its busiest
 * and well below what the node can serve; 0 lifts a protocol's limit.
 */
export const PeerRateLimitsSchema = z
  .object({
    /** Queries (a report asks each holder once): a lender at full load sends a few hundred a second. */
    query: z.number().min(0).default(1_000),
    /** Dispute filings and status requests together. */
    dispute: z.number().min(0).default(50),
    /** Token evaluation batches (a report or ingest of new subjects sends one; the daily quota bounds the elements). */
    tokens: z.number().min(0).default(100),
    /** Checkpoints to witness (a log asks at most once per tlog.checkpointIntervalMs, 100 ms at the least). */
    witness: z.number().min(0).default(50),
    /** Filter fetches, each up to megabytes (a member fetches once per announcement and delta, at most once a second). */
    filters: z.number().min(0).default(5),
    /** Revocation pulls (on each connection and every revocationPullIntervalMs, 1 s at the least). */
    revocations: z.number().min(0).default(5),
  })
  .strict();

export type PeerRateLimits = z.infer<typeof PeerRateLimitsSchema>;

/** The rate a protocol gets: `rateLimitPerPeer` when set (above 0), else its own entry in `rateLimits`; 0 means none. */
export function peerRateLimit(p2p: { rateLimits: PeerRateLimits; rateLimitPerPeer: number }, protocol: keyof PeerRateLimits): number {
  return p2p.rateLimitPerPeer > 0 ? p2p.rateLimitPerPeer : p2p.rateLimits[protocol];
}

export const P2pSchema = z.object({
  enabled: z.boolean().default(false),
  listen: z.array(z.string().min(1)).default(["/ip4/127.0.0.1/tcp/0"]),
  /** Signed membership manifest (JSON written by `creditmesh network sign`). */
  manifestFile: z.string().min(1).optional(),
  /** The network operator's Ed25519 public key, hex; pinned. */
  operatorPublicKey: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex characters").optional(),
  /** Requests older (or further in the future) than this are refused. */
  maxClockSkewMs: z.number().int().min(1000).default(60_000),
  /** Largest peer message accepted. */
  maxMessageBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
  /** Time a holder may spend answering one query. */
  handlerTimeoutMs: z.number().int().min(100).default(5_000),
  redialIntervalMs: z.number().int().min(100).default(2_000),
  /**
   * Members kept connected at all times: a stable pseudo-random subset of this
   * many (every member in a network of up to this many others). The others are
   * dialed when a report, filter fetch or dispute needs them.
   */
  keepConnected: z.number().int().min(1).default(8),
  /** An on-demand connection (to a member not kept) is closed after this long without a request; 0 keeps it. */
  idleCloseMs: z.number().int().min(0).default(60_000),
  /**
   * Requests per second one member may make of each peer protocol here, each
   * protocol a budget of its own (see PeerRateLimitsSchema); on by default.
   */
  rateLimits: PeerRateLimitsSchema.default(PeerRateLimitsSchema.parse({})),
  /** When above 0, the one rate every protocol gets instead of `rateLimits` (the setting of earlier configurations). */
  rateLimitPerPeer: z.number().min(0).default(0),
  /**
   * A node asks a member for the revocations it missed on every (re)connection
   * to it, and every connected member this often as a safety net.
   */
  revocationPullIntervalMs: z.number().int().min(1_000).default(30_000),
  /** Queries one member may make about one subject per 24 h at this holder (refused DENIED past it); 0 disables. */
  subjectQueriesPerDay: z.number().int().min(0).default(50),
  /**
   * Queries one member may make per UTC day at this holder about all subjects together (refused DENIED past it,
   * not logged), and reports this node makes per day (RESOURCE_EXHAUSTED past it); 0 disables. A member can make
   * up subject tokens, and each query costs the holder an inquiry, its audit entry and a log leaf kept for years:
   * without this a member within its rate limit could log tens of millions a day. Size it to the reports a member
   * makes a day about this holder's customers (routing asks a holder only about subjects it may hold).
   */
  memberQueriesPerDay: z.number().int().min(0).default(200_000),
  /** Queries this node takes at once as a holder (worked on or waiting their turn), from all members together; beyond it a signed BUSY. 0 disables. */
  maxConcurrentQueries: z.number().int().min(0).default(256),
  /** Of those, how many one member may have at once (beyond it that member alone gets a signed BUSY). 0 disables. */
  maxConcurrentQueriesPerMember: z.number().int().min(0).default(64),
  /**
   * Of those, how many are worked on at once; the others wait, and the members with queries waiting take the
   * free turns one after another. Answers leave in groups (queries worked on together share a disk flush), so
   * a member's query waits for about two groups of this size, however many queries other members hold here.
   * The default is what one honest node keeps in flight to a holder (maxInFlightPerHolder), which it therefore
   * never waits for; smaller turns shorten the wait and cost throughput (smaller groups). 0: no turns.
   */
  answerTurns: z.number().int().min(0).default(32),
  /** Queries this node has in flight to one holder; the rest wait for a slot, BUSY if the report's deadline comes first. 0 disables. */
  maxInFlightPerHolder: z.number().int().min(0).default(32),
});

export const ReportSchema = z.object({
  /** Deadline of the network fan-out when the request gives none. */
  defaultDeadlineMs: z.number().int().min(50).default(3_000),
  maxDeadlineMs: z.number().int().min(50).default(30_000),
});

export const RecordsSchema = z.object({
  /** Plausibility ceiling on every furnished amount, in minor units (default 100 million CNY); a record above it is refused. */
  maxAmountMinor: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(10_000_000_000),
});

export const MetricsSchema = z.object({
  enabled: z.boolean().default(false),
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(9464),
});

export const LogSchema = z.object({
  level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** The transparency log (`tlog`, apart from `log`, which is the logger's). */
export const TransparencyLogSchema = z.object({
  /** A checkpoint is signed this often when the log grew. */
  checkpointIntervalMs: z.number().int().min(100).default(2_000),
  /** Cosignatures from other members a checkpoint needs to count. */
  witnessQuorum: z.number().int().min(0).default(2),
  /**
   * Members asked to witness each checkpoint: the first of the members this
   * node keeps connected (a stable pseudo-random subset), not every member.
   */
  witnesses: z.number().int().min(1).default(4),
  /** Every n-th signed audit head is anchored in the log. */
  auditHeadEvery: z.number().int().min(1).default(16),
  /**
   * A leaf per furnished record version, committed in the batch that writes
   * the record. Off only to measure ingest without it (`bench:ingest
   * --record-versions off`); answers' proofs need it.
   */
  recordVersions: z.boolean().default(true),
  /**
   * A holder's answer names a checkpoint covering the query's inquiry leaf and
   * carries its inclusion proof and those of its tradelines' record leaves;
   * as a requester, the node refuses (ERROR "proof: …") an OK or NO_DATA
   * answer from another member that carries none. Off: no proofs sent or
   * required (a proof that is sent is still checked).
   */
  answerProofs: z.boolean().default(true),
});

export const DisputeSchema = z.object({
  /** Days a holder has to resolve a dispute before the tradeline is withheld. */
  responseDays: z.number().int().min(1).default(30),
});

export const RetentionSchema = z.object({
  /** Run the scheduled purge of accounts kept beyond accountYears, and inquiries and ended consents beyond inquiryYears. */
  enabled: z.boolean().default(true),
  /**
   * Years a finished account (closed, charged off or paid) is kept after its
   * last activity; then the account, its repayments, index entries and
   * disputes are destroyed.
   */
  accountYears: z.number().int().min(1).max(100).default(7),
  /**
   * Years an inquiry (who queried a borrower, when, why) is kept after it
   * was logged, and a consent after it ended (expired or revoked); then they
   * are destroyed.
   */
  inquiryYears: z.number().int().min(1).max(100).default(5),
  /** Time between two purges; the first one runs a minute after start (or sooner, if this is shorter). */
  intervalMs: z.number().int().min(1_000).default(24 * 3600 * 1000),
});

/** Subject tokens: what this node allows as a token evaluator. */
export const TokensSchema = z.object({
  /**
   * Elements one member may have evaluated here per purpose and UTC day
   * without an operator ticket (bulk onboarding above it needs one).
   */
  dailyQuota: z.number().int().min(1).default(200_000),
  /**
   * As a requester: how long one batch of new subjects waits for the
   * committee's threshold of valid answers. An unreachable evaluator is asked
   * again until then (it may be restarting), so with too few evaluators up an
   * ingest or report of a new subject fails UNAVAILABLE after this long.
   */
  evaluationDeadlineMs: z.number().int().min(1_000).max(300_000).default(30_000),
});

export const ConfigSchema = z
  .object({
    institution: InstitutionSchema.default(InstitutionSchema.parse({})),
    storage: StorageSchema.default(StorageSchema.parse({})),
    grpc: GrpcSchema.default(GrpcSchema.parse({})),
    p2p: P2pSchema.default(P2pSchema.parse({})),
    report: ReportSchema.default(ReportSchema.parse({})),
    records: RecordsSchema.default(RecordsSchema.parse({})),
    metrics: MetricsSchema.default(MetricsSchema.parse({})),
    log: LogSchema.default(LogSchema.parse({})),
    tlog: TransparencyLogSchema.default(TransparencyLogSchema.parse({})),
    disputes: DisputeSchema.default(DisputeSchema.parse({})),
    retention: RetentionSchema.default(RetentionSchema.parse({})),
    /** Published holder filters (src/filters/schedule.ts); off by default. */
    filters: FiltersSchema.default(FiltersSchema.parse({})),
    tokens: TokensSchema.default(TokensSchema.parse({})),
  })
  .strict();

export type NodeConfig = z.infer<typeof ConfigSchema>;
