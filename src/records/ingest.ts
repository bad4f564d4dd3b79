import { createHmac } from "node:crypto";
import type { Clock } from "../clock.js";
import { CreditMeshError, invalid, isCreditMeshError } from "../errors.js";
import { deletionReasonToJSON, type DeletionReason, type Record as WireRecord } from "../gen/creditmesh/v1/records.js";
import type { Logger } from "../logger.js";
import type { AccountDestroyer, AccountPii, RecordStore, StoredAccount, StoredRepayment, WriteBatch, WrittenRecords } from "../store/types.js";
import type { SubjectTokens } from "../subject/tokenizer.js";
import { checkAccountAgainstRepayments, checkRepaymentAgainstAccount, narrowsTerms, repaymentHolds, recordLimits, validateRecord, type ValidAccount, type ValidRepayment } from "./validate.js";

export interface Rejection {
  index: number;
  field: string;
  reason: string;
}

export interface BatchResult {
  accepted: number;
  rejected: Rejection[];
}

/** Seals raw personal data for storage, and opens it again (store/cipher.ts implements it). */
export interface PiiSealer {
  sealPii(pii: AccountPii, aad: Uint8Array): Uint8Array;
  openPii(sealed: Uint8Array, aad: Uint8Array): AccountPii;
}

/** One account record of a batch. */
interface AccountVersion {
  index: number;
  valid: ValidAccount;
}

/** An account's records in a batch that are for its borrower, and that borrower's token. */
interface SettledAccount {
  versions: AccountVersion[];
  token: string;
}

/** The account a batch writes: its last accepted record, where the first accepted one was, and its subject token. */
interface BatchAccount extends AccountVersion {
  firstIndex: number;
  token: string;
}

/** A batch after validation, before any lookup. */
interface CheckedBatch {
  rejected: Rejection[];
  /** Every account record, by account_ref, in batch order. */
  accounts: Map<string, AccountVersion[]>;
  repayments: { index: number; ref: string; valid: ValidRepayment }[];
  deletions: Map<string, { index: number; reason: DeletionReason }>;
}

/** An account a furnisher deleted, as the rest of the node hears of it. */
export interface AccountDeleted {
  accountRef: string;
  subjectToken: string;
  reason: string;
}

/**
 * What else changes when a furnisher deletes accounts; node/ wires it to the
 * dispute store and the audit trail.
 */
export interface DeletionEffects {
  /**
   * Called before the accounts are destroyed: an entry for a deletion that
   * then fails (and is sent again) is better than a deletion without one.
   */
  record(deleted: readonly AccountDeleted[], actor: string): Promise<void>;
  /** Writes committed in the same batch as the deletion (closing its disputes). */
  writes(destroyed: readonly StoredAccount[]): Promise<WriteBatch>;
}

/**
 * The holder's transparency log, told of every accepted record version and
 * deletion.
 */
export interface RecordVersionLog {
  /**
   * Commits the record store's batch together with a leaf per record version
   * it wrote, in one synced write (RecordCommitOptions.commitVersioned);
   * `subjectOf` names the subject of an account the batch refers to.
   */
  commitRecords(batch: WriteBatch, written: WrittenRecords, subjectOf: (accountRef: string) => string): Promise<void>;
  /**
   * Tombstones for destroyed accounts; `reason` is a code. Resolves once they
   * are queued, with `durable` once they are on disk.
   */
  deleted(accountRefs: readonly string[], reason: string): Promise<{ durable: Promise<unknown> }>;
}

export interface IngestModules {
  store: RecordStore & AccountDestroyer;
  deletions?: DeletionEffects;
  recordLog?: RecordVersionLog;
  tokenizer: SubjectTokens;
  sealer: PiiSealer;
  clock: Clock;
  logger: Logger;
  /** Told of the subject of every new account once it is durable (the holder's published filter). */
  onSubjectHeld?(subjectToken: string): void;
}

