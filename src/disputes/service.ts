import { randomUUID } from "node:crypto";
import { auditSafe, type AuditTrail } from "../audit/trail.js";
import type { Clock } from "../clock.js";
import { ANY_PURPOSE, checkConsent, DEFAULT_MAX_CLOCK_SKEW_MS } from "../consent/policy.js";
import { CreditMeshError, invalid } from "../errors.js";
import { DisputeOutcome, disputeOutcomeToJSON, DisputeStatus } from "../gen/creditmesh/v1/common.js";
import type { Consent } from "../gen/creditmesh/v1/consent.js";
import type { Dispute } from "../gen/creditmesh/v1/dispute.js";
import type { AccountRecord, Record as WireRecord } from "../gen/creditmesh/v1/records.js";
import type { Logger } from "../logger.js";
import { isRequestId, REQUEST_ID_SHAPE } from "../request-id.js";
import type { BatchResult } from "../records/ingest.js";
import { validateAccount } from "../records/validate.js";
import { KeyedSerialQueue } from "../store/serial.js";
import { screenFreeText } from "../subject/pii-screen.js";
import { isOverdue } from "./flag.js";
import type { DisputeStore, StoredAccount, Tombstones } from "../store/types.js";
import { appendTombstones, TombstoneReason } from "../store/types.js";

export const DAY_MS = 24 * 3600 * 1000;
export const MAX_REASON_CHARS = 500;
export const MAX_NOTE_CHARS = 1000;
/** A filing routed to another holder gives up after this unless the caller passes its own signal. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 10_000;
/** Asking a holder for a dispute's current state gives up after this: the last known state is answered instead. */
export const DEFAULT_STATUS_TIMEOUT_MS = 3_000;

/**
 * Delivers a dispute to the institution that holds the account and returns
 * the holder's record of it (OPEN, with its deadline). Implemented by p2p/,
 * which also checks the holder's signature on the answer.
 */
export interface DisputeRouter {
  send(institutionId: string, dispute: Dispute, signal?: AbortSignal): Promise<Dispute>;
  /** The holder's current record of a dispute filed through this node (signature checked by p2p/). */
  status(institutionId: string, disputeId: string, signal?: AbortSignal): Promise<Dispute>;
}

/** The holder's side of routed disputes; p2p/ calls it once the filer is authenticated. */
export interface DisputeReceiver {
  receive(dispute: Dispute, fromInstitutionId: string): Promise<Dispute>;
  /** The current record of a dispute held here, for the member it was filed through only. */
  statusFor(disputeId: string, fromInstitutionId: string): Promise<Dispute>;
}

/** What disputes need of the furnished records. */
export interface DisputeRecords {
  getAccounts(refs: readonly string[]): Promise<(StoredAccount | undefined)[]>;
  deleteAccounts(refs: readonly string[]): Promise<number>;
}

/**
 * The consents a dispute is filed on: the filer's own, and what the holder
 * needs to check a filer's the way it checks a query's (consent/policy.ts).
 */
export interface DisputeConsents {
  /** A consent the subject gave this institution that is usable now, for any purpose. */
  usableFor(subjectToken: string): Promise<Consent | undefined>;
  /** When this node learnt that the consent `consentId` of `granteeInstitutionId` was revoked. */
  getRevocation(granteeInstitutionId: string, consentId: string): Promise<Date | undefined>;
  /** The grantee node's signature over the consent body (its key from the manifest). */
  verifyGranteeSignature(granteeInstitutionId: string, data: Uint8Array, signature: Uint8Array): boolean;
}

/** The ingest path: a corrected account goes through the same validation and write as any furnished record. */
export interface AccountIngest {
  submitBatch(records: readonly WireRecord[]): Promise<BatchResult>;
}

export interface DisputeServiceOptions {
  institutionId: string;
  /** Days the holder has to resolve a dispute before its tradeline is withheld. */
  responseDays: number;
  routeTimeoutMs?: number;
  statusTimeoutMs?: number;
  /** Clock skew allowed on a consent's valid_from (config `p2p.maxClockSkewMs`). */
  maxClockSkewMs?: number;
}

