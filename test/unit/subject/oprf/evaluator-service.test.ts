import { describe, expect, it } from "vitest";
import { generateNodeKey } from "../../../../src/identity/node-key.js";
import { OperatorTicket, OprfRefusal, OprfRequest, TokenPurpose } from "../../../../src/gen/creditmesh/v1/oprf.js";
import {
  MemoryNonceGate, MemoryQuotaLedger, OprfEvaluatorService, type EvaluationAuditEntry, type EvaluatorShare,
} from "../../../../src/subject/oprf/evaluator-service.js";
import { randomScalar } from "../../../../src/subject/oprf/suite.js";
import { BlindedBatch, decodeBlindedBatch, ShareEvaluator } from "../../../../src/subject/oprf/threshold.js";
import { WorkerShareEvaluator } from "../../../../src/subject/oprf/worker-evaluator.js";
import { answerFromWire, requestHash } from "../../../../src/subject/oprf/wire.js";

const NOW = new Date("2026-12-03T04:00:00Z");
const operator = generateNodeKey();

/** `evaluator`: the share the service uses, if not the returned in-process `share`. */
function setup(quota = 5, evaluator?: EvaluatorShare, inlineCheckUpTo?: number) {
  const share = new ShareEvaluator({ index: 1, secret: randomScalar() });
  const audit: EvaluationAuditEntry[] = [];
  const nonces = new MemoryNonceGate();
  const service = new OprfEvaluatorService(
    { institutionId: "eval-1", networkId: "net", epoch: 4, dailyQuota: () => quota, operatorKey: operator.publicKey, now: () => NOW, inlineCheckUpTo },
    { share: evaluator ?? share, nonces, quota: new MemoryQuotaLedger(), audit: { record: async (e) => void audit.push(e) } },
  );
  let n = 0;
  const request = (count: number, over: Partial<OprfRequest> = {}) => {
    const batch = BlindedBatch.create(Array.from({ length: count }, (_, i) => new TextEncoder().encode(`cn-mobile/v1:1380013800${i}`)));
    const req: OprfRequest = {
      requestId: `request-${++n}`, requesterInstitutionId: "bank-a", purpose: TokenPurpose.TOKEN_PURPOSE_ONBOARD, epoch: "4",
      blindedElements: batch.blinded.map((b) => Buffer.from(b)), nonce: Buffer.alloc(16, n), issuedAt: NOW, ...over,
    };
    return { batch, req, bytes: OprfRequest.encode(req).finish() };
  };
  return { share, service, audit, request };
}

function ticket(over: Partial<OperatorTicket> = {}) {
  const body = OperatorTicket.encode({
    ticketId: "t-1", networkId: "net", requesterInstitutionId: "bank-a", purpose: TokenPurpose.TOKEN_PURPOSE_ONBOARD, maxElements: "6",
    notBefore: new Date("2026-12-01T00:00:00Z"), notAfter: new Date("2026-12-31T00:00:00Z"), ...over,
  }).finish();
  return { body: Buffer.from(body), signature: Buffer.from(operator.sign(body)) };
}

