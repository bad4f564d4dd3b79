import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Open disputes this institution holds: those still within their deadline, and those past it. */
export interface OpenDisputeCounts {
  pending: number;
  overdue: number;
}

/**
 * A node's metrics, built once by the composition root and handed to the
 * parts that record into them (`metrics: Metrics | null`; null records
 * nothing). One registry per node, so nodes sharing a process (tests, the
 * benchmarks) do not count into each other.
 */
export type Metrics = ReturnType<typeof createMetrics>;

/** Period of the event-loop delay sampler of the process metrics, ms. */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createMetrics(opts: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  // The event-loop delay histogram samples on a timer of this period (prom-client's default is 10 ms): at 10 ms it
  // woke an idle node's main thread 100 times a second, about half the wake-ups of a holder answering sequential
  // queries. At 100 ms every stall of 100 ms or more is still caught, and shorter ones are sampled.
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "creditmesh_process_", eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const registers = [registry];
  let openDisputes: (() => Promise<OpenDisputeCounts>) | undefined;

  return {
    registry,

    recordsIngested: new Counter({
      name: "creditmesh_records_ingested_total",
      help: "Furnished records by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),

    reportsServed: new Counter({
      name: "creditmesh_reports_total",
      help: "Credit reports assembled for this node's lenders",
      registers,
    }),

    reportLatency: new Histogram({
      name: "creditmesh_report_seconds",
      help: "Time to assemble a report, fan-out included",
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),

    holderOutcomes: new Counter({
      name: "creditmesh_holder_outcomes_total",
      help: "Outcome of each holder asked for a report",
      labelNames: ["status"] as const,
      registers,
    }),

    holderLatency: new Histogram({
      name: "creditmesh_holder_answer_seconds",
      help: "Time from asking a member for a report's tradelines to its verified answer (or to giving up), by member and outcome",
      labelNames: ["holder", "status"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),

    revocationsStored: new Counter({
      name: "creditmesh_revocations_stored_total",
      help: "Other members' revocations this node stored, by how they arrived (live gossip, or pulled from the issuer after missing it)",
      labelNames: ["via"] as const,
      registers,
    }),

    revocationsRefused: new Counter({
      name: "creditmesh_revocations_refused_total",
      help: "Revocations dropped because the member that sent them was not entitled to: not signed by the consent's grantee, gossiped on behalf of another member, or naming a consent this node knows was granted to someone else; by sending member and reason",
      labelNames: ["member", "reason"] as const,
      registers,
    }),

    revocationPulls: new Counter({
      name: "creditmesh_revocation_pulls_total",
      help: "Pulls of missed revocations from members, by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),

    logLeaves: new Counter({
      name: "creditmesh_log_leaves_total",
      help: "Leaves appended to this node's transparency log, by kind",
      labelNames: ["kind"] as const,
      registers,
    }),

    logEquivocations: new Gauge({
      name: "creditmesh_log_equivocations",
      help: "Members whose transparency log was caught equivocating or rewritten (evidence held by this node)",
      registers,
    }),

    queriesAnswered: new Counter({
      name: "creditmesh_queries_answered_total",
      help: "Queries this node answered as a holder, by outcome",
      labelNames: ["status"] as const,
      registers,
    }),

    queriesOverQuota: new Counter({
      name: "creditmesh_queries_over_quota_total",
      help: "Queries this node refused as a holder because the member had used up a daily query quota, by member and quota: subject (its queries about that subject, p2p.subjectQueriesPerDay) or member (its queries about all subjects, p2p.memberQueriesPerDay)",
      labelNames: ["member", "quota"] as const,
      registers,
    }),

    reportsOverQuota: new Counter({
      name: "creditmesh_reports_over_quota_total",
      help: "Reports this node refused its own callers (RESOURCE_EXHAUSTED) because this institution had used up a daily query quota (for the subject, or across subjects), by API key and by who counted it: self (before any holder was asked) or holders (a holder refused it)",
      labelNames: ["actor", "refused_by"] as const,
      registers,
    }),

    queriesBusy: new Counter({
      name: "creditmesh_queries_busy_total",
      help: "Queries this node answered BUSY as a holder because it already held as many as it takes at once (p2p.maxConcurrentQueries), or as many of that member's as one member may have (p2p.maxConcurrentQueriesPerMember), by member",
      labelNames: ["member"] as const,
      registers,
    }),

    queryTurnWait: new Histogram({
      name: "creditmesh_query_turn_wait_seconds",
      help: "How long a query this node took as a holder waited for its turn at the holder's work (p2p.answerTurns at once, the members with queries waiting taking turns); queries that did not wait are not counted",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),

    queriesQueued: new Counter({
      name: "creditmesh_queries_queued_total",
      help: "Queries this node held back as a requester because as many were already in flight to that holder (p2p.maxInFlightPerHolder), by holder and how the wait ended: sent, or busy (the deadline came first)",
      labelNames: ["holder", "result"] as const,
      registers,
    }),

    authFailures: new Counter({
      name: "creditmesh_auth_failures_total",
      help: "gRPC calls refused before any work: no credentials, an unknown API key, or a key or certificate without the role",
      labelNames: ["reason"] as const,
      registers,
    }),

    requestsRefusedUndecoded: new Counter({
      name: "creditmesh_grpc_requests_refused_undecoded_total",
      help: "gRPC requests refused without decoding their body: over the method's size limit, or a SubmitRecords batch with too many records",
      labelNames: ["reason"] as const,
      registers,
    }),

    holdersSkipped: new Counter({
      name: "creditmesh_holders_skipped_total",
      help: "Members not asked for a report because their published filter excludes the subject, by member",
      labelNames: ["holder"] as const,
      registers,
    }),

    filterMismatches: new Counter({
      name: "creditmesh_filter_mismatch_total",
      help: "Answers that contradict the member's published filter: claimed_no_data (filter matched, member held nothing), denied_with_data (filter excluded, member held the subject)",
      labelNames: ["institution", "kind"] as const,
      registers,
    }),

    inquiriesUnproven: new Counter({
      name: "creditmesh_inquiries_unproven_total",
      help: "Inquiries by other members that a holder sent without their requester's valid proof, left out of reports, by holder (one that keeps sending them may be inventing inquiries)",
      labelNames: ["holder"] as const,
      registers,
    }),

    tlsReloads: new Counter({
      name: "creditmesh_tls_reloads_total",
      help: "Changes to the gRPC TLS files: applied, or refused (the previous certificate kept serving)",
      labelNames: ["outcome"] as const,
      registers,
    }),

    disputesOpen: new Gauge({
      name: "creditmesh_disputes_open",
      help: "Open disputes this institution holds, by whether the response deadline has passed (an overdue dispute withholds its tradeline from every report)",
      labelNames: ["deadline"] as const,
      registers,
      async collect() {
        this.reset();
        if (!openDisputes) return;
        const counts = await openDisputes();
        this.set({ deadline: "pending" }, counts.pending);
        this.set({ deadline: "passed" }, counts.overdue);
      },
    }),

    /** The node's count of open disputes, read at every scrape. Returns what stops it. */
    countOpenDisputesWith(source: () => Promise<OpenDisputeCounts>): () => void {
      openDisputes = source;
      return () => {
        if (openDisputes === source) openDisputes = undefined;
      };
    },
  };
}