export interface DisputeServiceModules {
  store: DisputeStore;
  records: DisputeRecords;
  ingest: AccountIngest;
  consents: DisputeConsents;
  /** account_ref of one of this institution's account ids. */
  accountRefOf(accountId: string): string;
  /** Absent on a node without peers: only this institution's accounts can be disputed. */
  router?: DisputeRouter;
  /** The name on one of this institution's accounts, so that a resolution note cannot carry it. */
  subjectNameOf?(accountRef: string): Promise<string | undefined>;
  audit?: AuditTrail;
  clock: Clock;
  logger: Logger;
  /** The transparency log: a DISPUTE_DELETED tombstone for an account a resolution deletes. */
  tombstones?: Tombstones;
}

/**
 * Disputes of a tradeline, at both ends:
 *
 * - the node the dispute is filed through (any member) validates it, attaches
 *   the consent the borrower gave it and, unless it holds the account itself,
 *   routes it to the holder, then keeps a copy;
 * - the holder checks that consent (a dispute is filed on the borrower's
 *   behalf: any member that learnt a subject token and an account_ref could
 *   otherwise get that tradeline flagged, and withheld once the deadline
 *   passes), that the account is that subject's and that the filer has no
 *   other dispute of it open, stores the dispute OPEN with
 *   `respond_by = filed_at + responseDays` and later resolves it:
 *   CORRECTED (the corrected account goes through ingest), VERIFIED_ACCURATE
 *   (the tradeline then shows RESOLVED_DISAGREES) or DELETED (the account is
 *   destroyed).
 *
 * How a dispute shows on the tradeline is decided where tradelines are derived
 * (see flag.ts), always with the holder's clock.
 */
export class DisputeService implements DisputeReceiver {
  /** Changes of one dispute (receive, resolve) never interleave. */
  private readonly queue = new KeyedSerialQueue();
  /** Filings of one account never interleave, so that two cannot both find no open dispute of their filer (see opening()). */
  private readonly accountQueue = new KeyedSerialQueue();

  constructor(
    private readonly opts: DisputeServiceOptions,
    private readonly modules: DisputeServiceModules,
  ) {
    if (!Number.isInteger(opts.responseDays) || opts.responseDays < 1) {
      throw new CreditMeshError("CONFIG_INVALID", "disputes.responseDays: must be a positive integer", { field: "disputes.responseDays" });
    }
  }

  /**
   * Files a dispute of the tradeline `accountRef` held by `institutionId` for
   * the subject `subjectToken`. `via` names who filed it (for the audit trail).
   * Resolves with the holder's record once the holder has stored it.
   */
  async file(subjectToken: string, institutionId: string, accountRef: string, reason: string, via: string, signal?: AbortSignal): Promise<Dispute> {
    const holder = (institutionId ?? "").trim();
    if (holder === "") throw invalid("institution_id", "required: the institution that furnished the disputed tradeline");
    checkAccountRef(accountRef, "account_ref");
    const text = checkReason(reason, "reason");
    checkSubjectToken(subjectToken, "subject");
    const self = this.opts.institutionId;
    const consent = await this.modules.consents.usableFor(subjectToken);
    if (!consent) {
      throw new CreditMeshError(
        "CONSENT_DENIED",
        "subject: this institution holds no usable consent of this borrower; record the borrower's consent (GrantConsent) before filing a dispute on their behalf",
        { field: "subject" },
      );
    }
    const draft: Dispute = {
      disputeId: randomUUID(),
      subjectToken,
      institutionId: holder,
      accountRef,
      reason: text,
      status: DisputeStatus.OPEN,
      outcome: DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED,
      note: "",
      filedAt: this.modules.clock.now(),
      respondBy: undefined,
      resolvedAt: undefined,
      filedViaInstitutionId: self,
      consent,
    };

    let dispute: Dispute;
    if (holder === self) {
      // The holder's own rule, applied to its own filing.
      await this.checkFilerConsent(draft, self);
      dispute = await this.opening(draft, () => this.open(draft));
    } else {
      const { router } = this.modules;
      if (!router) {
        throw new CreditMeshError("NOT_FOUND", `institution_id: ${holder} is not a member of this node's network`, { field: "institution_id" });
      }
      const accepted = await router.send(holder, draft, signal ?? AbortSignal.timeout(this.opts.routeTimeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS));
      const problem = filingMismatch(accepted, draft);
      if (problem) throw new CreditMeshError("UNAVAILABLE", `holder ${holder} answered with another dispute (${problem})`);
      const refused = noteRefusal(accepted);
      if (refused) throw new CreditMeshError("UNAVAILABLE", `holder ${holder} answered with a note this node does not keep (${refused})`);
      // The copy lets this node show what it filed; the holder's record is the one that counts.
      await this.modules.store.put(accepted);
      dispute = accepted;
    }
    this.modules.logger.info(
      { disputeId: dispute.disputeId, holder, accountRef, subjectToken, respondBy: dispute.respondBy?.toISOString() },
      "dispute filed",
    );
    await this.audit("DISPUTE_FILED", via, dispute, { consentId: auditSafe(consent.consentId) });
    return dispute;
  }

