import type { ProductType } from "../gen/creditmesh/v1/common.js";
import type { Consent, Revocation } from "../gen/creditmesh/v1/consent.js";
import type { Dispute } from "../gen/creditmesh/v1/dispute.js";
import type { Inquiry } from "../gen/creditmesh/v1/report.js";

declare const writeBatch: unique symbol;

/**
 * Writes one store prepared for another part to commit in the same atomic,
 * synced batch (a request's nonce with the holder's record of it, closed
 * disputes with the account that goes). Opaque outside store/: the domain
 * passes it along and never looks inside (store/write-batch.ts does).
 */
export interface WriteBatch {
  readonly [writeBatch]: "WriteBatch";
}

/**
 * What the node keeps about one furnished account. Raw personal data (the
 * furnisher's account id, the subject's ID number, name, phone) lives only in
 * `pii`, sealed with AES-256-GCM under the node data key.
 */
export interface StoredAccount {
  /** HMAC(node account-ref key, account_id), hex: the only account key on disk. */
  accountRef: string;
  subjectToken: string;
  /** Sealed AccountPii (see store/cipher.ts). */
  pii: Uint8Array;
  productType: ProductType;
  openedOn: string;
  closedOn: string;
  /** Minor units; credit limit (revolving) or original principal. */
  creditLimit: number;
  termMonths: number;
  currency: string;
  chargedOff: boolean;
  furnishingConsentRef: string;
  /** Keyed tag of the name furnished with the account (SubjectTokenizer.nameTag); absent on accounts stored before tags. */
  nameTag?: string;
  /** ISO timestamp of the last accepted write. */
  updatedAt: string;
}

/** An account as tradelines are derived from it: everything but the sealed identity. */
export type AccountTerms = Omit<StoredAccount, "pii">;

/** The raw identity fields sealed inside StoredAccount.pii. */
export interface AccountPii {
  accountId: string;
  idType: string;
  idNumber: string;
  name: string;
  phone: string;
}

export interface StoredRepayment {
  accountRef: string;
  installment: number;
  dueOn: string;
  amountDue: number;
  /** Empty when unpaid. */
  paidOn: string;
  amountPaid: number;
  balanceAfter: number;
}

export interface StoreCounts {
  accounts: number;
  subjects: number;
}

/** The records one writeRecords call wrote (the last of each in the batch), with their versions. */
export interface WrittenRecords {
  /** 1 for a record's first version, then +1 for each accepted write of it. */
  accounts: { account: StoredAccount; version: number }[];
  repayments: { repayment: StoredRepayment; version: number }[];
}

export interface RecordCommitOptions {
  /**
   * Counts versions (the stored ones are read under the write lock and each
   * record's counter is kept in its own value) and commits the batch through
   * this instead of a synced write of the store's own: it must write the
   * batch, with writes of its own if any, in one synced batch.
   */
  commitVersioned?: (batch: WriteBatch, written: WrittenRecords) => Promise<void>;
}

/** Furnished records: accounts, repayments and the subject index. */
export interface RecordStore {
  /** Accounts by ref, in order; undefined where unknown. */
  getAccounts(refs: readonly string[]): Promise<(StoredAccount | undefined)[]>;
  /** Whether each account is stored, in order; reads no value. */
  hasAccounts(refs: readonly string[]): Promise<boolean[]>;
  /**
   * Writes accounts (insert or update) and repayments (insert or update by
   * (accountRef, installment)) in ONE synced LevelDB batch, keeping the
   * subject index and the counters consistent with the records.
   * `previous[i]` is what getAccounts returned for accounts[i] (undefined = new).
   */
  writeRecords(
    accounts: readonly StoredAccount[],
    previous: readonly (StoredAccount | undefined)[],
    repayments: readonly StoredRepayment[],
    opts?: RecordCommitOptions,
  ): Promise<void>;
  /** The subject's accounts, in ref order, as read from the subject index with one range scan. */
  accountsForSubject(subjectToken: string): Promise<AccountTerms[]>;
  /** Repayments of one account ordered by installment. */
  repaymentsForAccount(accountRef: string): Promise<StoredRepayment[]>;
  counts(): Promise<StoreCounts>;
}

