import { createHash } from "node:crypto";
import { verifySignature } from "../../identity/node-key.js";
import { isCreditMeshError } from "../../errors.js";
import { FairTurns } from "../../fair-turns.js";
import { isRequestId, REQUEST_ID_SHAPE } from "../../request-id.js";
import {
  OperatorTicket, OprfRefusal, type OprfAnswer, type OprfRequest, type SignedOperatorTicket,
} from "../../gen/creditmesh/v1/oprf.js";
import { decodeBlindedBatch, type PartialEvaluation } from "./threshold.js";
import type { TokenPurpose } from "./tokenizer.js";
import { purposeFromWire, requestHash } from "./wire.js";

/**
 * The evaluator's side of /creditmesh/oprf/1.0.0, without the network: the
 * p2p handler decodes the Signed envelope, checks its signature against the
 * sender's peer id and the sender's membership, and passes the request here
 * with the authenticated institution id; it signs and sends the answer.
 * Every request that reaches this point is audited, refusals included.
 */

export interface EvaluatorShare {
  evaluate(blinded: readonly Uint8Array[], signal?: AbortSignal): Promise<PartialEvaluation> | PartialEvaluation;
  /**
   * Checks that every element is a group element (VALIDATION_FAILED naming the
   * first that is not), where the share evaluates: decoding a full batch takes
   * ~100 ms of CPU, which must not stall the node's event loop. Absent = the
   * batch is checked on this thread. `signal` ends the wait for it.
   */
  check?(blinded: readonly Uint8Array[], signal?: AbortSignal): Promise<void>;
}

/** Replay window. */
export interface NonceGate {
  /**
   * Holds (requester, nonce) so that no other request can use it; undefined
   * when it was seen before or is held now (a replay).
   */
  reserve(requester: string, nonceHex: string, expiresAt: Date): NonceReservation | undefined | Promise<NonceReservation | undefined>;
}

export interface NonceReservation {
  /** Remembers the nonce durably until its expiry. */
  commit(): Promise<void>;
  /** Ends the hold; a nonce not committed is then forgotten, as if never sent. */
  release(): void;
}

/** Per-requester counters, kept durably by the node. Each call adds `count` only when the total stays within `limit`. */
export interface QuotaLedger {
  consume(key: string, count: number, limit: number): Promise<boolean>;
  /** What was consumed under `key` so far (0 when nothing); changes nothing. */
  used(key: string): Promise<number>;
}

export interface EvaluationAuditEntry {
  requester: string;
  purpose: TokenPurpose | "UNSPECIFIED";
  count: number;
  /** SHA-256 of the blinded elements, hex: identifies the batch, reveals nothing of it. */
  batchHash: string;
  requestId: string;
  outcome: "EVALUATED" | keyof typeof OprfRefusal;
  ticketId?: string;
  reason?: string;
}

export interface EvaluationAudit {
  record(entry: EvaluationAuditEntry): Promise<void>;
}

export interface EvaluatorServiceOptions {
  institutionId: string;
  networkId: string;
  epoch: number;
  /** Elements a requester may have evaluated per UTC day for a purpose without a ticket. */
  dailyQuota: (requester: string, purpose: TokenPurpose) => number;
  /** Ed25519 key that signs operator tickets. */
  operatorKey: Uint8Array;
  /** How far `issued_at` may be from now. */
  maxSkewMs?: number;
  now?: () => Date;
  /** Batches of up to this many elements are checked on this thread (default INLINE_CHECK_ELEMENTS). */
  inlineCheckUpTo?: number;
}

/**
 * Decoding an element costs ~0.1 ms: a report's lone subject is checked in
 * place rather than behind a round trip to the share's worker, a bulk batch
 * (up to 1,024: ~100 ms) on the worker.
 */
export const INLINE_CHECK_ELEMENTS = 8;

const NONCE_BYTES = 16;
const DEFAULT_SKEW_MS = 5 * 60_000;

export class OprfEvaluatorService {
  /**
   * The share has at most two batches at once (one evaluating, the next queued at its worker, so the worker
   * never waits for this thread between batches), and the requesters with batches waiting take turns: a member
   * sending its whole day's quota at once delays another member's next batch by two of its batches, not by all
   * of them, and a batch whose requester gives up while it waits never reaches the share.
   */
  private readonly turns = new FairTurns(2);

  constructor(
    private readonly opts: EvaluatorServiceOptions,
    private readonly modules: { share: EvaluatorShare; nonces: NonceGate; quota: QuotaLedger; audit: EvaluationAudit },
  ) {}