  /** A dispute routed here by the member `fromInstitutionId` (already authenticated by p2p/). */
  async receive(dispute: Dispute, fromInstitutionId: string): Promise<Dispute> {
    const self = this.opts.institutionId;
    if (dispute.institutionId !== self) {
      throw new CreditMeshError("NOT_FOUND", `institution_id: this node is ${self}, not ${dispute.institutionId}`, { field: "institution_id" });
    }
    if (dispute.filedViaInstitutionId !== fromInstitutionId) {
      throw new CreditMeshError("MEMBERSHIP_DENIED", "filed_via_institution_id does not name the member that sent the dispute");
    }
    checkDisputeId(dispute.disputeId, "dispute_id");
    checkSubjectToken(dispute.subjectToken, "subject_token");
    checkAccountRef(dispute.accountRef, "account_ref");
    const reason = checkReason(dispute.reason, "reason");
    const consent = await this.checkFilerConsent(dispute, fromInstitutionId);
    // The consent is stored with the dispute (in `...dispute`): it is what
    // entitled the filer to have the tradeline flagged, signed by the filer, and
    // holders keep no other copy of members' consents. A later revocation or
    // expiry does not undo a dispute already opened, and the record shows what
    // it was opened on.
    const draft: Dispute = {
      ...dispute,
      reason,
      status: DisputeStatus.OPEN,
      outcome: DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED,
      note: "",
      respondBy: undefined,
      resolvedAt: undefined,
    };
    return this.opening(dispute, async () => {
      // A repeated delivery (a retry, or a replay of the signed request) changes nothing.
      const existing = await this.modules.store.get(dispute.disputeId);
      if (existing) {
        const problem = filingMismatch(existing, draft);
        if (problem) throw new CreditMeshError("CONFLICT", `dispute_id ${dispute.disputeId} is already used by another dispute`);
        return existing;
      }
      const opened = await this.open(draft);
      this.modules.logger.info(
        { disputeId: opened.disputeId, from: fromInstitutionId, accountRef: opened.accountRef, subjectToken: opened.subjectToken },
        "dispute received",
      );
      await this.audit("DISPUTE_RECEIVED", `institution:${fromInstitutionId}`, opened, { consentId: auditSafe(consent.consentId) });
      return opened;
    });
  }

