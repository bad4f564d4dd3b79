import { EventEmitter } from "node:events";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { ClientAuth, Principal } from "../../../src/api/auth.js";
import { createHandlers, type ApiModules } from "../../../src/api/handlers.js";
import { ManualClock } from "../../../src/clock.js";
import type { ApiRole } from "../../../src/config/secrets.js";
import { CreditMeshError } from "../../../src/errors.js";
import { IdType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { CreditReport } from "../../../src/gen/creditmesh/v1/report.js";
import { silentLogger } from "../../../src/logger.js";
import { createMetrics } from "../../../src/metrics.js";
import type { ReportRequest, ReportService } from "../../../src/report/service.js";

const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: "11010519491231002X", name: "张三", phone: "" };

/** An API that knows one key per role set, counting how often it is asked. */
function fakeAuth(roles: ApiRole[]) {
  let calls = 0;
  const auth: Pick<ClientAuth, "authenticate"> = {
    authenticate: (call) => {
      calls++;
      if (!call.metadata.get("authorization").length) throw new CreditMeshError("AUTH_MISSING_KEY", "no API key");
      return { keyId: "key-1", roles: new Set(roles) } satisfies Principal;
    },
  };
  return { auth, calls: () => calls };
}

function setup(opts: { roles?: ApiRole[]; generate?: (req: ReportRequest) => Promise<CreditReport>; consents?: ApiModules["consents"] } = {}) {
  const { auth, calls } = fakeAuth(opts.roles ?? ["LENDER"]);
  const requests: ReportRequest[] = [];
  const metrics = createMetrics({ processMetrics: false });
  const reports = {
    generate: async (req: ReportRequest) => {
      requests.push(req);
      return opts.generate ? opts.generate(req) : ({ reportId: "r-1" } as CreditReport);
    },
  } as unknown as ReportService;
  const unused = {} as never;
  const m: ApiModules = {
    auth,
    ingest: unused,
    consents: opts.consents ?? unused,
    reports,
    tokenizer: { tokens: async (subjects) => subjects.map((s) => `tok:${s.idTypeName}`) },
    status: async () => unused,
    clock: new ManualClock("2026-03-01T12:00:00Z"),
    logger: silentLogger(),
    metrics,
  };
  return { handlers: createHandlers({ maxBatchRecords: 100 }, m), requests, authCalls: calls, metrics };
}

/** A unary call as grpc-js hands it to a handler: request, metadata, deadline, and its 'cancelled' event. */
function unaryCall<T>(request: T, opts: { key?: boolean; deadline?: Date } = {}) {
  const metadata = new Metadata();
  if (opts.key !== false) metadata.set("authorization", "Bearer k");
  return Object.assign(new EventEmitter(), { request, metadata, getDeadline: () => opts.deadline ?? Infinity, getPeer: () => "test", cancelled: false });
}

function invoke<T>(handler: unknown, call: ReturnType<typeof unaryCall>): Promise<{ err: Partial<ServiceError> | null; res?: T }> {
  return new Promise((resolve) => {
    (handler as (c: unknown, cb: (err: Partial<ServiceError> | null, res?: T) => void) => void)(call, (err, res) => resolve({ err, res }));
  });
}

const reportRequest = (over: object = {}) => ({ subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION, consentId: "c-1", asOf: "", deadlineMs: 0, ...over });

