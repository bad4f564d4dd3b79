import { auditSafe, type AuditAction, type AuditTrail } from "../audit/trail.js";
import { isoDate, type Clock } from "../clock.js";
import { checkConsent, DEFAULT_MAX_CLOCK_SKEW_MS } from "../consent/policy.js";
import { CreditMeshError } from "../errors.js";
import { HolderStatus, Purpose } from "../gen/creditmesh/v1/common.js";
import type { QueryRequest } from "../gen/creditmesh/v1/peer.js";
import { inquiryWindow, windowStartsAfter } from "./inquiry-window.js";
import { DEFAULT_SUBJECT_QUERIES_PER_DAY, QueryQuota, type QuotaGrant } from "./query-quota.js";
import type { Metrics } from "../metrics.js";
import { type AnswerLogProof, HolderAnswer, type Inquiry, type InquiryProof, type Tradeline } from "../gen/creditmesh/v1/report.js";
import type { Logger } from "../logger.js";
import { reportableTradeline } from "../records/retention.js";
import { tradelineDisputeState, WITHHELD } from "../disputes/flag.js";
import type { AccountTerms, ConsentStore, DisputeStore, InquiryStore, RecordStore, SubjectIndex, WriteBatch } from "../store/types.js";
import { isEmptyBatch, joinBatches } from "../store/write-batch.js";
import { stageNow, stageSpan } from "../stage-trace.js";
import { capTradelines, MAX_TRADELINES_LISTED } from "./tradeline-cap.js";
import { ReusedWriter } from "../reused-writer.js";

/** The reason of a DENIED answer to a member past its query quota for the subject. */
export const QUOTA_EXCEEDED = "query quota for this subject exceeded";
/** The reason of a DENIED answer to a member past its daily query quota across subjects. */
export const MEMBER_QUOTA_EXCEEDED = "daily query quota for this member exceeded";

/** A holder's answer with the exact bytes its signature covers. */
export interface SignedHolderAnswer {
  answer: HolderAnswer;
  signedAnswer: Uint8Array;
  signature: Uint8Array;
}

/** An audit entry as the holder records it. */
export interface AuditRecord {
  action: AuditAction;
  actor: string;
  details: Record<string, string>;
}

export interface AnswerOptions {
  /** Writes to commit in the same synced batch as the holder's own record of the query (the request's nonce). */
  also?: WriteBatch;
  /** The audit entry for this query, in place of the holder's own (a report's QUERY_SENT entry for its own holder). */
  entry?: AuditRecord;
  /** This query's count against the requester's quota, taken already (this node's own report, before its fan-out). */
  quota?: QuotaGrant;
  /** The signed query as received: its inquiry leaf goes to the log in the inquiry's own batch, and the answer carries the proof. */
  signedQuery?: Uint8Array;
  /** The requester's proof of this query (report/inquiry-proof.ts), kept with its inquiry for later readers. */
  requesterProof?: InquiryProof;
}

/** The holder's transparency log as an answer needs it (node/transparency-log.ts). */
export interface AnswerLog {
  inquiryLeaf(signedQuery: Uint8Array): { leaf: Uint8Array; queryHash: Uint8Array };
  /**
   * Starts the reads a proof of these accounts' tradelines needs, so they run
   * beside the query's own reads and write; the handle goes to prove().
   */
  readRecordLeaves?(accountRefs: readonly string[]): object | undefined;
  /** The checkpoint and inclusion proofs an answer carries; undefined when answers carry none. */
  prove(input: { inquiryIndex: number; signedQueryHash: Uint8Array; accountRefs: readonly string[]; recordsUnprovable?: string; reads?: object }): Promise<AnswerLogProof | undefined>;
}