  /**
   * The holder's answer to an OPEN dispute. CORRECTED requires `corrected`,
   * the corrected record of the same account, applied through ingest before
   * the dispute closes; DELETED destroys the account (and closes its other
   * open disputes).
   */
  async resolve(disputeId: string, outcome: DisputeOutcome, note: string, corrected: AccountRecord | undefined, via: string): Promise<Dispute> {
    if (!disputeId) throw invalid("dispute_id", "required");
    checkDisputeId(disputeId, "dispute_id");
    if (outcome !== DisputeOutcome.CORRECTED && outcome !== DisputeOutcome.VERIFIED_ACCURATE && outcome !== DisputeOutcome.DELETED) {
      throw invalid("outcome", `must be CORRECTED, VERIFIED_ACCURATE or DELETED, got ${String(outcome)}`);
    }
    const noteText = checkNote(note ?? "", "note");
    if (outcome === DisputeOutcome.CORRECTED && !corrected) {
      throw invalid("corrected", "required with outcome CORRECTED: the corrected account record");
    }
    if (outcome !== DisputeOutcome.CORRECTED && corrected) {
      throw invalid("corrected", `only allowed with outcome CORRECTED, not ${disputeOutcomeToJSON(outcome)}`);
    }

    const resolved = await this.queue.run(disputeId, async () => {
      const dispute = await this.modules.store.get(disputeId);
      if (!dispute || dispute.institutionId !== this.opts.institutionId) {
        throw new CreditMeshError("NOT_FOUND", `dispute_id: no dispute ${disputeId} is held by this institution`, { field: "dispute_id" });
      }
      if (dispute.status !== DisputeStatus.OPEN) {
        throw new CreditMeshError(
          "CONFLICT",
          `dispute ${disputeId} was already resolved (${disputeOutcomeToJSON(dispute.outcome)} at ${dispute.resolvedAt?.toISOString() ?? "?"})`,
        );
      }
      if (noteText && this.modules.subjectNameOf) {
        // The note goes back to the member the dispute was filed through.
        screenFreeText(noteText, "note", { names: [await this.modules.subjectNameOf(dispute.accountRef)] });
      }
      // The account changes first: if the node stops in between, the dispute is still OPEN and resolving again is safe.
      if (outcome === DisputeOutcome.CORRECTED) await this.applyCorrection(dispute, corrected!);
      if (outcome === DisputeOutcome.DELETED && (await this.modules.records.deleteAccounts([dispute.accountRef])) > 0) {
        await appendTombstones(this.modules.tombstones, [dispute.accountRef], TombstoneReason.DisputeDeleted);
      }
      const closed: Dispute = { ...dispute, status: DisputeStatus.RESOLVED, outcome, note: noteText, resolvedAt: this.modules.clock.now() };
      await this.modules.store.put(closed);
      return closed;
    });
    this.modules.logger.info(
      { disputeId, outcome: disputeOutcomeToJSON(outcome), accountRef: resolved.accountRef, subjectToken: resolved.subjectToken },
      "dispute resolved",
    );
    await this.audit("DISPUTE_RESOLVED", via, resolved, { outcome: disputeOutcomeToJSON(outcome) });
    if (outcome === DisputeOutcome.DELETED) await this.closeOthersOfDeletedAccount(resolved, via);
    return resolved;
  }

  /**
   * Disputes this institution holds (as the furnisher): the open ones, soonest
   * deadline first, and with `includeResolved` the resolved ones after them,
   * most recent first. Copies of disputes filed with other holders are not listed.
   */
  async list(includeResolved: boolean): Promise<Dispute[]> {
    const all = includeResolved ? await this.modules.store.listAll() : await this.modules.store.listOpen();
    return inListOrder(all.filter((d) => d.institutionId === this.opts.institutionId));
  }

  /** Open disputes this institution holds, split by whether their deadline has passed on this node's clock. */
  async openCounts(): Promise<{ pending: number; overdue: number }> {
    const now = this.modules.clock.now();
    const held = (await this.modules.store.listOpen()).filter((d) => d.institutionId === this.opts.institutionId);
    const overdue = held.filter((d) => isOverdue(d, now)).length;
    return { pending: held.length - overdue, overdue };
  }

  /**
   * Every dispute about one subject that this node holds or filed, as the
   * borrower follows them, in the order of list(). Copies still open here are
   * first refreshed from their holders (as by current(), all at once);
   * `notCurrent` names those whose holder could not be asked. Disputes are
   * few next to accounts, so this reads them all rather than keep an index.
   */
  async listForSubject(subjectToken: string, includeResolved: boolean): Promise<{ disputes: Dispute[]; notCurrent: string[] }> {
    checkSubjectToken(subjectToken, "subject");
    const about = (await this.modules.store.listAll()).filter((d) => d.subjectToken === subjectToken);
    const now = await Promise.all(about.map((d) => this.refreshed(d)));
    const shown = now.filter((x) => includeResolved || x.dispute.status === DisputeStatus.OPEN);
    return {
      disputes: inListOrder(shown.map((x) => x.dispute)),
      notCurrent: shown.filter((x) => !x.current).map((x) => x.dispute.disputeId).sort(),
    };
  }

  /** One dispute this node holds or filed, as this node knows it. */
  get(disputeId: string): Promise<Dispute | undefined> {
    checkDisputeId(disputeId, "dispute_id");
    return this.modules.store.get(disputeId);
  }