  /** Answers one request; `requestBytes` are the exact OprfRequest bytes the requester signed. */
  async handle(authenticatedRequester: string, requestBytes: Uint8Array, request: OprfRequest, signal?: AbortSignal): Promise<OprfAnswer> {
    const purpose = purposeFromWire(request.purpose);
    const hash = requestHash(requestBytes);
    const batchHash = createHash("sha256").update(Buffer.concat(request.blindedElements)).digest("hex");
    // Up to a frame's worth of id would otherwise go into the audit trail and back in the answer.
    const requestId = isRequestId(request.requestId) ? request.requestId : "";
    const audit: EvaluationAuditEntry = {
      requester: authenticatedRequester, purpose: purpose ?? "UNSPECIFIED", count: request.blindedElements.length, batchHash,
      requestId, outcome: "EVALUATED",
    };
    const base = { requestId, evaluatorInstitutionId: this.opts.institutionId, epoch: String(this.opts.epoch), requestHash: hash };
    const refuse = async (refusal: OprfRefusal, reason: string, field = ""): Promise<OprfAnswer> => {
      await this.modules.audit.record({ ...audit, outcome: OprfRefusal[refusal] as keyof typeof OprfRefusal, reason });
      return { ...base, evaluatedElements: [], proof: Buffer.alloc(0), refusal, refusalField: field, refusalReason: reason };
    };

    if (request.requesterInstitutionId !== authenticatedRequester) {
      return refuse(OprfRefusal.OPRF_REFUSAL_NOT_MEMBER, "requester_institution_id is not the signer", "requester_institution_id");
    }
    if (requestId === "") return refuse(OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, `must be ${REQUEST_ID_SHAPE}`, "request_id");
    if (purpose === undefined) return refuse(OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, "unknown purpose", "purpose");
    if (Number(request.epoch) !== this.opts.epoch) {
      return refuse(OprfRefusal.OPRF_REFUSAL_WRONG_EPOCH, `this evaluator is at epoch ${this.opts.epoch}`, "epoch");
    }
    const now = this.opts.now?.() ?? new Date();
    const skew = this.opts.maxSkewMs ?? DEFAULT_SKEW_MS;
    if (!request.issuedAt || Math.abs(request.issuedAt.getTime() - now.getTime()) > skew) {
      return refuse(OprfRefusal.OPRF_REFUSAL_STALE, `issued_at must be within ${skew / 1000} s of the evaluator's clock`, "issued_at");
    }
    if (request.nonce.length !== NONCE_BYTES) return refuse(OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, `must be ${NONCE_BYTES} bytes`, "nonce");

    // Decoding a full batch costs ~100 ms on the worker every requester shares, so a
    // replay and a request the quota already refuses are turned away before it, cheaply.
    // The nonce is only held meanwhile: remembered once the batch has decoded, and
    // released by any refusal before that, so a bad request changes nothing (an honest
    // requester sends every request with a fresh nonce, so it never needs one back).
    const { quota } = this.modules;
    const count = request.blindedElements.length;
    const day = now.toISOString().slice(0, 10);
    const dayKey = `${authenticatedRequester}/${purpose}/${day}`;
    const limit = this.opts.dailyQuota(authenticatedRequester, purpose);
    const reservation = await this.modules.nonces.reserve(authenticatedRequester, request.nonce.toString("hex"), new Date(now.getTime() + 2 * skew));
    if (!reservation) return refuse(OprfRefusal.OPRF_REFUSAL_REPLAYED, "nonce already used", "nonce");
    try {
      if ((await quota.used(dayKey)) + count > limit) {
        const noRoom = await this.ticketRefusal(request, authenticatedRequester, purpose, now, count);
        if (noRoom) return refuse(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED, noRoom);
      }
      const { share } = this.modules;
      const onWorker = share.check !== undefined && count > (this.opts.inlineCheckUpTo ?? INLINE_CHECK_ELEMENTS);
      try {
        if (onWorker) await this.inTurn(authenticatedRequester, signal, () => share.check!(request.blindedElements, signal));
        else decodeBlindedBatch(request.blindedElements);
      } catch (err) {
        if (!isCreditMeshError(err, "VALIDATION_FAILED")) throw err;
        // A bulk batch cost the shared worker as much to refuse as to evaluate, and an honest requester's blinded
        // elements always decode: its elements count against the day's quota, so a member sending batches with
        // one bad element can stall the worker no longer than its quota of good ones would. A lone bad element is
        // checked in place for ~0.1 ms and costs nothing.
        if (onWorker) await quota.consume(dayKey, count, Number.MAX_SAFE_INTEGER);
        return refuse(OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, onWorker ? `${err.message}; the batch's ${count} elements count against today's quota` : err.message, err.field);
      }
      await reservation.commit();
    } finally {
      reservation.release();
    }

    // The reads above only turn away early: these consumes decide, one at a time per key.
    if (!(await quota.consume(dayKey, count, limit))) {
      const ticket = request.ticket ? this.checkTicket(request.ticket, authenticatedRequester, purpose, now) : "no operator ticket";
      if (typeof ticket === "string") return refuse(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED, `daily ${purpose} quota reached; ${ticket}`);
      if (!(await quota.consume(`ticket/${ticket.ticketId}`, count, Number(ticket.maxElements)))) {
        return refuse(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED, `ticket ${ticket.ticketId} is used up`);
      }
      audit.ticketId = ticket.ticketId;
    }

    const { evaluated, proof } = await this.inTurn(authenticatedRequester, signal, () => this.modules.share.evaluate(request.blindedElements, signal));
    await this.modules.audit.record(audit);
    return {
      ...base, evaluatedElements: evaluated.map((e) => Buffer.from(e)), proof: Buffer.from(proof),
      refusal: OprfRefusal.OPRF_REFUSAL_UNSPECIFIED, refusalField: "", refusalReason: "",
    };
  }