describe("gRPC handlers", () => {
  it("authenticate once per call and pass the caller on", async () => {
    const { handlers, requests, authCalls } = setup();
    const { err } = await invoke(handlers.getCreditReport, unaryCall(reportRequest()));
    expect(err).toBeNull();
    expect(authCalls()).toBe(1);
    expect(requests[0]).toMatchObject({ actor: "key-1", subjectToken: "tok:CN_RESIDENT_ID", purpose: Purpose.LOAN_ORIGINATION, asOf: "2026-03-01" });
  });

  it("refuse a call without credentials or without the role, before any work, and count it", async () => {
    const { handlers, requests, metrics } = setup({ roles: ["FURNISHER"] });
    expect((await invoke(handlers.getCreditReport, unaryCall(reportRequest(), { key: false }))).err?.code).toBe(status.UNAUTHENTICATED);
    expect((await invoke(handlers.getCreditReport, unaryCall(reportRequest()))).err?.code).toBe(status.PERMISSION_DENIED);
    expect(requests).toEqual([]);
    const failures = (await metrics.authFailures.get()).values.map((v) => [v.labels.reason, v.value]);
    expect(failures).toEqual(expect.arrayContaining([["missing", 1], ["role", 1]]));
  });

  it("refuse bad report input with INVALID_ARGUMENT naming the field, and ask no one", async () => {
    const { handlers, requests } = setup();
    const fieldOf = async (req: object) => {
      const { err } = await invoke(handlers.getCreditReport, unaryCall(reportRequest(req)));
      expect(err?.code).toBe(status.INVALID_ARGUMENT);
      return err?.metadata?.get("field")[0];
    };
    expect(await fieldOf({ purpose: Purpose.FURNISHING })).toBe("purpose");
    expect(await fieldOf({ purpose: Purpose.PURPOSE_UNSPECIFIED })).toBe("purpose");
    expect(await fieldOf({ consentId: "" })).toBe("consent_id");
    expect(await fieldOf({ asOf: "2026-02-30" })).toBe("as_of");
    expect(await fieldOf({ asOf: "2026-03-02" })).toBe("as_of");
    expect(await fieldOf({ deadlineMs: -1 })).toBe("deadline_ms");
    expect(requests).toEqual([]);
  });

  it("hand the report both deadlines: the request's deadline_ms and what is left of the call's", async () => {
    const { handlers, requests } = setup();
    await invoke(handlers.getCreditReport, unaryCall(reportRequest({ deadlineMs: 30_000 }), { deadline: new Date(Date.now() + 60_000) }));
    expect(requests[0]!.deadlineMs).toBe(30_000);
    expect(requests[0]!.callDeadlineMs).toBeGreaterThan(0);
    expect(requests[0]!.callDeadlineMs).toBeLessThanOrEqual(60_000);
    await invoke(handlers.getCreditReport, unaryCall(reportRequest()));
    expect(requests[1]!.callDeadlineMs).toBeUndefined();
    expect(requests[1]!.deadlineMs).toBeUndefined();
  });

  it("abort the report's signal when the client cancels the call", async () => {
    let seen: AbortSignal | undefined;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const { handlers } = setup({
      generate: (req) => {
        seen = req.signal;
        started();
        return new Promise((_, reject) => req.signal!.addEventListener("abort", () => reject(req.signal!.reason), { once: true }));
      },
    });
    const call = unaryCall(reportRequest());
    const result = invoke(handlers.getCreditReport, call);
    await running;
    expect(seen!.aborted).toBe(false);
    call.emit("cancelled");
    const { err } = await result;
    expect(seen!.aborted).toBe(true);
    expect(err?.code).toBe(status.DEADLINE_EXCEEDED);
  });

  it("grantConsent: a FURNISHER key records FURNISHING consents only; the caller is the actor", async () => {
    const granted: { purpose: Purpose; actor?: string }[] = [];
    const consents = {
      grant: async (input: { purpose: Purpose; actor?: string }) => {
        granted.push(input);
        return { consentId: "c-9" };
      },
    } as unknown as ApiModules["consents"];
    const grant = (purpose: Purpose) => ({ subject: SUBJECT, purpose, validFrom: undefined, validUntil: new Date("2026-06-01T00:00:00Z"), evidenceRef: "sha256:evidence" });
    const furnisher = setup({ roles: ["FURNISHER"], consents });
    expect((await invoke(furnisher.handlers.grantConsent, unaryCall(grant(Purpose.FURNISHING)))).err).toBeNull();
    expect((await invoke(furnisher.handlers.grantConsent, unaryCall(grant(Purpose.LOAN_ORIGINATION)))).err?.code).toBe(status.PERMISSION_DENIED);
    expect(granted).toEqual([expect.objectContaining({ purpose: Purpose.FURNISHING, actor: "key-1" })]);
    expect(furnisher.authCalls()).toBe(2);
    const lender = setup({ roles: ["LENDER"], consents });
    expect((await invoke(lender.handlers.grantConsent, unaryCall(grant(Purpose.LOAN_ORIGINATION)))).err).toBeNull();
  });

  it("a node without a dispute service answers UNAVAILABLE, after authenticating", async () => {
    const { handlers, authCalls } = setup({ roles: ["FURNISHER"] });
    const { err } = await invoke(handlers.resolveDispute, unaryCall({ disputeId: "d-1", outcome: 1, note: "" }));
    expect(err?.code).toBe(status.UNAVAILABLE);
    expect(authCalls()).toBe(1);
  });
});