  /**
   * One dispute this node holds or filed, as its holder has it now. A copy of
   * a dispute filed with another member that is still OPEN here is refreshed
   * from that holder first (and kept); if the holder cannot answer in time,
   * the copy is answered with `current: false`. A resolved dispute never
   * changes again, so its copy is current without asking.
   */
  async current(disputeId: string, signal?: AbortSignal): Promise<{ dispute: Dispute; current: boolean }> {
    if (!disputeId) throw invalid("dispute_id", "required");
    checkDisputeId(disputeId, "dispute_id");
    const known = await this.modules.store.get(disputeId);
    if (!known) throw new CreditMeshError("NOT_FOUND", `dispute_id: this node holds and filed no dispute ${disputeId}`, { field: "dispute_id" });
    return this.refreshed(known, signal);
  }

  /** `known` as its holder has it now (see current()). */
  private async refreshed(known: Dispute, signal?: AbortSignal): Promise<{ dispute: Dispute; current: boolean }> {
    const { disputeId } = known;
    if (known.institutionId === this.opts.institutionId || known.status !== DisputeStatus.OPEN) return { dispute: known, current: true };
    const { router } = this.modules;
    if (!router) return { dispute: known, current: false };
    let answer: Dispute;
    try {
      answer = await router.status(known.institutionId, disputeId, signal ?? AbortSignal.timeout(this.opts.statusTimeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS));
    } catch (err) {
      this.modules.logger.warn({ disputeId, holder: known.institutionId, err: (err as Error).message }, "dispute status not refreshed");
      return { dispute: known, current: false };
    }
    const problem = filingMismatch(answer, known);
    if (problem) {
      this.modules.logger.warn({ disputeId, holder: known.institutionId, problem }, "holder answered with another dispute; copy kept");
      return { dispute: known, current: false };
    }
    const refused = noteRefusal(answer);
    if (refused) {
      this.modules.logger.warn({ disputeId, holder: known.institutionId, problem: refused }, "holder's note refused; copy kept");
      return { dispute: known, current: false };
    }
    if (answer.status === known.status) return { dispute: known, current: true };
    const updated = await this.queue.run(disputeId, async () => {
      await this.modules.store.put(answer);
      return answer;
    });
    this.modules.logger.info(
      { disputeId, holder: updated.institutionId, outcome: disputeOutcomeToJSON(updated.outcome) },
      "dispute copy updated from its holder",
    );
    return { dispute: updated, current: true };
  }

  /** The holder's side of current(): only the member a dispute was filed through may read it. */
  async statusFor(disputeId: string, fromInstitutionId: string): Promise<Dispute> {
    checkDisputeId(disputeId, "dispute_id");
    const dispute = await this.modules.store.get(disputeId);
    // One answer for "no such dispute" and "not filed through you": a member learns nothing about others' disputes.
    if (!dispute || dispute.institutionId !== this.opts.institutionId || dispute.filedViaInstitutionId !== fromInstitutionId) {
      throw new CreditMeshError("NOT_FOUND", `dispute_id: no dispute ${disputeId} filed through ${fromInstitutionId} is held here`, { field: "dispute_id" });
    }
    return dispute;
  }

  /**
   * The filer's entitlement, checked by the holder before anything is stored:
   * the consent attached to the dispute must be the borrower's consent to the
   * filing member, by the rule every holder applies to a query's consent
   * (consent/policy.ts), whatever its purpose. CONSENT_DENIED on "consent".
   */
  private async checkFilerConsent(dispute: Dispute, filer: string): Promise<Consent> {
    const { consent } = dispute;
    if (!consent) {
      throw new CreditMeshError(
        "CONSENT_DENIED",
        "consent: the filing member attached no consent of the borrower; a dispute is filed on the borrower's behalf, so its filer must attach the borrower's consent (a filing node without this must be updated)",
        { field: "consent" },
      );
    }
    const { consents } = this.modules;
    const decision = checkConsent(consent, {
      requesterInstitutionId: filer,
      subjectToken: dispute.subjectToken,
      purpose: ANY_PURPOSE,
      now: this.modules.clock.now(),
      maxClockSkewMs: this.opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS,
      revokedAt: await consents.getRevocation(consent.granteeInstitutionId, consent.consentId),
      verifyGranteeSignature: (id, data, signature) => consents.verifyGranteeSignature(id, data, signature),
    });
    if (!decision.ok) {
      throw new CreditMeshError("CONSENT_DENIED", `consent: ${decision.reason}`, { field: "consent", meta: { reason: decision.reason } });
    }
    // Stored here with the dispute, and the filer's node signs whatever it likes.
    screenFreeText(consent.evidenceRef, "consent.evidence_ref");
    return consent;
  }