  /** Runs `work` on the share once it is `requester`'s turn (at once when a turn is free and nobody waits). */
  private async inTurn<T>(requester: string, signal: AbortSignal | undefined, work: () => Promise<T> | T): Promise<T> {
    const release = await this.turns.take(requester, signal);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** For a request past the daily quota: why its ticket does not cover `count` more now, or undefined when it does. Reads only. */
  private async ticketRefusal(request: OprfRequest, requester: string, purpose: TokenPurpose, now: Date, count: number): Promise<string | undefined> {
    const ticket = request.ticket ? this.checkTicket(request.ticket, requester, purpose, now) : "no operator ticket";
    if (typeof ticket === "string") return `daily ${purpose} quota reached; ${ticket}`;
    if ((await this.modules.quota.used(`ticket/${ticket.ticketId}`)) + count > Number(ticket.maxElements)) return `ticket ${ticket.ticketId} is used up`;
    return undefined;
  }

  /** The ticket when it is the operator's and covers this request, else why not. */
  private checkTicket(signed: SignedOperatorTicket, requester: string, purpose: TokenPurpose, now: Date): OperatorTicket | string {
    if (!verifySignature(this.opts.operatorKey, signed.body, signed.signature)) return "the ticket is not signed by the operator";
    let t: OperatorTicket;
    try {
      t = OperatorTicket.decode(signed.body);
    } catch {
      return "the ticket does not decode";
    }
    if (t.networkId !== this.opts.networkId || t.requesterInstitutionId !== requester) return "the ticket is for another network or member";
    if (purposeFromWire(t.purpose) !== purpose) return "the ticket is for another purpose";
    if (!t.notBefore || !t.notAfter || now < t.notBefore || now > t.notAfter) return "the ticket is not valid now";
    if (t.ticketId === "") return "the ticket has no id";
    return t;
  }
}

/** Counters in memory (tests, a single-process network); the node keeps them in LevelDB. */
export class MemoryQuotaLedger implements QuotaLedger {
  private readonly counts = new Map<string, number>();

  async consume(key: string, count: number, limit: number): Promise<boolean> {
    const total = (this.counts.get(key) ?? 0) + count;
    if (total > limit) return false;
    this.counts.set(key, total);
    return true;
  }

  async used(key: string): Promise<number> {
    return this.counts.get(key) ?? 0;
  }
}

/** A replay window in memory (tests, a single-process network); the node keeps it in its nonce store. */
export class MemoryNonceGate implements NonceGate {
  private readonly seen = new Set<string>();
  private readonly held = new Set<string>();

  reserve(requester: string, nonceHex: string): NonceReservation | undefined {
    const key = `${requester}/${nonceHex}`;
    if (this.seen.has(key) || this.held.has(key)) return undefined;
    this.held.add(key);
    return {
      commit: async () => void this.seen.add(key),
      release: () => void this.held.delete(key),
    };
  }
}