export interface ConsentStore {
  put(consent: Consent): Promise<void>;
  get(consentId: string): Promise<Consent | undefined>;
  listForSubject(subjectToken: string): Promise<Consent[]>;
  /**
   * Records that the consent `consentId` granted to `granteeInstitutionId`
   * was revoked (may arrive before or without the consent itself). Only that
   * grantee may revoke it: callers store what its grantee signed.
   */
  putRevocation(granteeInstitutionId: string, consentId: string, revokedAt: Date): Promise<void>;
  getRevocation(granteeInstitutionId: string, consentId: string): Promise<Date | undefined>;
  /**
   * Revokes a consent this node issued, in one batch: the revoked consent, its
   * revocation, and `seal(revocation)` (the signed form members pull when
   * they missed the gossip) at the next position of this node's revocation
   * log (1, 2, …).
   */
  putIssuedRevocation(revoked: Consent, seal: (revocation: Revocation) => Uint8Array): Promise<{ revocation: Revocation; sequence: number }>;
  /** This node's revocation log after `afterSequence`, in order, at most `limit` entries. */
  listIssuedRevocations(afterSequence: number, limit: number): Promise<IssuedRevocationEntry[]>;
  /** The last position of this node's revocation log (0: none issued). */
  lastIssuedSequence(): Promise<number>;
  /** Up to which position of a member's revocation log this node has pulled (0: none). */
  getRevocationCursor(institutionId: string): Promise<number>;
  putRevocationCursor(institutionId: string, sequence: number): Promise<void>;
}

/** One revocation this node issued: its position in the log and its signed envelope (a `Signed` message). */
export interface IssuedRevocationEntry {
  sequence: number;
  signed: Uint8Array;
}

/** A subject's account terms and the inquiries an answer may show, read together (one range scan). */
export interface SubjectIndex {
  /**
   * Accounts in ref order, and the latest inquiry of each requester, purpose
   * and day after `inquiriesAfter` (YYYY-MM-DD), by day: not every inquiry
   * logged, so the read grows with what an answer shows, not with the log.
   */
  read(subjectToken: string, inquiriesAfter: string): Promise<{ accounts: AccountTerms[]; inquiries: Inquiry[] }>;
}

/** How an inquiry is written: with more writes for the same batch, and by whom. */
export interface InquiryWrite {
  /** Writes that go in the same atomic batch (the request's nonce). */
  also?: WriteBatch;
  /** Commits the batch instead of a synced write of the store's own (e.g. with an audit entry). */
  commit?: (batch: WriteBatch) => Promise<void>;
}

export interface InquiryStore {
  /** Logs an inquiry in one synced batch with `opts.also`, committed by `opts.commit` if given. */
  add(subjectToken: string, inquiry: Inquiry, opts?: InquiryWrite): Promise<void>;
  listForSubject(subjectToken: string): Promise<Inquiry[]>;
}

/** How many queries one member made about one subject on one day. */
export interface QueryQuotaCount {
  member: string;
  subject: string;
  count: number;
}

/** The holder's per-day query counts by member and subject (report/query-quota.ts). */
export interface QueryQuotaStore {
  /** Every count of `day` (YYYY-MM-DD). */
  countsOf(day: string): Promise<QueryQuotaCount[]>;
  /** The write that records `count` for the pair on `day`, for the batch that logs the query. */
  countWrite(day: string, member: string, subject: string, count: number): WriteBatch;
  /** Deletes the counts of every day before `day`; returns how many went. */
  sweepBefore(day: string): Promise<number>;
}

/** A nonce reserved by NonceStore.claim(): new, and not handed to anyone else. */
export interface NonceClaim {
  /** The writes that remember it; commit them in the batch that records the request. */
  readonly batch: WriteBatch;
  /** Call once those writes are committed, or will not be. */
  settled(): void;
}