export interface HolderModules {
  /** The subject's accounts and inquiries, read together. */
  subjects: SubjectIndex;
  /** Repayments by account. */
  records: Pick<RecordStore, "repaymentsForAccount">;
  consents: ConsentStore;
  inquiries: InquiryStore;
  /** Disputes of this institution's accounts; absent = no account is disputed. */
  disputes?: Pick<DisputeStore, "listForAccount">;
  sign(data: Uint8Array): Uint8Array;
  /** Checks a consent's signature against its grantee's node key (from the manifest). */
  verifyGranteeSignature(granteeInstitutionId: string, data: Uint8Array, signature: Uint8Array): boolean;
  /**
   * The pseudonym a lender sees instead of another institution's id on an
   * inquiry about this subject (report/inquirer.ts).
   */
  inquirerPseudonym(subjectToken: string, institutionId: string): string;
  clock: Clock;
  logger: Logger;
  /** Records every query answered or refused for another institution (and every refusal). */
  audit?: AuditTrail;
  /** Logs each answered query's inquiry leaf with the inquiry (through audit.appendLogged) and proves it in the answer. */
  answerLog?: AnswerLog;
  /** Told of the subject once an inquiry about it is durable: a member that queried a subject must stay asked about it. */
  onSubjectHeld?(subjectToken: string): void;
  metrics?: Metrics | null;
  /** Per-member, per-subject daily query counts; absent = in memory only, `subjectQueriesPerDay` per day. */
  quota?: QueryQuota;
  /**
   * Whether a token migration re-indexed this (earlier) token: its records'
   * leaves now commit to the new token, so an answer under it cannot prove them.
   */
  reindexedToken?(subjectToken: string): Promise<boolean>;
}

/**
 * The holder side of a report: checks the consent the requester presents,
 * logs the inquiry, derives this institution's tradelines for the subject and
 * signs everything it returns. The same code answers local and remote
 * requesters, so the node applies one policy to everyone.
 */
export class HolderService {
  constructor(
    private readonly opts: { institutionId: string; maxClockSkewMs?: number; subjectQueriesPerDay?: number },
    private readonly modules: HolderModules,
  ) {
    this.quota = modules.quota ?? new QueryQuota(opts.subjectQueriesPerDay ?? DEFAULT_SUBJECT_QUERIES_PER_DAY);
  }

  /** The per-member daily query quotas this holder applies, per subject and across subjects (shared with this node's report gate). */
  readonly quota: QueryQuota;

