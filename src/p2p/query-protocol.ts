import { performance } from "node:perf_hooks";
import { isoDate } from "../clock.js";
import { isCreditMeshError } from "../errors.js";
import { HolderStatus, Role } from "../gen/creditmesh/v1/common.js";
import { QueryAnswer, QueryRequest, Signed, type Member } from "../gen/creditmesh/v1/peer.js";
import { HolderAnswer, type HolderOutcome } from "../gen/creditmesh/v1/report.js";
import { publicKeyFromPeerId, verifyByPeerId } from "../identity/node-key.js";
import { auditSafe } from "../audit/trail.js";
import type { RateLimiter } from "../rate-limit.js";
import { isoDateProblem } from "../records/dates.js";
import { answerContentProblem } from "../report/answer-content.js";
import type { HolderResult } from "../report/assemble.js";
import type { HolderService, SignedHolderAnswer } from "../report/holder.js";
import { INQUIRY_PROOF_V1, inquiryProofOf, querySignedBytes } from "../report/inquiry-proof.js";
import type { Holders, SealedQuery } from "../report/service.js";
import type { NonceStore } from "../store/types.js";
import { checkAnswerProof, VerifiedCheckpoints } from "../tlog/answer-proof.js";
import { sha256 } from "../tlog/leaves.js";
import type { PeerComponents } from "./components.js";
import { QUERY_PROTOCOL } from "./protocols.js";
import { FairTurns } from "../fair-turns.js";
import { InFlightLimiter } from "./in-flight-limiter.js";
import { RpcProtocol, type RpcProtocolInit } from "./rpc-protocol.js";
import { stageNow, stageSpan } from "../stage-trace.js";
import { ReusedWriter } from "../reused-writer.js";
import { openSignedRequest, RequestRefused, type SignedRequestContext, type SignedRequestSpec } from "./signed-request.js";
import { isRequestId, REQUEST_ID_SHAPE } from "../request-id.js";

export type QueryComponents = Pick<PeerComponents, "peer" | "rpc" | "membership" | "signer" | "clock" | "logger" | "metrics"> & {
  /** The holder's domain: consent check, inquiry log, tradelines, signed answers and signed refusals. */
  holder: Pick<HolderService, "answer" | "refuse" | "busy">;
  nonces: NonceStore;
  rateLimiter?: RateLimiter;
  /**
   * Logs the signed answer sent (the transparency log). Not awaited: the
   * query's inquiry leaf is already durable (the holder wrote it with the
   * inquiry), the answer leaf joins a later append.
   */
  logAnswered?: (signedAnswer: Uint8Array) => void;
};

export interface QueryInit extends RpcProtocolInit {
  institutionId: string;
  maxClockSkewMs: number;
  /** How often nonces past their window are forgotten. */
  noncePruneIntervalMs?: number;
  /** An OK or NO_DATA answer must carry a log proof (tlog.answerProofs); a proof that is there is checked either way. */
  requireAnswerProofs?: boolean;
  /** Queries this node takes at once as a holder (worked on or waiting their turn), from all members; beyond it a signed BUSY (0 = no limit). */
  maxConcurrentQueries?: number;
  /** Of those, how many one member may have at once; beyond it that member gets a signed BUSY and the others are still served (0 = no limit). */
  maxConcurrentQueriesPerMember?: number;
  /** Of those, how many are worked on at once; the rest wait, the members taking turns (0 = no limit). */
  answerTurns?: number;
  /** Queries this node has in flight to one holder; the rest wait, BUSY if the deadline comes first (0 = no limit). */
  maxInFlightPerHolder?: number;
}

/** More members than any network has; past it the cache starts over rather than grow. */
const MAX_CACHED_PUBLIC_KEYS = 10_000;