  /**
   * Runs a filing's check-and-store holding its dispute id (replays, resolve)
   * and then its account (open()'s one-open-dispute rule). Nothing takes the
   * two in the other order, so filings cannot deadlock.
   */
  private opening<T>(draft: Dispute, task: () => Promise<T>): Promise<T> {
    return this.queue.run(draft.disputeId, () => this.accountQueue.run(draft.accountRef, task));
  }

  /**
   * Checks that the account is this subject's and that its filer has no
   * other dispute of it open, then stores the dispute OPEN with its deadline.
   * Run inside opening().
   */
  private async open(draft: Dispute): Promise<Dispute> {
    const [account] = await this.modules.records.getAccounts([draft.accountRef]);
    // One answer for "no such account" and "not this subject's": a filer learns nothing about other subjects.
    if (!account || account.subjectToken !== draft.subjectToken) {
      throw new CreditMeshError(
        "NOT_FOUND",
        `account_ref: institution ${this.opts.institutionId} holds no account ${draft.accountRef} of this subject`,
        { field: "account_ref" },
      );
    }
    // One at a time per filer: each open dispute can withhold the tradeline, and each costs a record and an audit entry.
    const pending = (await this.modules.store.listForAccount(draft.accountRef)).find(
      (d) => d.institutionId === this.opts.institutionId && d.status === DisputeStatus.OPEN && d.filedViaInstitutionId === draft.filedViaInstitutionId,
    );
    if (pending) {
      throw new CreditMeshError(
        "CONFLICT",
        `account_ref: dispute ${pending.disputeId} of this account filed through ${draft.filedViaInstitutionId} is still open; file again once the holder has resolved it`,
        { field: "account_ref", meta: { openDisputeId: pending.disputeId } },
      );
    }
    const filedAt = this.modules.clock.now();
    const dispute: Dispute = { ...draft, filedAt, respondBy: new Date(filedAt.getTime() + this.opts.responseDays * DAY_MS) };
    await this.modules.store.put(dispute);
    return dispute;
  }

  private async applyCorrection(dispute: Dispute, corrected: AccountRecord): Promise<void> {
    const valid = validateAccount(corrected, "corrected");
    if (this.modules.accountRefOf(valid.accountId) !== dispute.accountRef) {
      throw invalid("corrected.account_id", "must be the account_id of the disputed account");
    }
    const [current] = await this.modules.records.getAccounts([dispute.accountRef]);
    if (!current) {
      throw new CreditMeshError("CONFLICT", `the account of dispute ${dispute.disputeId} no longer exists; resolve it as DELETED`);
    }
    const result = await this.modules.ingest.submitBatch([{ kind: { $case: "account", value: corrected } }]);
    const rejection = result.rejected[0];
    if (rejection) {
      const field = rejection.field.replace(/^account(?=\.|$)/, "corrected") || "corrected";
      throw invalid(field, rejection.reason);
    }
  }

  private async closeOthersOfDeletedAccount(deleted: Dispute, via: string): Promise<void> {
    const others = (await this.modules.store.listForAccount(deleted.accountRef)).filter(
      (d) => d.disputeId !== deleted.disputeId && d.institutionId === this.opts.institutionId && d.status === DisputeStatus.OPEN,
    );
    for (const other of others) {
      const closed = await this.queue.run(other.disputeId, async () => {
        const current = await this.modules.store.get(other.disputeId);
        if (!current || current.status !== DisputeStatus.OPEN) return undefined;
        const next: Dispute = {
          ...current,
          status: DisputeStatus.RESOLVED,
          outcome: DisputeOutcome.DELETED,
          note: `account deleted in resolving dispute ${deleted.disputeId}`,
          resolvedAt: this.modules.clock.now(),
        };
        await this.modules.store.put(next);
        return next;
      });
      if (closed) await this.audit("DISPUTE_RESOLVED", via, closed, { outcome: "DELETED" });
    }
  }