export interface NonceStore {
  /**
   * Reserves `nonce` from `requester` until `expiresAt`, without I/O.
   * Undefined if it was seen before or is reserved now (a replay).
   */
  claim(requester: string, nonce: string, expiresAt: Date): NonceClaim | undefined;
  /** Forgets nonces whose window has passed. */
  prune(now: Date): Promise<number>;
}

/** What a destroy removed. */
export interface DestroyedAccounts {
  accounts: StoredAccount[];
  repayments: number;
}

/**
 * The holder's transparency log, told of destroyed accounts: a tombstone each
 * (naming the account's latest record-version leaf and a reason code, never
 * the data). Resolves once they are queued, with `durable` once on disk.
 */
export interface Tombstones {
  deleted(accountRefs: readonly string[], reason: string): Promise<{ durable: Promise<unknown> }>;
}

/** Why an account was destroyed, as its tombstone says (a furnisher's deletion carries its DeletionReason). */
export const TombstoneReason = {
  SubjectErasure: "SUBJECT_ERASURE",
  RetentionExpired: "RETENTION_EXPIRED",
  DisputeDeleted: "DISPUTE_DELETED",
} as const;

/** Appends the tombstones of `accountRefs` and waits until they are durable. */
export async function appendTombstones(tombstones: Tombstones | undefined, accountRefs: readonly string[], reason: string): Promise<void> {
  if (!tombstones || accountRefs.length === 0) return;
  const { durable } = await tombstones.deleted(accountRefs, reason);
  await durable;
}

/** Destroys furnished accounts, with other stores' writes about them in the same batch. */
export interface AccountDestroyer {
  /**
   * Destroys accounts with their repayments and subject-index entries, and
   * the writes `extraWrites` returns for them, in ONE synced batch.
   */
  destroy(
    refs: readonly string[],
    opts?: {
      extraWrites?: (destroyed: readonly StoredAccount[]) => Promise<WriteBatch>;
      /** Checked under the write lock: an account for which it returns false is kept. */
      onlyIf?: (account: StoredAccount, repayments: readonly StoredRepayment[]) => boolean;
    },
  ): Promise<DestroyedAccounts>;
}

/** What the retention sweep reads and destroys of the furnished records. */
export interface RetentionRecords extends AccountDestroyer {
  /** Accounts after `after` in ref order, at most `limit`. */
  accountsAfter(after: string, limit: number): Promise<StoredAccount[]>;
  repaymentsForAccounts(refs: readonly string[]): Promise<Map<string, StoredRepayment[]>>;
}

/** Dispute writes that go with the destruction of accounts or subjects. */
export interface DisputeCleanup {
  /** The writes that close, as DELETED with `note`, every OPEN dispute `institutionId` holds about these accounts. */
  closeWrites(accountRefs: readonly string[], institutionId: string, note: string, resolvedAt: Date): Promise<{ batch: WriteBatch; closed: Dispute[] }>;
  /** The writes that destroy every dispute about these accounts or filed for this subject. */
  destroyWrites(match: { subjectToken?: string; accountRefs?: readonly string[] }): Promise<{ batch: WriteBatch; disputes: number }>;
  /** Destroys resolved copies of other holders' disputes resolved before `before`; returns how many. */
  destroyResolvedCopies(selfInstitutionId: string, before: Date): Promise<number>;
}

/** Consents' retention: deletes consents that ended (expired or revoked) before a time, in batches. */
export interface ConsentPurge {
  purgeEndedBefore(before: Date, opts?: { batchSize?: number; halted?: () => boolean }): Promise<number>;
}

/** The inquiry log's retention: deletes inquiries logged before an ISO time, in batches. */
export interface InquiryPurge {
  purgeBefore(before: string, opts?: { batchSize?: number; halted?: () => boolean }): Promise<number>;
}

export interface DisputeStore {
  put(dispute: Dispute): Promise<void>;
  get(disputeId: string): Promise<Dispute | undefined>;
  listOpen(): Promise<Dispute[]>;
  /** Every dispute, open or resolved. */
  listAll(): Promise<Dispute[]>;
  listForAccount(accountRef: string): Promise<Dispute[]>;
}
