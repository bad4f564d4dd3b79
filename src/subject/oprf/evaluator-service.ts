import { createHash } from "node:crypto";
import { verifySignature } from "../../identity/node-key.js";
import { isCreditMeshError } from "../../errors.js";
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
   * batch is checked on this thread.
   */
  check?(blinded: readonly Uint8Array[]): Promise<void>;
}

/** Replay window: true when (requester, nonce) was not seen before; it is then remembered until `expiresAt`. */
export interface NonceGate {
  claim(requester: string, nonceHex: string, expiresAt: Date): Promise<boolean>;
}

/** Per-requester counters, kept durably by the node. Each call adds `count` only when the total stays within `limit`. */
export interface QuotaLedger {
  consume(key: string, count: number, limit: number): Promise<boolean>;
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
  constructor(
    private readonly opts: EvaluatorServiceOptions,
    private readonly modules: { share: EvaluatorShare; nonces: NonceGate; quota: QuotaLedger; audit: EvaluationAudit },
  ) {}

  /** Answers one request; `requestBytes` are the exact OprfRequest bytes the requester signed. */
  async handle(authenticatedRequester: string, requestBytes: Uint8Array, request: OprfRequest, signal?: AbortSignal): Promise<OprfAnswer> {
    const purpose = purposeFromWire(request.purpose);
    const hash = requestHash(requestBytes);
    const batchHash = createHash("sha256").update(Buffer.concat(request.blindedElements)).digest("hex");
    const audit: EvaluationAuditEntry = {
      requester: authenticatedRequester, purpose: purpose ?? "UNSPECIFIED", count: request.blindedElements.length, batchHash,
      requestId: request.requestId, outcome: "EVALUATED",
    };
    const base = { requestId: request.requestId, evaluatorInstitutionId: this.opts.institutionId, epoch: String(this.opts.epoch), requestHash: hash };
    const refuse = async (refusal: OprfRefusal, reason: string, field = ""): Promise<OprfAnswer> => {
      await this.modules.audit.record({ ...audit, outcome: OprfRefusal[refusal] as keyof typeof OprfRefusal, reason });
      return { ...base, evaluatedElements: [], proof: Buffer.alloc(0), refusal, refusalField: field, refusalReason: reason };
    };

    if (request.requesterInstitutionId !== authenticatedRequester) {
      return refuse(OprfRefusal.OPRF_REFUSAL_NOT_MEMBER, "requester_institution_id is not the signer", "requester_institution_id");
    }
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
    try {
      // Checked before the nonce and the quota are touched, so a bad request changes nothing.
      const { share } = this.modules;
      if (share.check && request.blindedElements.length > (this.opts.inlineCheckUpTo ?? INLINE_CHECK_ELEMENTS)) await share.check(request.blindedElements);
      else decodeBlindedBatch(request.blindedElements);
    } catch (err) {
      if (isCreditMeshError(err, "VALIDATION_FAILED")) return refuse(OprfRefusal.OPRF_REFUSAL_BAD_REQUEST, err.message, err.field);
      throw err;
    }
    if (!(await this.modules.nonces.claim(authenticatedRequester, request.nonce.toString("hex"), new Date(now.getTime() + 2 * skew)))) {
      return refuse(OprfRefusal.OPRF_REFUSAL_REPLAYED, "nonce already used", "nonce");
    }

    const count = request.blindedElements.length;
    const day = now.toISOString().slice(0, 10);
    const withinQuota = await this.modules.quota.consume(`${authenticatedRequester}/${purpose}/${day}`, count, this.opts.dailyQuota(authenticatedRequester, purpose));
    if (!withinQuota) {
      const ticket = request.ticket ? this.checkTicket(request.ticket, authenticatedRequester, purpose, now) : "no operator ticket";
      if (typeof ticket === "string") return refuse(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED, `daily ${purpose} quota reached; ${ticket}`);
      if (!(await this.modules.quota.consume(`ticket/${ticket.ticketId}`, count, Number(ticket.maxElements)))) {
        return refuse(OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED, `ticket ${ticket.ticketId} is used up`);
      }
      audit.ticketId = ticket.ticketId;
    }

    const { evaluated, proof } = await this.modules.share.evaluate(request.blindedElements, signal);
    await this.modules.audit.record(audit);
    return {
      ...base, evaluatedElements: evaluated.map((e) => Buffer.from(e)), proof: Buffer.from(proof),
      refusal: OprfRefusal.OPRF_REFUSAL_UNSPECIFIED, refusalField: "", refusalReason: "",
    };
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
  private readonly used = new Map<string, number>();

  async consume(key: string, count: number, limit: number): Promise<boolean> {
    const total = (this.used.get(key) ?? 0) + count;
    if (total > limit) return false;
    this.used.set(key, total);
    return true;
  }
}