  async answer(query: QueryRequest, opts: AnswerOptions = {}): Promise<SignedHolderAnswer> {
    const { modules } = this;
    const span = stageSpan(opts.entry ? "self.answer" : "holder.answer");
    let also = opts.quota ? joinBatches(opts.also, opts.quota.batch) : opts.also;
    const now = modules.clock.now();
    const base = {
      requestId: query.requestId,
      holderInstitutionId: this.opts.institutionId,
      requesterInstitutionId: query.requesterInstitutionId,
      subjectToken: query.subjectToken,
      asOf: query.asOf,
      answeredAt: now,
    };
    const audit = modules.audit;
    const actor = auditSafe(query.requesterInstitutionId);
    // Another institution's query gets a QUERY_ANSWERED entry; this node's own
    // reports bring their QUERY_SENT entry. Either goes in one synced batch with
    // the inquiry (and the request's nonce): one disk flush per answer. The
    // reads run meanwhile; the answer leaves only once the batch is on disk.
    const entry = opts.entry ?? (query.requesterInstitutionId === this.opts.institutionId ? undefined : { action: "QUERY_ANSWERED" as const, actor, details: auditDetails(query) });
    const appendWith = entry && audit?.appendWith?.bind(audit);
    // The query's inquiry leaf rides in the same synced write as the inquiry and its audit entry.
    const appendLogged = entry && opts.signedQuery && modules.answerLog && audit?.appendLogged?.bind(audit);
    // Started before the checks below, so that LevelDB's thread reads while this one checks the consent's signature
    // and prepares the write: by the time the answer needs the read, it is usually done, and this thread does not
    // sleep and wake for it. The request is authenticated (query protocol) or this node's own; what the read finds
    // is used only once the consent and the quota allow it.
    const tRead = stageNow();
    const reading = this.read(query.subjectToken, query.asOf, Boolean(appendLogged));
    reading.catch(() => undefined);
    const revokedAt = query.consent ? await modules.consents.getRevocation(query.consent.granteeInstitutionId, query.consent.consentId) : undefined;
    const decision = checkConsent(query.consent, {
      requesterInstitutionId: query.requesterInstitutionId,
      subjectToken: query.subjectToken,
      purpose: query.purpose,
      now,
      maxClockSkewMs: this.opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS,
      revokedAt,
      verifyGranteeSignature: modules.verifyGranteeSignature,
    });
    span.mark("consent");
    if (!decision.ok) {
      // Appended in the same turn, so both entries normally share one synced batch.
      const [, refused] = await Promise.all([opts.entry && this.record(opts.entry), this.refuse(query, decision.reason, { actor, also })]);
      return refused;
    }
    // Counted after the consent check, so forged queries cannot use up a member's quota; refused before anything is logged.
    if (!opts.quota) {
      const granted = this.quota.admit(query.requesterInstitutionId, query.subjectToken, now.getTime());
      if ("refused" in granted) {
        modules.metrics?.queriesOverQuota.inc({ member: actor, quota: granted.refused });
        const reason = granted.refused === "member" ? MEMBER_QUOTA_EXCEEDED : QUOTA_EXCEEDED;
        const [, refused] = await Promise.all([opts.entry && this.record(opts.entry), this.refuse(query, reason, { actor, also })]);
        return refused;
      }
      // The count goes in the batch that logs the query: no write of its own.
      if (!isEmptyBatch(granted.batch)) also = joinBatches(also, granted.batch);
    }

    const inquiry: Inquiry = {
      inquiryId: query.requestId,
      requesterInstitutionId: query.requesterInstitutionId,
      requesterName: "",
      purpose: query.purpose,
      inquiredAt: now,
      requesterProof: opts.requesterProof,
    };
    const leaf = appendLogged ? modules.answerLog!.inquiryLeaf(opts.signedQuery!) : undefined;
    // Asked beside the read and the write, not after them: the proof is the last step before the answer leaves.
    const reindexed = leaf && modules.reindexedToken ? modules.reindexedToken(query.subjectToken) : undefined;
    reindexed?.catch(() => undefined);
    let inquiryIndex: number | undefined;
    const logged = appendLogged
      ? modules.inquiries.add(query.subjectToken, inquiry, {
          also,
          commit: async (batch) => {
            inquiryIndex = await appendLogged(entry.action, entry.actor, entry.details, batch, [leaf!.leaf]);
          },
        })
      : appendWith
        ? modules.inquiries.add(query.subjectToken, inquiry, { also, commit: (batch) => appendWith(entry.action, entry.actor, entry.details, batch) })
        : Promise.all([modules.inquiries.add(query.subjectToken, inquiry, { also }), entry && audit?.append(entry.action, entry.actor, entry.details)]);
    span.mark("quota+prepare");
    const t = stageNow();
    const [{ tradelines, tradelinesTotal, earlier, nameTags, leafReads }] = await Promise.all([
      reading.finally(() => span.at("read", tRead)),
      Promise.resolve(logged).finally(() => span.at("write", t)),
    ]);
    span.mark("read+write");
    const logProof =
      inquiryIndex === undefined
        ? undefined
        : await modules.answerLog!.prove({
            inquiryIndex,
            signedQueryHash: leaf!.queryHash,
            accountRefs: tradelines.map((t) => t.accountRef),
            recordsUnprovable: (await reindexed)
              ? "the subject was re-indexed under another token by a token migration: its record leaves commit to that token"
              : undefined,
            reads: leafReads,
          });
    span.mark("proof");
    modules.onSubjectHeld?.(query.subjectToken);
    // A report as of a past date shows the inquiries known on that date, so it stays reproducible.
    // Bounded however many were logged (report/inquiry-window.ts), so an answer never nears the frame limit.
    const window = inquiryWindow(
      earlier.filter((i) => i.inquiryId !== inquiry.inquiryId).concat(isoDate(now) <= query.asOf ? [inquiry] : []),
      query.asOf,
    );
    const inquiries = (isoDate(now) <= query.asOf ? window.shown : window.shown.concat(inquiry)).map((i) => this.asSeenBy(query, i));
    // Per query, so at debug: at info its serialisation and write were a few per cent of a holder's CPU under load; the audit trail keeps every query.
    modules.logger.debug(
      { requestId: query.requestId, requester: query.requesterInstitutionId, subjectToken: query.subjectToken, tradelines: tradelines.length },
      "query answered",
    );
    span.mark("inquiries");
    const signed = this.sign({
      ...base,
      status: tradelines.length ? HolderStatus.OK : HolderStatus.NO_DATA,
      reason: "",
      tradelines,
      tradelinesTotal,
      inquiries,
      inquiriesTotal: window.total + (isoDate(now) <= query.asOf ? 0 : 1),
      nameTags: tradelines.length ? nameTags : [],
      logProof,
    });
    span.mark("sign");
    return signed;
  }

