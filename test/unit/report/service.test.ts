import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { isCreditMeshError } from "../../../src/errors.js";
import { HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import { HolderAnswer } from "../../../src/gen/creditmesh/v1/report.js";
import { silentLogger } from "../../../src/logger.js";
import { createMetrics } from "../../../src/metrics.js";
import type { HolderResult } from "../../../src/report/assemble.js";
import type { HolderService } from "../../../src/report/holder.js";
import { ReportService, type Holders, type ReportRequest } from "../../../src/report/service.js";

const TOKEN = "ab".repeat(32);

/** Holders that answer only when the fan-out's signal aborts, recording why it did. */
function waitingHolders() {
  const reasons: unknown[] = [];
  let asked!: () => void;
  const wasAsked = new Promise<void>((r) => (asked = r));
  const holders: Holders = {
    ask: (_query, signal) => {
      asked();
      return new Promise<HolderResult[]>((resolve) =>
        signal.addEventListener("abort", () => {
          reasons.push(signal.reason);
          resolve([]);
        }),
      );
    },
  };
  return { holders, reasons, wasAsked };
}

function service(holders: Holders, opts: { defaultDeadlineMs?: number; maxDeadlineMs?: number; events?: string[] } = {}) {
  const holder = {
    answer: async (query: { requestId: string }) => {
      opts.events?.push("own holder starts");
      const answer = HolderAnswer.fromPartial({ requestId: query.requestId, status: HolderStatus.NO_DATA });
      return { answer, signedAnswer: HolderAnswer.encode(answer).finish(), signature: new Uint8Array(64) };
    },
  } as unknown as HolderService;
  return new ReportService(
    { institutionId: "bank-a", peerId: "peer-a", defaultDeadlineMs: opts.defaultDeadlineMs ?? 60_000, maxDeadlineMs: opts.maxDeadlineMs ?? 120_000 },
    {
      consents: { requireForQuery: async (consentId) => ({ consentId, subjectToken: TOKEN }) as Consent },
      holder,
      holders,
      memberNames: () => new Map([["bank-a", "Bank A"]]),
      clock: new ManualClock("2026-03-01T12:00:00Z"),
      logger: silentLogger(),
    },
  );
}

const request = (over: Partial<ReportRequest> = {}): ReportRequest => ({
  subjectToken: TOKEN,
  purpose: Purpose.LOAN_ORIGINATION,
  consentId: "c-1",
  asOf: "2026-03-01",
  ...over,
});

const isTimeout = (reason: unknown) => reason instanceof DOMException && reason.name === "TimeoutError";

describe("ReportService fan-out order", () => {
  it("lets the queries to the other holders leave (at the end of the job that queued them) before its own holder starts", async () => {
    const events: string[] = [];
    const holders: Holders = {
      ask: () => {
        // What a stream with nothing else in flight does with a queued frame (p2p/frame-batcher.ts).
        queueMicrotask(() => events.push("queries sent"));
        return Promise.resolve([]);
      },
    };
    await service(holders, { events }).generate(request());
    expect(events).toEqual(["queries sent", "own holder starts"]);
  });
});

describe("ReportService fan-out deadline", () => {
  it("ends the fan-out at the call's deadline when it comes before deadline_ms", async () => {
    const { holders, reasons } = waitingHolders();
    // deadline_ms and the defaults are a minute; the call has no time left at all.
    const report = await service(holders).generate(request({ deadlineMs: 60_000, callDeadlineMs: 0 }));
    expect(report.reportId).not.toBe("");
    expect(reasons).toHaveLength(1);
    expect(isTimeout(reasons[0])).toBe(true);
  });

  it("ends the fan-out at deadline_ms when it comes before the call's deadline", async () => {
    const { holders, reasons } = waitingHolders();
    await service(holders).generate(request({ deadlineMs: 1, callDeadlineMs: 3_600_000 }));
    expect(isTimeout(reasons[0])).toBe(true);
  });

  it("a cancelled call aborts its fan-out with the caller's reason and the report fails", async () => {
    const { holders, reasons, wasAsked } = waitingHolders();
    const cancel = new AbortController();
    const generating = service(holders).generate(request({ signal: cancel.signal }));
    await wasAsked;
    const why = new Error("client went away");
    cancel.abort(why);
    const err = await generating.catch((e: unknown) => e);
    expect(reasons).toEqual([why]);
    expect(isCreditMeshError(err, "DEADLINE_EXCEEDED")).toBe(true);
  });
});

describe("ReportService and inquiry proofs", () => {
  const pseudonym = "anon:" + "cd".repeat(32);
  const inquiry = (inquiryId: string) => ({ inquiryId, requesterInstitutionId: pseudonym, requesterName: "", purpose: Purpose.LOAN_ORIGINATION, inquiredAt: new Date("2026-02-27T10:00:00Z") });

  it("gives its own holder the proof seal() made, counts another holder's inquiries only when proven, and counts the rest against that holder", async () => {
    const metrics = createMetrics();
    const proof = { issuedAt: new Date("2026-03-01T12:00:00Z"), queryDigest: Buffer.alloc(32, 1), signature: Buffer.alloc(64, 2) };
    const ownProofs: unknown[] = [];
    const answer = HolderAnswer.fromPartial({
      requestId: "",
      holderInstitutionId: "lender-b",
      status: HolderStatus.NO_DATA,
      inquiries: [inquiry("proven-1"), ...Array.from({ length: 6 }, (_, i) => inquiry(`invented-${i + 1}`))],
    });
    const holders: Holders = {
      seal: () => ({ envelope: new Uint8Array(8), requesterProof: proof }),
      ask: async (query) => [
        {
          outcome: { institutionId: "lender-b", status: HolderStatus.NO_DATA, reason: "", latencyMs: 1, tradelines: 0, tradelinesTotal: 0, peerId: "peer-b", signedAnswer: Buffer.alloc(0), signature: Buffer.alloc(0) },
          answer: { ...answer, requestId: query.requestId },
        },
      ],
    };
    const own = {
      answer: async (query: { requestId: string }, opts: { requesterProof?: unknown }) => {
        ownProofs.push(opts.requesterProof);
        const a = HolderAnswer.fromPartial({ requestId: query.requestId, status: HolderStatus.NO_DATA });
        return { answer: a, signedAnswer: HolderAnswer.encode(a).finish(), signature: new Uint8Array(64) };
      },
    } as unknown as HolderService;
    const checked: string[] = [];
    const reports = new ReportService(
      { institutionId: "bank-a", peerId: "peer-a", defaultDeadlineMs: 60_000, maxDeadlineMs: 120_000 },
      {
        consents: { requireForQuery: async (consentId) => ({ consentId, subjectToken: TOKEN }) as Consent },
        holder: own,
        holders,
        memberNames: () => new Map([["bank-a", "Bank A"]]),
        clock: new ManualClock("2026-03-01T12:00:00Z"),
        logger: silentLogger(),
        metrics,
        inquiryProofs: {
          verdict: (q, subjectToken) => {
            checked.push(`${q.inquiryId}@${subjectToken}`);
            return q.inquiryId.startsWith("proven") ? "PROVEN" : "BAD_SIGNATURE";
          },
        },
      },
    );
    const report = await reports.generate(request());
    expect(ownProofs).toEqual([proof]);
    // After four signatures from the holder fail, its remaining inquiries are refused without a verification.
    expect(checked).toEqual(["proven-1", "invented-1", "invented-2", "invented-3", "invented-4"].map((id) => `${id}@${TOKEN}`));
    expect(report.summary).toMatchObject({ inquiries30d: 1 });
    expect((await metrics.inquiriesUnproven.get()).values).toEqual([expect.objectContaining({ labels: { holder: "lender-b" }, value: 6 })]);
  });
});
