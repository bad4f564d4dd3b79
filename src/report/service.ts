import { randomBytes, randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import type { ConsentService } from "../consent/service.js";
import { CreditMeshError } from "../errors.js";
import { HolderStatus, Purpose } from "../gen/creditmesh/v1/common.js";
import type { QueryRequest } from "../gen/creditmesh/v1/peer.js";
import type { CreditReport, InquiryProof } from "../gen/creditmesh/v1/report.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { assembleReport, type HolderResult } from "./assemble.js";
import type { FilterRouter } from "./filter-router.js";
import type { AuditRecord, HolderService } from "./holder.js";
import { INQUIRY_PROOF_V1, provenInReport, type InquiryProofs } from "./inquiry-proof.js";
import type { QuotaGrant } from "./query-quota.js";
import type { ReportQuotaGate } from "./quota-gate.js";
import type { Route } from "./routing.js";
import { stageNow, stageSpan } from "../stage-trace.js";

/**
 * The other members that may hold the subject. p2p/ implements it over
 * libp2p; tests use an in-memory one. Must settle by the time `signal` aborts:
 * one result per member asked, TIMEOUT/UNREACHABLE for those that did not answer.
 */
export interface Holders {
  /**
   * Signs the query once for every holder: the envelope `ask` sends, and the
   * requester's proof of the inquiry (report/inquiry-proof.ts), which this
   * node's own holder keeps with its inquiry as every other holder does.
   */
  seal?(query: QueryRequest): SealedQuery;
  /** Asks `targets` (default: every member that may hold data), each one result; `sealed`: what seal() gave for this query. */
  ask(query: QueryRequest, signal: AbortSignal, targets?: readonly string[], sealed?: SealedQuery): Promise<HolderResult[]>;
  /** Institution ids `ask` sends to, for the audit trail. */
  targets?(): string[];
}

export interface SealedQuery {
  envelope: Uint8Array;
  requesterProof?: InquiryProof;
}

export interface ReportRequest {
  subjectToken: string;
  purpose: Purpose;
  consentId: string;
  asOf: string;
  deadlineMs?: number;
  /** Time left before the caller's own deadline (the gRPC call's); the report's deadline is the earlier of the two. */
  callDeadlineMs?: number;
  signal?: AbortSignal;
  /** Who asked (an API key id), for the audit trail; defaults to this institution. */
  actor?: string;
  /** The name the requester was given, compared with the names on file (report.name_check). */
  subjectName?: string;
}

export interface ReportServiceModules {
  consents: Pick<ConsentService, "requireForQuery">;
  holder: HolderService;
  holders?: Holders;
  /** Routes by the members' published filters; absent = every member is asked. */
  router?: Pick<FilterRouter, "route" | "record">;
  /** institution_id → display name, from the manifest (or this node alone). */
  memberNames(): Map<string, string>;
  /** The keyed tags a holder's stored tag of this name may be (SubjectTokenizer.nameTags); absent = names are not compared. */
  nameTags?(subjectToken: string, name: string): string[];
  clock: Clock;
  logger: Logger;
  /** This institution's daily query quota per subject, taken before the fan-out; absent = none at the requester. */
  quotaGate?: ReportQuotaGate;
  /** Checks other holders' inquiries against their requesters' proofs; absent = taken unchecked (a node alone). */
  inquiryProofs?: Pick<InquiryProofs, "verdict">;
  metrics?: Pick<Metrics, "inquiriesUnproven"> | null;
}

/** The requester side: checks the lender's own consent, asks every holder, assembles one report. */
export class ReportService {
  constructor(
    private readonly opts: { institutionId: string; peerId: string; defaultDeadlineMs: number; maxDeadlineMs: number },
    private readonly modules: ReportServiceModules,
  ) {}

  async generate(req: ReportRequest): Promise<CreditReport> {
    const { modules, opts } = this;
    const span = stageSpan("lender.report");
    const consent = await modules.consents.requireForQuery(req.consentId, { subjectToken: req.subjectToken, purpose: req.purpose });
    span.mark("consent");
    const now = modules.clock.now();
    const actor = req.actor ?? opts.institutionId;
    const quota = modules.quotaGate?.admit(req.subjectToken, actor, now.getTime());

    const query: QueryRequest = {
      requestId: randomUUID(),
      requesterInstitutionId: opts.institutionId,
      // The token the consent binds: the subject's, or its earlier one during a token migration's transition.
      subjectToken: consent.subjectToken,
      purpose: req.purpose,
      consent,
      issuedAt: now,
      nonce: randomBytes(16),
      asOf: req.asOf,
      inquiryProof: INQUIRY_PROOF_V1,
    };
    const deadlineMs = Math.max(0, Math.min(req.deadlineMs || opts.defaultDeadlineMs, opts.maxDeadlineMs, req.callDeadlineMs ?? Infinity));
    const fanOut = fanOutSignal(deadlineMs, req.signal);
    const members = modules.holders?.targets?.() ?? [];
    const route = modules.router && modules.holders?.targets ? modules.router.route(req.subjectToken, members) : undefined;
    const asked = route ? route.ask.map((a) => a.institutionId) : members;

    // This node's record of the query it sends: its own holder commits it with
    // its inquiry, in one synced batch written while the other holders answer.
    const sent: AuditRecord = {
      action: "QUERY_SENT",
      actor,
      details: {
        requestId: query.requestId,
        subjectToken: req.subjectToken,
        purpose: Purpose[req.purpose] ?? String(req.purpose),
        consentId: req.consentId,
        asOf: req.asOf,
        holders: [opts.institutionId, ...asked].join(","),
        ...(route && route.skipped.length > 0 ? { skipped: route.skipped.map((s) => s.institutionId).join(",") } : {}),
      },
    };
    let local: HolderResult;
    let remote: HolderResult[];
    span.mark("prepare");
    try {
      // The other holders first: their queries are on their way before this node's own holder starts its work.
      // ask() queues them on their streams in this job, and a stream with nothing else in flight sends at the
      // end of the job (p2p/frame-batcher.ts): one microtask here lets that happen before the holder's work.
      const sealed = modules.holders?.seal?.(query);
      const others = modules.holders ? modules.holders.ask(query, fanOut.signal, route && asked, sealed) : [];
      await Promise.resolve();
      [local, remote] = await Promise.all([this.askSelf(query, sent, quota, sealed?.requesterProof), others]);
    } finally {
      fanOut.done();
    }
    span.mark("fanout");
    if (req.signal?.aborted) throw new CreditMeshError("DEADLINE_EXCEEDED", "the request was cancelled", { cause: req.signal.reason });
    if (route) {
      modules.router!.record(route, new Map(remote.map((r) => [r.outcome.institutionId, r.answer])));
      remote = [...remote, ...skippedOutcomes(route)];
    }
    modules.quotaGate?.check([local, ...remote], actor);

    const report = assembleReport({
      reportId: query.requestId,
      requesterInstitutionId: opts.institutionId,
      purpose: req.purpose,
      // What the holders signed their answers over, so that the saved report verifies.
      subjectToken: query.subjectToken,
      asOf: req.asOf,
      generatedAt: now,
      holders: [local, ...remote],
      memberNames: modules.memberNames(),
      audience: req.purpose === Purpose.SUBJECT_REQUEST ? "SUBJECT" : "LENDER",
      requestedNameTags: req.subjectName && modules.nameTags ? modules.nameTags(req.subjectToken, req.subjectName) : undefined,
      inquiryProven: modules.inquiryProofs && provenInReport(modules.inquiryProofs, query.subjectToken, (holder) => modules.metrics?.inquiriesUnproven.inc({ holder })),
    });
    span.mark("assemble");
    // Per report, so at debug (see holder.ts: the audit trail has the report's QUERY_SENT entry); the
    // fields are not even built unless someone reads them.
    if (modules.logger.isLevelEnabled("debug")) modules.logger.debug(
      {
        reportId: report.reportId,
        subjectToken: req.subjectToken,
        tradelines: report.tradelines.length,
        holders: report.holders.map((h) => `${h.institutionId}:${HolderStatus[h.status]}`).join(","),
      },
      "report assembled",
    );
    return report;
  }

  private async askSelf(query: QueryRequest, entry: AuditRecord, quota?: QuotaGrant, requesterProof?: InquiryProof): Promise<HolderResult> {
    const started = performance.now();
    const t = stageNow();
    const signed = await this.modules.holder.answer(query, { entry, quota, requesterProof });
    stageSpan("lender.self").at("answer", t);
    return {
      outcome: {
        institutionId: this.opts.institutionId,
        status: signed.answer.status,
        reason: signed.answer.reason,
        latencyMs: Math.round(performance.now() - started),
        tradelines: signed.answer.tradelines.length,
        tradelinesTotal: 0,
        peerId: this.opts.peerId,
        signedAnswer: bufferView(signed.signedAnswer),
        signature: bufferView(signed.signature),
      },
      answer: signed.answer,
    };
  }
}

/** One SKIPPED outcome per member the route left out: unsigned (nothing was asked), the reason names the filter epoch. */
function skippedOutcomes(route: Route): HolderResult[] {
  return route.skipped.map((s) => ({
    outcome: {
      institutionId: s.institutionId,
      status: HolderStatus.SKIPPED,
      reason: s.reason,
      latencyMs: 0,
      tradelines: 0,
      tradelinesTotal: 0,
      peerId: "",
      signedAnswer: Buffer.alloc(0),
      signature: Buffer.alloc(0),
    },
  }));
}

/**
 * The fan-out's signal: aborted with a TimeoutError at the deadline, or with
 * the caller's reason if the caller cancels first. One controller and one
 * timer, both released by done() as soon as the holders have answered
 * (AbortSignal.timeout and AbortSignal.any would cost ~40 µs per report here
 * and keep their timers until the deadline).
 */
function fanOutSignal(deadlineMs: number, caller?: AbortSignal): { signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  if (caller?.aborted) controller.abort(caller.reason);
  const onCancel = (): void => controller.abort(caller?.reason);
  caller?.addEventListener("abort", onCancel, { once: true });
  const timer = setTimeout(() => controller.abort(new DOMException("the report deadline passed", "TimeoutError")), deadlineMs);
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onCancel);
    },
  };
}

/** The bytes as a Buffer without copying them (the report carries the holder's own signed bytes). */
function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