  /**
   * A signed DENIED answer, with its QUERY_REFUSED audit entry (committed with
   * `also`): the one place a refusal is made, whether the consent failed here
   * or the query protocol refused the request before it reached the domain.
   * `actor` is who the refusal is recorded against (the authenticated member).
   */
  async refuse(query: QueryRequest, reason: string, opts: { actor: string; also?: WriteBatch }): Promise<SignedHolderAnswer> {
    this.modules.logger.warn(
      { requestId: auditSafe(query.requestId), requester: auditSafe(query.requesterInstitutionId), subjectToken: auditSafe(query.subjectToken), reason },
      "query refused",
    );
    await this.record({ action: "QUERY_REFUSED", actor: opts.actor, details: { ...auditDetails(query), reason } }, opts.also);
    return this.signEmpty(query, HolderStatus.DENIED, reason);
  }

  /**
   * A signed BUSY answer: this holder is answering as many queries as it
   * takes at once. Nothing is logged or written (under overload a synced
   * write per refusal would only add to it); the requester may ask again.
   */
  busy(query: QueryRequest, reason: string): SignedHolderAnswer {
    return this.signEmpty(query, HolderStatus.BUSY, reason);
  }

  /** Appends an audit entry with `also` in its batch. */
  private async record(entry: AuditRecord, also?: WriteBatch): Promise<void> {
    const audit = this.modules.audit;
    if (audit?.appendWith && !isEmptyBatch(also)) return audit.appendWith(entry.action, entry.actor, entry.details, also!);
    // Writes handed over with the query would otherwise be dropped without a word.
    if (!isEmptyBatch(also)) throw new CreditMeshError("INTERNAL", "writes that go with a refusal need an audit trail that commits batches");
    await audit?.append(entry.action, entry.actor, entry.details);
  }

  /**
   * The subject's tradelines as of `asOf` and the inquiries logged before
   * this one that its window may show: the latest per requester, purpose
   * and day (inquiryWindow keeps one of each anyway), not the whole log.
   */
  private async read(
    subjectToken: string,
    asOf: string,
    proved: boolean,
  ): Promise<{ tradelines: Tradeline[]; tradelinesTotal: number; earlier: Inquiry[]; nameTags: string[]; leafReads?: object }> {
    const { accounts, inquiries } = await this.modules.subjects.read(subjectToken, windowStartsAfter(asOf));
    // The names on file, as keyed tags, so the requester can flag a name that is not the one it was given.
    const nameTags = [...new Set(accounts.flatMap((a) => (a.nameTag ? [a.nameTag] : [])))].sort();
    // An account opened after the report date did not exist yet: the report is as of asOf.
    const existing = accounts.filter((account) => account.openedOn <= asOf);
    const readLeaves = (refs: string[]) => (proved && refs.length > 0 ? this.modules.answerLog?.readRecordLeaves?.(refs) : undefined);
    if (existing.length > MAX_TRADELINES_LISTED) {
      // Too many to list: which ones are listed depends on what their repayments say, so their leaves are read after.
      const { listed, total } = capTradelines(await this.tradelines(existing, asOf), asOf);
      return { tradelines: listed, tradelinesTotal: total, earlier: inquiries, nameTags, leafReads: readLeaves(listed.map((t) => t.accountRef)) };
    }
    // Every account's repayments, and the record leaves its proof opens, are read in one go.
    const tradelines = this.tradelines(existing, asOf);
    const leafReads = readLeaves(existing.map((a) => a.accountRef));
    const derived = await tradelines;
    return { tradelines: derived, tradelinesTotal: derived.length, earlier: inquiries, nameTags, leafReads };
  }