/** Defaults of p2p.maxConcurrentQueries, p2p.answerTurns and p2p.maxInFlightPerHolder (config/schema.ts), for protocols built without a config. */
const DEFAULT_MAX_CONCURRENT_QUERIES = 256;
const DEFAULT_MAX_CONCURRENT_QUERIES_PER_MEMBER = 64;
const DEFAULT_ANSWER_TURNS = 32;
const DEFAULT_MAX_IN_FLIGHT_PER_HOLDER = 32;

/**
 * /creditmesh/query, both ends.
 *
 * Holder: authenticates the request (a LENDER member, signed by the
 * connection's peer for that institution, fresh, not replayed, as of a day
 * that has begun) and lets the domain answer. Every refusal is a signed
 * DENIED answer, never a dropped stream, so the requester can tell "refused"
 * from "broken".
 *
 * Requester (`ask`, the report's `Holders`): one signed query to every other
 * furnishing member in parallel under one signal; each member yields exactly
 * one outcome, and an answer whose signature or content does not check out
 * is ERROR with its data dropped.
 */
export class QueryProtocol extends RpcProtocol implements Holders {
  readonly protocol = QUERY_PROTOCOL;
  readonly #c: QueryComponents;
  readonly #init: QueryInit;
  readonly #spec: SignedRequestSpec<QueryRequest>;
  /** What openSignedRequest() needs of the components, built once rather than per request. */
  readonly #requestContext: SignedRequestContext;
  readonly #checkpoints = new VerifiedCheckpoints();
  /** Holders' public keys by peer id: decoding a peer id (base58) on every answer is needless work. */
  readonly #publicKeys = new Map<string, Uint8Array>();
  #pruneTimer: NodeJS.Timeout | undefined;
  /** Queries this holder is answering now. */
  #answering = 0;
  readonly #maxAnswering: number;
  /** Queries being answered, per requesting member (only members with some). */
  readonly #answeringBy = new Map<string, number>();
  readonly #maxAnsweringPerMember: number;
  /** Turns at the holder's work: members with queries waiting take them one after another. */
  readonly #turns: FairTurns;
  readonly #outbound: InFlightLimiter;

