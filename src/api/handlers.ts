import { once } from "node:events";
import type { Deadline, ServerDuplexStream, ServerUnaryCall, ServerWritableStream, sendUnaryData } from "@grpc/grpc-js";
import type { Clock } from "../clock.js";
import { isoDate } from "../clock.js";
import type { ConsentService } from "../consent/service.js";
import { QUERY_PURPOSES } from "../consent/policy.js";
import { CreditMeshError, invalid } from "../errors.js";
import { Purpose } from "../gen/creditmesh/v1/common.js";
import type { Consent } from "../gen/creditmesh/v1/consent.js";
import type { Dispute } from "../gen/creditmesh/v1/dispute.js";
import type {
  AuditEntry,
  BackupRequest,
  BackupResponse,
  ExportAuditRequest,
  GetDisputeRequest,
  GetDisputeResponse,
  ListConsentsRequest,
  ListConsentsResponse,
  ListDisputesRequest,
  ListDisputesResponse,
  PurgeSubjectRequest,
  PurgeSubjectResponse,
  RotateDataKeyRequest,
  RotateDataKeyResponse,
  RunTokenCeremonyRequest,
  RunTokenCeremonyResponse,
  VerifyAuditRequest,
  VerifyAuditResponse,
  CreditNodeServer,
  FileDisputeRequest,
  GetCreditReportRequest,
  GetNodeStatusRequest,
  GetNodeStatusResponse,
  GetLogCheckpointRequest,
  GetLogCheckpointResponse,
  GetLogProofRequest,
  GetLogProofResponse,
  GrantConsentRequest,
  ResolveDisputeRequest,
  RevokeConsentRequest,
  SubmitRecordsRequest,
  SubmitRecordsResponse,
} from "../gen/creditmesh/v1/node.js";
import type { CreditReport } from "../gen/creditmesh/v1/report.js";
import type { SignedDkgPlan } from "../gen/creditmesh/v1/dkg.js";
import type { Logger } from "../logger.js";
import type { IngestService } from "../records/ingest.js";
import { isoDateProblem } from "../records/dates.js";
import type { ReportService } from "../report/service.js";
import { normalizeSubject } from "../subject/normalize.js";
import type { SubjectTokens } from "../subject/tokenizer.js";
import type { Metrics } from "../metrics.js";
import { consentRoles, reportRoles } from "./consent-roles.js";
import { getLogCheckpoint, getLogProof, type LogApi } from "./log-api.js";
import { refusalOf } from "./request-limits.js";
import { requireRole, type CallCredentials, type ClientAuth, type Principal } from "./auth.js";
import { toServiceError } from "./errors.js";
import { authenticatedCaller } from "./auth-interceptor.js";
import type { RateLimiter } from "../rate-limit.js";

/** Who made a call, for the audit trail: the API key's id. */
export interface Caller {
  keyId: string;
}

export interface DisputeApi {
  file(req: FileDisputeRequest, subjectToken: string, caller: Caller): Promise<Dispute>;
  resolve(req: ResolveDisputeRequest, caller: Caller): Promise<Dispute>;
  list(includeResolved: boolean): Promise<Dispute[]>;
  /** One borrower's disputes held or filed here; open copies refreshed from their holders. */
  listForSubject(subjectToken: string, includeResolved: boolean): Promise<ListDisputesResponse>;
  /** A dispute held or filed here, refreshed from its holder when still open. */
  get(disputeId: string): Promise<GetDisputeResponse>;
}

/** Operator actions; each is recorded in the audit trail by its implementation. */
export interface AdminApi {
  purgeSubject(subjectToken: string, requestRef: string, caller: Caller): Promise<PurgeSubjectResponse>;
  rotateDataKey(caller: Caller): Promise<RotateDataKeyResponse>;
  /** Coordinates the operator-signed token-committee ceremony; the plan's signature is checked by every participant. */
  runTokenCeremony(plan: SignedDkgPlan | undefined, caller: Caller): Promise<RunTokenCeremonyResponse>;
  verifyAudit(): Promise<VerifyAuditResponse>;
  exportAudit(): AsyncIterable<AuditEntry>;
  backup(outDir: string, caller: Caller): Promise<BackupResponse>;
}