describe("OprfEvaluatorService", () => {
  it("evaluates a valid request with a proof the requester accepts, and audits it without the elements", async () => {
    const { share, service, audit, request } = setup();
    const { batch, req, bytes } = request(3);
    const answer = answerFromWire(await service.handle("bank-a", bytes, req), requestHash(bytes));
    expect(typeof batch.verify({ index: 1, evaluated: answer.evaluatedElements, proof: answer.proof }, share.public)).toBe("object");
    expect(audit).toEqual([expect.objectContaining({ requester: "bank-a", purpose: "ONBOARD", count: 3, outcome: "EVALUATED" })]);
    expect(JSON.stringify(audit)).not.toContain(Buffer.from(req.blindedElements[0]).toString("hex"));
  });

  it.each([
    ["another epoch", { epoch: "3" }, OprfRefusal.OPRF_REFUSAL_WRONG_EPOCH, "epoch"],
    ["a stale request", { issuedAt: new Date(NOW.getTime() - 3_600_000) }, OprfRefusal.OPRF_REFUSAL_STALE, "issued_at"],
    ["a short nonce", { nonce: Buffer.alloc(8) }, OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, "nonce"],
    ["a requester id that is not the signer", { requesterInstitutionId: "bank-b" }, OprfRefusal.OPRF_REFUSAL_NOT_MEMBER, "requester_institution_id"],
    ["a purpose left unset", { purpose: TokenPurpose.TOKEN_PURPOSE_UNSPECIFIED }, OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, "purpose"],
  ] as const)("refuses %s, naming the field, and audits the refusal", async (_name, over, refusal, field) => {
    const { service, audit, request } = setup();
    const { req } = request(1, over as Partial<OprfRequest>);
    const answer = await service.handle("bank-a", OprfRequest.encode(req).finish(), req);
    expect(answer.refusal).toBe(refusal);
    expect(answer.refusalField).toBe(field);
    expect(answer.evaluatedElements).toEqual([]);
    expect(audit.map((a) => a.outcome)).toEqual([OprfRefusal[refusal]]);
  });

  it("refuses an element that is not a group element without using the nonce or the quota", async () => {
    const { service, request } = setup(1);
    const { req } = request(1);
    const bad = { ...req, blindedElements: [Buffer.alloc(32, 0xff)] };
    const answer = await service.handle("bank-a", OprfRequest.encode(bad).finish(), bad);
    expect([answer.refusal, answer.refusalField]).toEqual([OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, "blinded_elements[0]"]);
    expect((await service.handle("bank-a", OprfRequest.encode(req).finish(), req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_UNSPECIFIED);
  });

  it("checks a batch over its limit where the share evaluates (its worker thread), with the same refusal", async () => {
    const worker = new WorkerShareEvaluator({ index: 1, secret: randomScalar() });
    try {
      // Counts the batches the share was asked to check: the service must not check them on its own thread instead.
      const checked: number[] = [];
      const share: EvaluatorShare = {
        evaluate: (b, signal) => worker.evaluate(b, signal),
        check: async (b) => {
          checked.push(b.length);
          return worker.check(b);
        },
      };
      const { service, request } = setup(10, share, 1);
      const { req } = request(2);
      const bad = { ...req, blindedElements: [req.blindedElements[0]!, Buffer.alloc(32, 0xff)] };
      const answer = await service.handle("bank-a", OprfRequest.encode(bad).finish(), bad);
      expect([answer.refusal, answer.refusalField]).toEqual([OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, "blinded_elements[1]"]);
      const good = await service.handle("bank-a", OprfRequest.encode(req).finish(), req);
      expect(good.refusal).toBe(OprfRefusal.OPRF_REFUSAL_UNSPECIFIED);
      expect(good.evaluatedElements).toHaveLength(2);
      // A lone element is checked in place: no round trip to the worker for it.
      const lone = request(1).req;
      const badLone = { ...lone, blindedElements: [Buffer.alloc(32, 0xff)] };
      const refused = await service.handle("bank-a", OprfRequest.encode(badLone).finish(), badLone);
      expect([refused.refusal, refused.refusalField]).toEqual([OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, "blinded_elements[0]"]);
      expect((await service.handle("bank-a", OprfRequest.encode(lone).finish(), lone)).evaluatedElements).toHaveLength(1);
      expect(checked).toEqual([2, 2]);
    } finally {
      await worker.close();
    }
  });

  it("gives the share two batches at a time, the requesters with batches waiting taking turns, and drops a waiting batch whose requester gave up", async () => {
    const real = new ShareEvaluator({ index: 1, secret: randomScalar() });
    const started: string[] = [];
    let running = 0;
    let peak = 0;
    const gates = new Map<number, () => void>();
    // Batches are told apart by their size; each waits in the share until the test lets it finish.
    const share: EvaluatorShare = {
      evaluate: async (b) => {
        started.push(`${b.length}`);
        peak = Math.max(peak, ++running);
        await new Promise<void>((r) => gates.set(b.length, r));
        running--;
        return real.evaluate(b);
      },
    };
    const { service, request } = setup(100, share);
    const handle = (requester: string, count: number, signal?: AbortSignal) => {
      const { req, bytes } = request(count, { requesterInstitutionId: requester });
      return service.handle(requester, bytes, req, signal);
    };
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    const a2 = handle("bank-a", 2);
    const a3 = handle("bank-a", 3);
    await settle();
    const a4 = handle("bank-a", 4);
    const gone = new AbortController();
    const a5 = handle("bank-a", 5, gone.signal);
    const a6 = handle("bank-a", 6);
    const a7 = handle("bank-a", 7);
    const x1 = handle("ecom-x", 1);
    await settle();
    expect(started).toEqual(["2", "3"]);
    gone.abort(new DOMException("cancelled by the requester", "AbortError"));
    await expect(a5).rejects.toMatchObject({ name: "AbortError" });
    for (const size of [2, 3, 4, 1, 6, 7]) {
      await settle();
      gates.get(size)!();
    }
    const answers = await Promise.all([a2, a3, a4, a6, a7, x1]);
    expect(answers.map((a) => a.evaluatedElements.length)).toEqual([2, 3, 4, 6, 7, 1]);
    // bank-a was first in line for the first freed turn, ecom-x's one batch got the next, ahead of bank-a's other
    // two; the abandoned one never ran. (In arrival order ecom-x's would have come last.)
    expect(started).toEqual(["2", "3", "4", "1", "6", "7"]);
    expect(peak).toBe(2);
  });

  it("counts a bulk batch refused for a bad element against the day's quota, so such batches stop reaching the worker once it is used", async () => {
    const checked: number[] = [];
    const inProcess = new ShareEvaluator({ index: 1, secret: randomScalar() });
    const share: EvaluatorShare = {
      evaluate: (b) => inProcess.evaluate(b),
      check: async (b) => {
        checked.push(b.length);
        decodeBlindedBatch(b);
      },
    };
    const { service, request } = setup(4, share, 1);
    for (let i = 0; i < 2; i++) {
      const { req } = request(2);
      const bad = { ...req, blindedElements: [req.blindedElements[0]!, Buffer.alloc(32, 0xff)] };
      const answer = await service.handle("bank-a", OprfRequest.encode(bad).finish(), bad);
      expect([answer.refusal, answer.refusalField]).toEqual([OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, "blinded_elements[1]"]);
      expect(answer.refusalReason).toMatch(/the batch's 2 elements count against today's quota/);
    }
    // The quota of 4 is used by the two bad batches: the next is refused before the worker sees it.
    const { req } = request(2);
    const bad = { ...req, blindedElements: [req.blindedElements[0]!, Buffer.alloc(32, 0xff)] };
    expect((await service.handle("bank-a", OprfRequest.encode(bad).finish(), bad)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED);
    expect(checked).toEqual([2, 2]);
    // A lone bad element is checked in place and costs no quota: a fresh member's quota stays whole.
    const other = setup(1, share, 1);
    const lone = other.request(1).req;
    const badLone = { ...lone, blindedElements: [Buffer.alloc(32, 0xff)] };
    expect((await other.service.handle("bank-a", OprfRequest.encode(badLone).finish(), badLone)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_BAD_REQUEST);
    expect((await other.service.handle("bank-a", OprfRequest.encode(lone).finish(), lone)).evaluatedElements).toHaveLength(1);
  });

  it("turns away a replay and a request over the quota before the batch is decoded, and still serves an honest one", async () => {
    const inProcess = new ShareEvaluator({ index: 1, secret: randomScalar() });
    const checks: (AbortSignal | undefined)[] = [];
    const share: EvaluatorShare = {
      evaluate: (b) => inProcess.evaluate(b),
      check: async (b, signal) => {
        checks.push(signal);
        decodeBlindedBatch(b);
      },
    };
    const { service, audit, request } = setup(9, share);
    // Nine elements: past the inline limit, so each decoding is a call to the share's check.
    const first = request(9);
    expect((await service.handle("bank-a", first.bytes, first.req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_UNSPECIFIED);
    expect(checks).toHaveLength(1);

    const over = request(9);
    const refused = await service.handle("bank-a", over.bytes, over.req);
    expect([refused.refusal, refused.refusalReason]).toEqual([OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED, expect.stringContaining("no operator ticket")]);
    expect((await service.handle("bank-a", first.bytes, first.req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_REPLAYED);
    expect(checks).toHaveLength(1);
    expect(audit.map((a) => a.outcome)).toEqual(["EVALUATED", "OPRF_REFUSAL_QUOTA_EXCEEDED", "OPRF_REFUSAL_REPLAYED"]);

    // Another member's quota is its own; the share's check is given the request's signal.
    const honest = request(9, { requesterInstitutionId: "bank-b" });
    const signal = AbortSignal.timeout(10_000);
    const answer = await service.handle("bank-b", honest.bytes, honest.req, signal);
    expect(answer.refusal).toBe(OprfRefusal.OPRF_REFUSAL_UNSPECIFIED);
    expect(answer.evaluatedElements).toHaveLength(9);
    expect(checks).toEqual([undefined, signal]);
  });

  it("refuses a request id that is not an id without storing or echoing it, and nothing is used", async () => {
    const { service, audit, request } = setup(1);
    const { req } = request(1);
    const long = { ...req, requestId: "x".repeat(10_000) };
    const answer = await service.handle("bank-a", OprfRequest.encode(long).finish(), long);
    expect([answer.refusal, answer.refusalField, answer.requestId]).toEqual([OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, "request_id", ""]);
    expect(audit).toEqual([expect.objectContaining({ outcome: "OPRF_REFUSAL_BAD_REQUEST", requestId: "" })]);
    // Same nonce, within a quota of one: both were left as they were.
    expect((await service.handle("bank-a", OprfRequest.encode(req).finish(), req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_UNSPECIFIED);
  });

  it("refuses a replayed nonce", async () => {
    const { service, request } = setup();
    const { req, bytes } = request(1);
    expect((await service.handle("bank-a", bytes, req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_UNSPECIFIED);
    expect((await service.handle("bank-a", bytes, req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_REPLAYED);
  });

  it("refuses over the daily quota unless an operator ticket covers it, and audits both", async () => {
    const { service, audit, request } = setup(5);
    const first = request(4);
    expect((await service.handle("bank-a", first.bytes, first.req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_UNSPECIFIED);
    const over = request(2);
    expect((await service.handle("bank-a", over.bytes, over.req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED);
    expect(audit.at(-1)).toEqual(expect.objectContaining({ outcome: "OPRF_REFUSAL_QUOTA_EXCEEDED", count: 2, reason: expect.stringContaining("no operator ticket") }));

    const forged = request(2, { ticket: { ...ticket(), signature: Buffer.from(generateNodeKey().sign(ticket().body)) } });
    expect((await service.handle("bank-a", forged.bytes, forged.req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED);
    const otherPurpose = request(2, { ticket: ticket({ purpose: TokenPurpose.TOKEN_PURPOSE_BULK }) });
    expect((await service.handle("bank-a", otherPurpose.bytes, otherPurpose.req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED);

    const covered = request(4, { ticket: ticket() });
    expect((await service.handle("bank-a", covered.bytes, covered.req)).refusal).toBe(OprfRefusal.OPRF_REFUSAL_UNSPECIFIED);
    expect(audit.at(-1)).toEqual(expect.objectContaining({ outcome: "EVALUATED", ticketId: "t-1" }));
    const beyond = request(4, { ticket: ticket() });
    expect((await service.handle("bank-a", beyond.bytes, beyond.req)).refusalReason).toContain("used up");
  });
});