/** account_ref = HMAC(node key, account_id): the only account key that leaves the validator. */
export function accountRefFor(key: Uint8Array, accountId: string): string {
  return createHmac("sha256", key).update(accountId).digest("hex").slice(0, 32);
}

/**
 * Validates and stores one batch of furnished records. A rejected record
 * changes nothing; the accepted ones are written in one synced batch before
 * this resolves, so an acknowledgement always means durable.
 */
export class IngestService {
  /** Batches are applied one at a time: read-then-write of counters and indexes must not interleave. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly opts: { accountRefKey: Uint8Array; /** Plausibility ceiling on amounts, minor units. */ maxAmountMinor?: number },
    private readonly modules: IngestModules,
  ) {}

  /**
   * Validation needs no stored state, so it runs at once, while earlier
   * batches are still being looked up and written (a stream handler that
   * submits each batch as it arrives overlaps it with their disk I/O); the
   * lookups and writes run one batch at a time, in call order. A batch whose
   * `signal` is aborted before its turn is not written and rejects with the
   * signal's reason. `actor` (the API key's id) goes into the audit trail
   * with each deletion.
   */
  submitBatch(records: readonly WireRecord[], signal?: AbortSignal, actor = "furnisher"): Promise<BatchResult> {
    let checked: CheckedBatch;
    try {
      checked = this.check(records);
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.tail.then(() => {
      signal?.throwIfAborted();
      return this.apply(records.length, checked, actor, signal);
    });
    this.tail = run.catch(() => undefined);
    return run.then(async ({ result, logged }) => {
      await Promise.all(logged);
      return result;
    });
  }

  /** Validates every record and derives its account_ref; touches no state. */
  private check(records: readonly WireRecord[]): CheckedBatch {
    const rejected: Rejection[] = [];
    const accounts = new Map<string, AccountVersion[]>();
    const repayments: { index: number; ref: string; valid: ValidRepayment }[] = [];
    const deletions = new Map<string, { index: number; reason: DeletionReason }>();
    // A batch usually carries many installments of each account: one HMAC per account, not per record.
    const refs = new Map<string, string>();
    const limits = recordLimits(this.modules.clock.now(), this.opts.maxAmountMinor);
    const refOf = (accountId: string): string => {
      let ref = refs.get(accountId);
      if (ref === undefined) refs.set(accountId, (ref = this.ref(accountId)));
      return ref;
    };

    records.forEach((record, index) => {
      try {
        const v = validateRecord(record, limits);
        const accountId = v.kind === "account" ? v.account.accountId : v.kind === "repayment" ? v.repayment.accountId : v.deletion.accountId;
        const ref = refOf(accountId);
        // Records apply in order; the deletion is applied after the batch's writes, so nothing of the account may follow it.
        if (deletions.has(ref)) {
          throw invalid(`${v.kind}.account_id`, "the account is deleted earlier in this batch; send this record in a later batch");
        }
        if (v.kind === "account") {
          const versions = accounts.get(ref);
          if (versions) versions.push({ index, valid: v.account });
          else accounts.set(ref, [{ index, valid: v.account }]);
        }
        else if (v.kind === "repayment") repayments.push({ index, ref, valid: v.repayment });
        else deletions.set(ref, { index, reason: v.deletion.reason });
      } catch (err) {
        if (!isCreditMeshError(err, "VALIDATION_FAILED")) throw err;
        rejected.push({ index, field: err.field ?? "", reason: reasonOf(err.message, err.field) });
      }
    });
    return { rejected, accounts, repayments, deletions };
  }

  /** `logged`: the transparency log's appends of this batch, awaited after the next batch may start. */
  private async apply(count: number, { rejected, accounts: records, repayments, deletions }: CheckedBatch, actor: string, signal?: AbortSignal): Promise<{ result: BatchResult; logged: Promise<unknown>[] }> {
    const logged: Promise<unknown>[] = [];
    // Accounts of the batch, and deleted ones, are read whole (the store is told what they replace;
    // a deletion names its subject); for the accounts its repayments refer to, knowing that they exist is enough.
    const accountRefs = [...new Set([...records.keys(), ...deletions.keys()])];
    const otherRefs = [...new Set(repayments.map((r) => r.ref).filter((ref) => !records.has(ref) && !deletions.has(ref)))];
    // One token per borrower, however many of their accounts (or versions of one) the batch carries.
    const subjects = new Map<string, ValidAccount["subject"]>();
    for (const versions of records.values()) for (const { valid } of versions) subjects.set(subjectKey(valid), valid.subject);
    // Stored accounts are read whole for repayments too: a repayment is checked against its account's dates and term.
    // Every account's subject token in one call: with an evaluator committee, one evaluation for the batch.
    const [existing, others, tokens] = await Promise.all([
      accountRefs.length ? this.modules.store.getAccounts(accountRefs) : [],
      otherRefs.length ? this.modules.store.getAccounts(otherRefs) : [],
      subjects.size ? this.modules.tokenizer.tokens([...subjects.values()], "ONBOARD", signal) : [],
    ]);
    const known = new Map<string, StoredAccount | undefined>();
    accountRefs.forEach((ref, i) => known.set(ref, existing[i]));
    const stored = new Map<string, StoredAccount>();
    otherRefs.forEach((ref, i) => others[i] && stored.set(ref, others[i]!));
    const tokenOf = new Map([...subjects.keys()].map((key, i) => [key, tokens[i]]));
    const settled = this.settleBorrowers(records, known, tokenOf, rejected);
    await this.refuseContradicted(settled, known, repayments, rejected);
    // What each account_ref writes: its last record accepted. A refused record changes nothing, so with none
    // accepted the account stays as stored, for the repayments after it too.
    const accounts = new Map<string, BatchAccount>();
    for (const [ref, { versions, token }] of settled) {
      if (versions.length) accounts.set(ref, { ...versions[versions.length - 1], firstIndex: versions[0].index, token });
    }

    const now = this.modules.clock.now().toISOString();
    const toWrite: StoredAccount[] = [];
    const previous: (StoredAccount | undefined)[] = [];
    for (const [ref, { valid, token }] of accounts) {
      toWrite.push(this.storedAccount(ref, valid, token, now));
      previous.push(known.get(ref));
    }

    const repaymentWrites: StoredRepayment[] = [];
    for (const { index, ref, valid } of repayments) {
      // A repayment may follow its account in the same batch, or refer to one stored before. It is stored with
      // the batch's last version of the account, so that is the one it must hold for.
      const account = accounts.get(ref);
      const against = account && account.firstIndex < index ? account.valid : (known.get(ref) ?? stored.get(ref));
      if (!against) {
        rejected.push({ index, field: "repayment.account_id", reason: "no account with this account_id has been furnished by this institution" });
        continue;
      }
      try {
        checkRepaymentAgainstAccount(valid, against);
      } catch (err) {
        if (!isCreditMeshError(err, "VALIDATION_FAILED")) throw err;
        rejected.push({ index, field: err.field ?? "", reason: reasonOf(err.message, err.field) });
        continue;
      }
      repaymentWrites.push({
        accountRef: ref,
        installment: valid.installment,
        dueOn: valid.dueOn,
        amountDue: valid.amountDue,
        paidOn: valid.paidOn,
        amountPaid: valid.amountPaid,
        balanceAfter: valid.balanceAfter,
      });
    }

    const deleted: AccountDeleted[] = [];
    for (const [ref, { index, reason }] of deletions) {
      const subjectToken = known.get(ref)?.subjectToken ?? toWrite.find((a) => a.accountRef === ref)?.subjectToken;
      if (subjectToken === undefined) {
        rejected.push({ index, field: "deletion.account_id", reason: "no account with this account_id has been furnished by this institution" });
        continue;
      }
      deleted.push({ accountRef: ref, subjectToken, reason: deletionReasonToJSON(reason) });
    }

    if (toWrite.length || repaymentWrites.length) {
      const recordLog = this.modules.recordLog;
      // With the log, records and their leaves go in one synced write.
      const written = new Map(toWrite.map((a) => [a.accountRef, a.subjectToken]));
      const subjectOf = (ref: string): string => {
        // Every repayment written was checked against one of these accounts above.
        const token = written.get(ref) ?? known.get(ref)?.subjectToken ?? stored.get(ref)?.subjectToken;
        if (token === undefined) throw new CreditMeshError("INTERNAL", `no subject known for account ${ref}`);
        return token;
      };
      await this.modules.store.writeRecords(
        toWrite,
        previous,
        repaymentWrites,
        recordLog ? { commitVersioned: (batch, written) => recordLog.commitRecords(batch, written, subjectOf) } : undefined,
      );
      toWrite.forEach((a, i) => previous[i] === undefined && this.modules.onSubjectHeld?.(a.subjectToken));
    }
    if (deleted.length) logged.push(...(await this.destroy(deleted, actor)));
    rejected.sort((a, b) => a.index - b.index);
    const accepted = count - rejected.length;
    if (rejected.length) {
      this.modules.logger.debug({ accepted, rejected: rejected.length, firstField: rejected[0]!.field }, "batch had rejections");
    }
    return { result: { accepted, rejected }, logged };
  }

  /** Returns the tombstones' appends. */
  private async destroy(deleted: readonly AccountDeleted[], actor: string): Promise<Promise<unknown>[]> {
    const effects = this.modules.deletions;
    await effects?.record(deleted, actor);
    await this.modules.store.destroy(
      deleted.map((d) => d.accountRef),
      { extraWrites: effects ? (destroyed) => effects.writes(destroyed) : undefined },
    );
    const logged: Promise<unknown>[] = [];
    for (const reason of new Set(deleted.map((d) => d.reason))) {
      const log = await this.modules.recordLog?.deleted(deleted.filter((d) => d.reason === reason).map((d) => d.accountRef), reason);
      if (log) logged.push(log.durable);
    }
    this.modules.logger.info({ accounts: deleted.length, reasons: [...new Set(deleted.map((d) => d.reason))] }, "furnished accounts deleted");
    return logged;
  }

  /**
   * Re-submitting an account corrects it, within two limits. The first: it
   * stays with its borrower. An account record for another ID number than the
   * one on file (or, for a new account, than its first record in the batch)
   * is refused, not moved with its history to someone else: a core system
   * that reuses account numbers, or a typo fixed the wrong way. Pushes those
   * refusals onto `rejected` and returns the records of each ref left.
   */
  private settleBorrowers(
    records: ReadonlyMap<string, readonly AccountVersion[]>,
    known: ReadonlyMap<string, StoredAccount | undefined>,
    tokenOf: ReadonlyMap<string, string>,
    rejected: Rejection[],
  ): Map<string, SettledAccount> {
    const accounts = new Map<string, SettledAccount>();
    for (const [ref, versions] of records) {
      const before = known.get(ref);
      let owner = subjectKey(versions[0].valid);
      if (before !== undefined) {
        // The token names the borrower on file, unless a token migration changed it: then the sealed ID number does.
        const same = versions.find((v) => tokenOf.get(subjectKey(v.valid)) === before.subjectToken);
        owner = same ? subjectKey(same.valid) : this.borrowerOf(before);
      }
      const kept = versions.filter((v) => {
        if (subjectKey(v.valid) === owner) return true;
        rejected.push({ index: v.index, field: "account.subject.id_number", reason: before ? ANOTHER_BORROWER_ON_FILE : ANOTHER_BORROWER_IN_BATCH });
        return false;
      });
      accounts.set(ref, { versions: kept, token: tokenOf.get(owner)! });
    }
    return accounts;
  }

  /**
   * The second limit on a correction: the repayments on file must still hold
   * for it (a later opening date, a shorter term). It may not leave behind
   * records that could not have been furnished. Both limits are met by
   * deleting the account and furnishing it again, which the audit trail and
   * the log record.
   */
  private async refuseContradicted(
    accounts: Map<string, SettledAccount>,
    known: ReadonlyMap<string, StoredAccount | undefined>,
    repayments: readonly { index: number; ref: string; valid: ValidRepayment }[],
    rejected: Rejection[],
  ): Promise<void> {
    // Only a correction that narrows the terms can contradict a repayment that held before: a re-sent daily file reads nothing more.
    const narrowed = [...accounts].filter(([ref, { versions }]) => {
      const before = known.get(ref);
      return before !== undefined && versions.some((v) => narrowsTerms(before, v.valid));
    });
    const onFile = await Promise.all(narrowed.map(([ref]) => this.modules.store.repaymentsForAccount(ref)));
    narrowed.forEach(([ref, settled], i) => {
      const before = known.get(ref)!;
      const byInstallment = new Map<number, Pick<ValidRepayment, "installment" | "dueOn" | "paidOn">>(onFile[i].map((r) => [r.installment, r]));
      // Repayments of this batch ahead of the account are checked against the stored one and are on file by the
      // time a correction applies; those after its first record are checked against the account the batch writes.
      const firstIndex = settled.versions[0].index;
      for (const r of repayments) {
        if (r.ref === ref && r.index < firstIndex && repaymentHolds(r.valid, before)) byInstallment.set(r.valid.installment, r.valid);
      }
      settled.versions = settled.versions.filter(({ index, valid }) => {
        try {
          checkAccountAgainstRepayments(valid, byInstallment.values());
          return true;
        } catch (err) {
          if (!isCreditMeshError(err, "VALIDATION_FAILED")) throw err;
          rejected.push({ index, field: err.field ?? "", reason: reasonOf(err.message, err.field) });
          return false;
        }
      });
    });
  }

  /** The subjectKey of a stored account's borrower, from its sealed identity. */
  private borrowerOf(stored: StoredAccount): string {
    const pii = this.modules.sealer.openPii(stored.pii, Buffer.from(stored.accountRef));
    return `${pii.idType}:${pii.idNumber}`;
  }

  private ref(accountId: string): string {
    return accountRefFor(this.opts.accountRefKey, accountId);
  }

  private storedAccount(ref: string, a: ValidAccount, subjectToken: string, now: string): StoredAccount {
    const pii: AccountPii = {
      accountId: a.accountId,
      idType: a.subject.idTypeName,
      idNumber: a.subject.normalizedId,
      name: a.subject.name,
      phone: a.subject.phone,
    };
    return {
      accountRef: ref,
      subjectToken,
      ...(this.modules.tokenizer.nameTag && a.subject.name ? { nameTag: this.modules.tokenizer.nameTag(subjectToken, a.subject.name) } : {}),
      pii: this.modules.sealer.sealPii(pii, Buffer.from(ref)),
      productType: a.productType,
      openedOn: a.openedOn,
      closedOn: a.closedOn,
      creditLimit: a.creditLimit,
      termMonths: a.termMonths,
      currency: a.currency,
      chargedOff: a.chargedOff,
      furnishingConsentRef: a.furnishingConsentRef,
      updatedAt: now,
    };
  }
}

const ANOTHER_BORROWER_ON_FILE =
  "this account_id is on file for another borrower, and an account does not move between borrowers; if it was furnished under the wrong ID number, delete it (a deletion record, FURNISHED_IN_ERROR) and furnish it again";
const ANOTHER_BORROWER_IN_BATCH = "this account_id appears earlier in this batch for another borrower, and an account does not move between borrowers";

/** Who an account is about, spelled as its sealed identity is (idType:idNumber). */
function subjectKey(account: ValidAccount): string {
  return `${account.subject.idTypeName}:${account.subject.normalizedId}`;
}

/** `invalid()` prefixes messages with the field; the wire carries them apart. */
function reasonOf(message: string, field: string | undefined): string {
  return field && message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}