  private async audit(action: "DISPUTE_FILED" | "DISPUTE_RECEIVED" | "DISPUTE_RESOLVED", actor: string, d: Dispute, extra: Record<string, string> = {}) {
    await this.modules.audit?.append(action, actor, disputeAuditDetails(d, extra));
  }
}

/** What the audit trail keeps of a dispute: ids and the subject token, never its text. */
export function disputeAuditDetails(d: Dispute, extra: Record<string, string> = {}): Record<string, string> {
  return { disputeId: d.disputeId, subjectToken: d.subjectToken, institutionId: d.institutionId, accountRef: d.accountRef, ...extra };
}

/** Why `got` is not the filing `sent` (undefined if it is). The holder sets status, dates and outcome itself. */
export function filingMismatch(got: Dispute, sent: Dispute): string | undefined {
  if (got.disputeId !== sent.disputeId) return "dispute_id differs";
  if (got.institutionId !== sent.institutionId) return "institution_id differs";
  if (got.accountRef !== sent.accountRef) return "account_ref differs";
  if (got.subjectToken !== sent.subjectToken) return "subject_token differs";
  if (got.filedViaInstitutionId !== sent.filedViaInstitutionId) return "filed_via_institution_id differs";
  if (got.reason !== sent.reason) return "reason differs";
  return undefined;
}

function checkReason(reason: string, field: string): string {
  const text = (reason ?? "").trim();
  if (text === "") throw invalid(field, "required: why the subject disputes the tradeline");
  const chars = [...text].length;
  if (chars > MAX_REASON_CHARS) throw invalid(field, `must be at most ${MAX_REASON_CHARS} characters, got ${chars}`);
  if (/[\p{Cc}]/u.test(text.replace(/\n/g, ""))) throw invalid(field, "must not contain control characters");
  // Also where a peer routed it here: a member's reason is stored and shown at the holder.
  screenFreeText(text, field);
  return text;
}

function checkNote(note: string, field: string): string {
  const text = note.trim();
  const chars = [...text].length;
  if (chars > MAX_NOTE_CHARS) throw invalid(field, `must be at most ${MAX_NOTE_CHARS} characters, got ${chars}`);
  if (/[\p{Cc}]/u.test(text.replace(/\n/g, ""))) throw invalid(field, "must not contain control characters");
  screenFreeText(text, field);
  return text;
}

/** Why a holder's note may not be kept here (undefined if it may): the filer screens it as the holder's own resolve does. */
function noteRefusal(d: Dispute): string | undefined {
  try {
    checkNote(d.note ?? "", "note");
    return undefined;
  } catch (err) {
    if (err instanceof CreditMeshError) return err.message;
    throw err;
  }
}

function checkAccountRef(ref: string, field: string): void {
  if (!ref) throw invalid(field, "required: the account_ref shown on the disputed tradeline");
  if (!/^[0-9a-f]{8,128}$/.test(ref)) throw invalid(field, "must be the lowercase hex account_ref shown on the tradeline");
}

function checkSubjectToken(token: string, field: string): void {
  if (!/^[0-9a-f]{16,128}$/.test(token ?? "")) throw invalid(field, "not a valid subject token");
}

function checkDisputeId(id: string, field: string): void {
  if (!isRequestId(id)) throw invalid(field, `must be a dispute id (${REQUEST_ID_SHAPE})`);
}

/** Open disputes soonest deadline first, then resolved ones most recent first. */
function inListOrder(disputes: readonly Dispute[]): Dispute[] {
  const open = disputes.filter((d) => d.status === DisputeStatus.OPEN).sort((a, b) => ms(a.respondBy) - ms(b.respondBy) || a.disputeId.localeCompare(b.disputeId));
  const resolved = disputes.filter((d) => d.status !== DisputeStatus.OPEN).sort((a, b) => ms(b.resolvedAt) - ms(a.resolvedAt) || a.disputeId.localeCompare(b.disputeId));
  return [...open, ...resolved];
}

function ms(d: Date | undefined): number {
  return d?.getTime() ?? 0;
}