export interface ApiModules {
  auth: Pick<ClientAuth, "authenticate">;
  rateLimiter?: RateLimiter;
  ingest: IngestService;
  consents: ConsentService;
  reports: ReportService;
  disputes?: DisputeApi;
  admin?: AdminApi;
  tokenizer: SubjectTokens;
  status(): Promise<GetNodeStatusResponse>;
  /** This node's transparency log (absent: the log calls answer UNAVAILABLE). */
  log?: LogApi;
  clock: Clock;
  logger: Logger;
  metrics: Metrics | null;
}

export const AUTH_FAILURE_REASONS: Partial<Record<CreditMeshError["code"], string>> = {
  AUTH_MISSING_KEY: "missing",
  AUTH_UNKNOWN_KEY: "unknown_key",
  AUTH_EXPIRED_KEY: "expired_key",
  AUTH_ROLE: "role",
};

/** Batches validated and written while the client keeps sending; past this the stream is paused. */
const MAX_BATCHES_IN_FLIGHT = 4;

/**
 * gRPC handlers: authenticate, translate wire messages to domain calls, map
 * errors. Domain rules live in the services.
 */
export function createHandlers(opts: { maxBatchRecords: number }, m: ApiModules): CreditNodeServer {
  const authorize = (call: CallCredentials, ...roles: Parameters<typeof requireRole>[1][]): Principal => {
    let principal: Principal;
    try {
      principal = authenticatedCaller(call.metadata) ?? m.auth.authenticate(call);
      requireRole(principal, ...roles);
    } catch (err) {
      const reason = err instanceof CreditMeshError ? AUTH_FAILURE_REASONS[err.code] : undefined;
      if (reason) m.metrics?.authFailures.inc({ reason });
      throw err;
    }
    m.rateLimiter?.take(principal.keyId);
    return principal;
  };

  // Authentication runs once per call, here; handlers get the caller it found.
  function unary<Req, Res>(
    roles: Parameters<typeof requireRole>[1][],
    run: (req: Req, call: ServerUnaryCall<Req, Res>, principal: Principal) => Promise<Res>,
  ) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => {
          const principal = authorize(call, ...roles);
          const refused = refusalOf(call.request);
          if (refused) throw refused;
          return run(call.request, call, principal);
        })
        .then(
          (res) => callback(null, res),
          (err) => callback(toServiceError(err, m.logger)),
        );
    };
  }

  const caller = (principal: Principal): Caller => ({ keyId: principal.keyId });
  const disputes = (): DisputeApi => {
    if (!m.disputes) throw new CreditMeshError("UNAVAILABLE", "disputes are not available on this node");
    return m.disputes;
  };
  const admin = (): AdminApi => {
    if (!m.admin) throw new CreditMeshError("UNAVAILABLE", "operator actions are not available on this node");
    return m.admin;
  };

  // A subject not in this node's token cache costs one evaluation by the committee.
  const subjectToken = async (subject: Parameters<typeof normalizeSubject>[0]): Promise<string> =>
    (await m.tokenizer.tokens([normalizeSubject(subject, "subject")], "LOOKUP"))[0];

  return {
    submitRecords(call: ServerDuplexStream<SubmitRecordsRequest, SubmitRecordsResponse>): void {
      let principal: Principal;
      try {
        principal = authorize(call, "FURNISHER");
      } catch (err) {
        call.emit("error", toServiceError(err, m.logger));
        return;
      }
      let batch = 0;
      let inFlight = 0;
      let failed = false;
      let chain: Promise<void> = Promise.resolve();
      // Batches handed to the ingest service but not yet written are dropped once the stream fails or is cancelled.
      const stop = new AbortController();
      const halt = () => {
        failed = true;
        stop.abort(new CreditMeshError("DEADLINE_EXCEEDED", "the stream ended before this batch was written"));
      };
      const fail = (err: unknown) => {
        if (failed) return;
        halt();
        // grpc-js sends an emitted 'error' as the call's final status.
        call.emit("error", toServiceError(err, m.logger));
      };
      // Set when a batch is refused outright: the stream fails at it, so later batches are not submitted.
      let refused = false;
      call.on("data", (req: SubmitRecordsRequest) => {
        if (failed || refused) return;
        const n = batch++;
        inFlight++;
        if (inFlight >= MAX_BATCHES_IN_FLIGHT) call.pause();
        // Submitted on arrival, so that it is validated while earlier batches
        // are being written; the service writes batches in order, and the
        // acknowledgements go out in order below.
        const pending = submitOne(req, n);
        pending.catch(() => undefined); // reported in order by the chain
        chain = chain
          .then(async () => {
            if (failed) return;
            const response = await pending;
            const flushed = call.write(response);
            inFlight--;
            if (!flushed) await once(call, "drain");
            if (inFlight < MAX_BATCHES_IN_FLIGHT) call.resume();
          })
          .catch(fail);
      });
      call.on("end", () => {
        chain
          .then(() => {
            if (failed) return;
            if (batch === 0) throw invalid("records", "the stream carried no batch: send at least one SubmitRecordsRequest");
            call.end();
          })
          .catch(fail);
      });
      call.on("error", halt);
      call.on("cancelled", halt);

      async function submitOne(req: SubmitRecordsRequest, n: number): Promise<SubmitRecordsResponse> {
        const undecoded = refusalOf(req);
        if (undecoded) {
          refused = true;
          throw undecoded;
        }
        if (req.records.length === 0) {
          return { batch: String(n), accepted: 0, rejected: [{ index: -1, field: "records", reason: "empty batch: at least one record is required" }] };
        }
        if (req.records.length > opts.maxBatchRecords) {
          refused = true;
          throw invalid("records", `at most ${opts.maxBatchRecords} records per batch, got ${req.records.length}`);
        }
        const result = await m.ingest.submitBatch(req.records, stop.signal, principal.keyId);
        m.metrics?.recordsIngested.inc({ outcome: "accepted" }, result.accepted);
        m.metrics?.recordsIngested.inc({ outcome: "rejected" }, result.rejected.length);
        return { batch: String(n), accepted: result.accepted, rejected: result.rejected };
      }
    },

    grantConsent: unary<GrantConsentRequest, Consent>(["LENDER", "FURNISHER", "SUBJECT_SERVICE"], async (req, _call, principal) => {
      requireRole(principal, ...consentRoles(req.purpose));
      return m.consents.grant({
        subjectToken: await subjectToken(req.subject),
        purpose: req.purpose,
        validFrom: req.validFrom,
        validUntil: req.validUntil,
        evidenceRef: req.evidenceRef,
        subjectName: req.subject?.name,
        actor: principal.keyId,
      });
    }),

    revokeConsent: unary<RevokeConsentRequest, Consent>(["LENDER", "FURNISHER", "SUBJECT_SERVICE", "OPERATOR"], async (req, _call, principal) => {
      const consent = req.consentId ? await m.consents.get(req.consentId) : undefined;
      if (consent) requireRole(principal, ...consentRoles(consent.purpose), "OPERATOR");
      return m.consents.revoke(req.consentId, principal.keyId);
    }),

    // Whoever records or revokes a borrower's consents may show them to the borrower.
    listConsents: unary<ListConsentsRequest, ListConsentsResponse>(["LENDER", "FURNISHER", "OPERATOR", "SUBJECT_SERVICE"], async (req) => ({
      consents: await m.consents.listForSubject(await subjectToken(req.subject)),
    })),

    getCreditReport: unary<GetCreditReportRequest, CreditReport>(["LENDER", "SUBJECT_SERVICE"], async (req, call, principal) => {
      const token = await subjectToken(req.subject);
      if (!QUERY_PURPOSES.has(req.purpose)) {
        throw invalid("purpose", "must be LOAN_ORIGINATION, CREDIT_LIMIT_REVIEW, POST_LOAN_MANAGEMENT or SUBJECT_REQUEST");
      }
      requireRole(principal, ...reportRoles(req.purpose));
      if (!req.consentId) throw invalid("consent_id", "required");
      const asOf = req.asOf || isoDate(m.clock.now());
      const problem = req.asOf ? isoDateProblem(req.asOf) : undefined;
      if (problem) throw invalid("as_of", problem);
      if (asOf > isoDate(m.clock.now())) throw invalid("as_of", `must not be after today (${isoDate(m.clock.now())}, UTC), got ${asOf}`);
      if (req.deadlineMs < 0) throw invalid("deadline_ms", "must not be negative");
      const cancelled = new AbortController();
      const onCancel = () => cancelled.abort(new CreditMeshError("DEADLINE_EXCEEDED", "the client cancelled the call"));
      call.once("cancelled", onCancel);
      const timer = m.metrics?.reportLatency.startTimer();
      try {
        const report = await m.reports.generate({
          subjectToken: token,
          purpose: req.purpose,
          consentId: req.consentId,
          asOf,
          deadlineMs: req.deadlineMs || undefined,
          callDeadlineMs: msUntil(call.getDeadline()),
          signal: cancelled.signal,
          actor: principal.keyId,
          subjectName: req.subject?.name,
        });
        m.metrics?.reportsServed.inc();
        return report;
      } finally {
        timer?.();
        call.off("cancelled", onCancel);
      }
    }),

    fileDispute: unary<FileDisputeRequest, Dispute>(["LENDER", "FURNISHER"], async (req, _call, principal) =>
      disputes().file(req, await subjectToken(req.subject), caller(principal)),
    ),

    resolveDispute: unary<ResolveDisputeRequest, Dispute>(["FURNISHER"], async (req, _call, principal) => disputes().resolve(req, caller(principal))),

    // An institution's own disputes are for its furnishing staff; one borrower's, for whoever files them.
    listDisputes: unary<ListDisputesRequest, ListDisputesResponse>(["LENDER", "FURNISHER", "OPERATOR"], async (req, _call, principal) => {
      if (req.subject) return disputes().listForSubject(await subjectToken(req.subject), req.includeResolved);
      requireRole(principal, "FURNISHER", "OPERATOR");
      return { disputes: await disputes().list(req.includeResolved), notCurrentDisputeIds: [] };
    }),

    // Whoever may file a dispute may follow it.
    getDispute: unary<GetDisputeRequest, GetDisputeResponse>(["LENDER", "FURNISHER", "OPERATOR"], async (req) => disputes().get(req.disputeId)),

    purgeSubject: unary<PurgeSubjectRequest, PurgeSubjectResponse>(["OPERATOR"], async (req, _call, principal) => {
      if (!req.requestRef.trim()) throw invalid("request_ref", "required: the reference of the verified erasure request");
      return admin().purgeSubject(await subjectToken(req.subject), req.requestRef.trim(), caller(principal));
    }),

    rotateDataKey: unary<RotateDataKeyRequest, RotateDataKeyResponse>(["OPERATOR"], async (_req, _call, principal) => admin().rotateDataKey(caller(principal))),

    runTokenCeremony: unary<RunTokenCeremonyRequest, RunTokenCeremonyResponse>(["OPERATOR"], async (req, _call, principal) => {
      if (!req.plan) throw invalid("plan", "required: the operator-signed ceremony plan");
      return admin().runTokenCeremony(req.plan, caller(principal));
    }),

    verifyAudit: unary<VerifyAuditRequest, VerifyAuditResponse>(["OPERATOR"], async () => admin().verifyAudit()),

    exportAudit(call: ServerWritableStream<ExportAuditRequest, AuditEntry>): void {
      (async () => {
        authorize(call, "OPERATOR");
        const undecoded = refusalOf(call.request);
        if (undecoded) throw undecoded;
        for await (const entry of admin().exportAudit()) {
          if (call.cancelled) return;
          if (!call.write(entry)) await once(call, "drain");
        }
        call.end();
      })().catch((err) => call.emit("error", toServiceError(err, m.logger)));
    },

    backup: unary<BackupRequest, BackupResponse>(["OPERATOR"], async (req, _call, principal) => {
      if (!req.outDir) throw invalid("out_dir", "required");
      return admin().backup(req.outDir, caller(principal));
    }),

    getNodeStatus: unary<GetNodeStatusRequest, GetNodeStatusResponse>(["OPERATOR", "LENDER", "FURNISHER"], () => m.status()),

    // The log is public to members: every role may read checkpoints and proofs (auditors hold any key).
    getLogCheckpoint: unary<GetLogCheckpointRequest, GetLogCheckpointResponse>(["OPERATOR", "LENDER", "FURNISHER", "SUBJECT_SERVICE"], (req) => getLogCheckpoint(m.log, req)),
    getLogProof: unary<GetLogProofRequest, GetLogProofResponse>(["OPERATOR", "LENDER", "FURNISHER", "SUBJECT_SERVICE"], (req) => getLogProof(m.log, req)),
  };
}

/** Milliseconds left until a gRPC call's deadline; undefined when it has none. */
function msUntil(deadline: Deadline): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? at - Date.now() : undefined;
}