  /** The tradelines of `accounts`, which must be those opened by `asOf`. */
  private async tradelines(accounts: readonly AccountTerms[], asOf: string): Promise<Tradeline[]> {
    const { records, disputes, clock } = this.modules;
    // Dispute deadlines run on this holder's clock, whatever the report date.
    const now = clock.now();
    const derived = await Promise.all(
      accounts.map(async (account) => {
        const [repayments, accountDisputes] = await Promise.all([
          records.repaymentsForAccount(account.accountRef),
          disputes ? disputes.listForAccount(account.accountRef) : [],
        ]);
        const dispute = tradelineDisputeState(accountDisputes, this.opts.institutionId, now);
        // A dispute left unanswered past its deadline withholds the tradeline.
        if (dispute === WITHHELD) return undefined;
        return reportableTradeline({ institutionId: this.opts.institutionId, accountRef: account.accountRef, account, repayments, asOf, dispute });
      }),
    );
    return derived.filter((t): t is Tradeline => t !== undefined).sort((a, b) =>
      a.openedOn === b.openedOn ? a.accountRef.localeCompare(b.accountRef) : a.openedOn.localeCompare(b.openedOn),
    );
  }

  /**
   * One logged inquiry as this requester may see it (DESIGN §4 Inquiry). The
   * borrower's own request (SUBJECT_REQUEST) sees every inquiry by
   * institution. A lender sees its own inquiries by institution and everyone
   * else's under a pseudonym, without a name: the same pseudonym at every
   * holder, so the lender can still count distinct inquiring institutions,
   * but not tell who they are (see report/inquirer.ts for what a member that
   * sets out to unmask them can still do).
   */
  private asSeenBy(query: QueryRequest, logged: Inquiry): Inquiry {
    if (query.purpose === Purpose.SUBJECT_REQUEST || logged.requesterInstitutionId === query.requesterInstitutionId) return logged;
    return {
      ...logged,
      requesterInstitutionId: this.modules.inquirerPseudonym(query.subjectToken, logged.requesterInstitutionId),
      requesterName: "",
    };
  }

  /** A signed answer that carries only a status and its reason (DENIED, BUSY). */
  private signEmpty(query: QueryRequest, status: HolderStatus, reason: string): SignedHolderAnswer {
    return this.sign({
      requestId: query.requestId,
      holderInstitutionId: this.opts.institutionId,
      requesterInstitutionId: query.requesterInstitutionId,
      subjectToken: query.subjectToken,
      asOf: query.asOf,
      answeredAt: this.modules.clock.now(),
      status: status,
      reason,
      tradelines: [],
      tradelinesTotal: 0,
      inquiries: [],
      inquiriesTotal: 0,
      nameTags: [],
    });
  }

  private sign(answer: HolderAnswer): SignedHolderAnswer {
    return signHolderAnswer(answer, this.modules.sign);
  }
}

const answerWriter = new ReusedWriter();

/** Encodes an answer once and signs exactly those bytes: what a requester verifies later. */
export function signHolderAnswer(answer: HolderAnswer, sign: (data: Uint8Array) => Uint8Array): SignedHolderAnswer {
  const signedAnswer = answerWriter.encode((w) => HolderAnswer.encode(answer, w));
  return { answer, signedAnswer, signature: sign(signedAnswer) };
}

/** What the audit trail keeps of a query: ids and the subject token only. */
function auditDetails(query: QueryRequest): Record<string, string> {
  return {
    requester: auditSafe(query.requesterInstitutionId),
    requestId: auditSafe(query.requestId),
    subjectToken: auditSafe(query.subjectToken),
    purpose: Purpose[query.purpose] ?? String(query.purpose),
    consentId: auditSafe(query.consent?.consentId),
  };
}