  constructor(components: QueryComponents, init: QueryInit) {
    super(components, init);
    this.#c = components;
    this.#init = init;
    this.#maxAnswering = init.maxConcurrentQueries ?? DEFAULT_MAX_CONCURRENT_QUERIES;
    this.#maxAnsweringPerMember = init.maxConcurrentQueriesPerMember ?? DEFAULT_MAX_CONCURRENT_QUERIES_PER_MEMBER;
    this.#turns = new FairTurns(init.answerTurns ?? DEFAULT_ANSWER_TURNS);
    this.#outbound = new InFlightLimiter(init.maxInFlightPerHolder ?? DEFAULT_MAX_IN_FLIGHT_PER_HOLDER);
    const { membership, clock, logger, rateLimiter } = components;
    this.#requestContext = { membership, clock, logger, rateLimiter, maxClockSkewMs: init.maxClockSkewMs };
    this.#spec = {
      what: "request",
      decode: (bytes) => QueryRequest.decode(bytes),
      id: (q) => q.requestId,
      sender: { field: "requester_institution_id", label: "requester institution", of: (q) => q.requesterInstitutionId },
      issued: { field: "issued_at", of: (q) => q.issuedAt },
      role: Role.LENDER,
      nonce: { of: (q) => q.nonce, store: components.nonces },
      signedBytes: querySignedBytes,
      // The request id becomes the inquiry's id, stored and sent with every later answer about the
      // subject for two years: one of any length would push those answers past the frame limit.
      // A report can only be as of a day that has begun somewhere within the clock skew; a later
      // date would show installments not yet due as missed.
      // A query without the requester's inquiry proof would leave an inquiry no other lender counts: a
      // lender could hide its own multi-lending that way.
      check: (q, now) =>
        !isRequestId(q.requestId)
          ? { reason: `request_id is not ${REQUEST_ID_SHAPE}`, field: "request_id" }
          : isoDateProblem(q.asOf) !== undefined || q.asOf > isoDate(new Date(now + init.maxClockSkewMs))
            ? { reason: "as_of is not a date up to today", field: "as_of" }
            : q.inquiryProof !== INQUIRY_PROOF_V1
              ? { reason: `inquiry_proof is not ${INQUIRY_PROOF_V1}: the query must be signed over its inquiry statement`, field: "inquiry_proof" }
              : undefined,
    };
  }

  override async start(): Promise<void> {
    await super.start();
    if (this.#pruneTimer) return;
    const { nonces, clock } = this.#c;
    // Replay protection only needs nonces inside the freshness window.
    this.#pruneTimer = setInterval(() => {
      nonces.prune(clock.now()).catch(() => undefined);
    }, this.#init.noncePruneIntervalMs ?? Math.max(10_000, this.#init.maxClockSkewMs));
    this.#pruneTimer.unref();
  }

  override async stop(): Promise<void> {
    clearInterval(this.#pruneTimer);
    this.#pruneTimer = undefined;
    await super.stop();
  }

  async handleMessage(body: Uint8Array, from: { peerId: string }, signal?: AbortSignal): Promise<Uint8Array> {
    const c = this.#c;
    const span = stageSpan("holder.query");
    let opened;
    try {
      opened = openSignedRequest(body, from, this.#spec, this.#requestContext);
      span.mark("open");
    } catch (err) {
      if (!(err instanceof RequestRefused)) throw err;
      // The actor is the member the connection authenticated, whatever the request claims.
      const refused = await c.holder.refuse(err.request as QueryRequest, err.reason, { actor: err.member.institutionId });
      c.metrics?.queriesAnswered.inc({ status: "DENIED" });
      return encodeAnswer(refused);
    }
    // One member cannot take every slot: past its own share it alone is told to wait (an honest node keeps at most
    // p2p.maxInFlightPerHolder, 32 by default, in flight to one holder, below the default share of 64).
    const member = opened.member.institutionId;
    const mine = this.#answeringBy.get(member) ?? 0;
    const busy =
      this.#maxAnswering > 0 && this.#answering >= this.#maxAnswering
        ? `holder busy: answering ${this.#answering} queries; ask again`
        : this.#maxAnsweringPerMember > 0 && mine >= this.#maxAnsweringPerMember
          ? `holder busy: answering ${mine} queries from this member, its share; ask again`
          : undefined;
    if (busy) {
      // Signed and about this request, so the requester can tell "busy" from "broken"; nothing is written,
      // and the nonce is let go with it (the request was not answered).
      opened.nonce?.settled();
      c.metrics?.queriesBusy.inc({ member: auditSafe(member) });
      c.metrics?.queriesAnswered.inc({ status: "BUSY" });
      return encodeAnswer(c.holder.busy(opened.message, busy));
    }
    let signed: SignedHolderAnswer;
    this.#answering++;
    this.#answeringBy.set(member, mine + 1);
    let release: (() => void) | undefined;
    try {
      // A member with many queries here waits for its turn behind every other member's next one, not the
      // reverse: one member within its rate and share cannot make the others' answers wait for all of its own.
      release = this.#turns.tryTake();
      if (release === undefined) {
        const since = performance.now();
        release = await this.#turns.take(member, signal);
        span.at("turn", since);
        c.metrics?.queryTurnWait.observe((performance.now() - since) / 1000);
      }
      const requesterProof = inquiryProofOf(opened.envelope.body, opened.message, opened.envelope.signature);
      signed = await c.holder.answer(opened.message, { also: opened.nonce?.batch, signedQuery: body, requesterProof });
    } finally {
      release?.();
      this.#answering--;
      const left = (this.#answeringBy.get(member) ?? 1) - 1;
      if (left > 0) this.#answeringBy.set(member, left);
      else this.#answeringBy.delete(member);
      opened.nonce?.settled();
    }
    span.mark("answer");
    c.logAnswered?.(signed.signedAnswer);
    c.metrics?.queriesAnswered.inc({ status: HolderStatus[signed.answer.status] });
    const encoded = encodeAnswer(signed);
    span.mark("encode");
    return encoded;
  }

  /** Members asked for a report: every furnisher but this node. */
  holders(): Member[] {
    return this.#c.membership.members().filter((m) => m.institutionId !== this.#init.institutionId && m.roles.includes(Role.FURNISHER));
  }

  targets(): string[] {
    return this.holders().map((m) => m.institutionId);
  }

  /** One signature per report, whatever the number of holders: over the inquiry statement when the query asks for it. */
  seal(query: QueryRequest): SealedQuery {
    const body = QueryRequest.encode(query).finish();
    const signature = this.#c.signer.sign(querySignedBytes(body, query));
    return { envelope: Signed.encode({ body: Buffer.from(body), signature: Buffer.from(signature) }).finish(), requesterProof: inquiryProofOf(body, query, signature) };
  }

  async ask(query: QueryRequest, signal: AbortSignal, targets?: readonly string[], sealed?: SealedQuery): Promise<HolderResult[]> {
    const span = stageSpan("lender.ask");
    const envelope = (sealed ?? this.seal(query)).envelope;
    const only = targets && new Set(targets);
    const members = only ? this.holders().filter((m) => only.has(m.institutionId)) : this.holders();
    span.mark("sign");
    const envelopeHash = sha256(envelope);
    const results = await Promise.all(members.map((member) => this.#askOne(member, query, envelope, envelopeHash, signal)));
    span.mark("all-answers");
    const metrics = this.#c.metrics;
    if (metrics) {
      for (const r of results) {
        const status = HolderStatus[r.outcome.status] ?? String(r.outcome.status);
        metrics.holderOutcomes.inc({ status });
        metrics.holderLatency.observe({ holder: r.outcome.institutionId, status }, r.outcome.latencyMs / 1000);
      }
    }
    return results;
  }

  #publicKey(peerId: string): Uint8Array {
    let key = this.#publicKeys.get(peerId);
    if (key === undefined) {
      key = publicKeyFromPeerId(peerId);
      if (this.#publicKeys.size >= MAX_CACHED_PUBLIC_KEYS) this.#publicKeys.clear();
      this.#publicKeys.set(peerId, key);
    }
    return key;
  }

  async #askOne(member: Member, query: QueryRequest, envelope: Uint8Array, envelopeHash: Uint8Array, signal: AbortSignal): Promise<HolderResult> {
    const started = performance.now();
    const outcome = (status: HolderStatus, reason: string, extra: Partial<HolderOutcome> = {}): HolderOutcome => ({
      institutionId: member.institutionId,
      status,
      reason,
      latencyMs: Math.round(performance.now() - started),
      tradelines: 0,
      tradelinesTotal: 0,
      peerId: member.peerId,
      signedAnswer: Buffer.alloc(0),
      signature: Buffer.alloc(0),
      ...extra,
    });
    // One lender's burst must not bury a holder (its streams paused, then reset): past the limit, queries wait here.
    // A free slot is taken in this job, so that the query is queued on its stream before ask() returns.
    const free = signal.aborted ? undefined : this.#outbound.tryAcquire(member.peerId);
    let slot: { release: () => void; waited: boolean };
    try {
      slot = free ? { release: free, waited: false } : await this.#outbound.acquire(member.peerId, signal);
    } catch {
      this.#c.metrics?.queriesQueued.inc({ holder: member.institutionId, result: "busy" });
      return { outcome: outcome(HolderStatus.BUSY, `${this.#outbound.limit} queries already in flight to this holder (p2p.maxInFlightPerHolder); none finished before the deadline`) };
    }
    if (slot.waited) this.#c.metrics?.queriesQueued.inc({ holder: member.institutionId, result: "sent" });
    let bytes: Uint8Array;
    const t = stageNow();
    const span = stageSpan("lender.askOne", t);
    try {
      bytes = await this.request(member.peerId, envelope, signal);
      span.mark("rpc");
    } catch (err) {
      if (isCreditMeshError(err, "P2P_TIMEOUT") || (signal.aborted && !isCreditMeshError(err, "P2P_UNREACHABLE"))) {
        // Held back behind this node's own queries to the holder, it had only part of the deadline.
        if (slot.waited) return { outcome: outcome(HolderStatus.BUSY, "queued behind this node's queries to the holder (p2p.maxInFlightPerHolder); no answer before the deadline") };
        return { outcome: outcome(HolderStatus.TIMEOUT, "no answer before the deadline") };
      }
      if (isCreditMeshError(err, "P2P_UNREACHABLE")) return { outcome: outcome(HolderStatus.UNREACHABLE, err.message) };
      this.log.warn({ holder: member.institutionId, err: (err as Error).message }, "query failed");
      return { outcome: outcome(HolderStatus.ERROR, (err as Error).message) };
    } finally {
      slot.release();
    }
    try {
      const wire = QueryAnswer.decode(bytes);
      if (!verifyByPeerId(member.peerId, wire.signedAnswer, wire.signature)) {
        return { outcome: outcome(HolderStatus.ERROR, "answer signature does not verify; data dropped") };
      }
      const answer = HolderAnswer.decode(wire.signedAnswer);
      const problem = mismatch(answer, query, member);
      span.mark("verify-decode");
      if (problem) return { outcome: outcome(HolderStatus.ERROR, `${problem}; data dropped`) };
      // Nothing is merged from a holder whose log does not back its answer.
      const proof = checkAnswerProof(answer, {
        publicKey: this.#publicKey(member.peerId),
        signedQueryHash: envelopeHash,
        required: this.#init.requireAnswerProofs ?? false,
        checkpoints: this.#checkpoints,
      });
      if (proof.problem) {
        this.log.warn({ holder: member.institutionId, problem: proof.problem }, "answer's log proof does not verify");
        return { outcome: outcome(HolderStatus.ERROR, `proof: ${proof.problem}; data dropped`) };
      }
      const status = answer.status;
      return {
        outcome: outcome(status, answer.reason, {
          tradelines: answer.tradelines.length,
          // Fresh Buffers of their own already (the decoder copies bytes fields).
          signedAnswer: wire.signedAnswer,
          signature: wire.signature,
        }),
        answer: status === HolderStatus.DENIED || status === HolderStatus.BUSY ? undefined : answer,
      };
    } catch (err) {
      return { outcome: outcome(HolderStatus.ERROR, `malformed answer: ${(err as Error).message}`) };
    }
  }
}

export function createQueryProtocol(components: QueryComponents, init: QueryInit): QueryProtocol {
  return new QueryProtocol(components, init);
}

/**
 * An answer must be for this request (the fields `creditmesh verify` binds it
 * to the report by), from this holder, about this subject, as of this date;
 * and what it carries must be what an honest holder sends
 * (report/answer-content.ts, the rule `verify` applies to a saved report).
 */
function mismatch(answer: HolderAnswer, query: QueryRequest, member: Member): string | undefined {
  if (answer.requestId !== query.requestId) return "answer is for another request";
  if (answer.holderInstitutionId !== member.institutionId) return "answer names another holder";
  if (answer.requesterInstitutionId !== query.requesterInstitutionId) return "answer names another requester";
  if (answer.subjectToken !== query.subjectToken) return "answer is about another subject";
  if (answer.asOf !== query.asOf) return "answer is as of another date";
  return answerContentProblem(answer, query.requestId);
}

const answerFrameWriter = new ReusedWriter();

function encodeAnswer(signed: SignedHolderAnswer): Uint8Array {
  // Views, not copies: the encoder copies the bytes into the frame once.
  return answerFrameWriter.encode((w) => QueryAnswer.encode({ signedAnswer: bufferView(signed.signedAnswer), signature: bufferView(signed.signature) }, w));
}

function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
