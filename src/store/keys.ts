import { CreditMeshError } from "../errors.js";

/**
 * Names of the LevelDB sublevels, one per kind of record. They are part of the
 * on-disk format: a value is never renamed, reused or removed, otherwise an
 * existing database would silently lose data. Add new members with new values.
 */
export enum KeyPrefix {
  Meta = "meta",
  Account = "acct",
  Repayment = "rep",
  Subject = "subj",
  Consent = "consent",
  Revoked = "revoked",
  Inquiry = "inq",
  Dispute = "dispute",
  Audit = "audit",
  Nonce = "nonce",
  /** The transparency log: tiles, entry bundles, size, latest checkpoint. */
  Log = "tlog",
  /** What this node, as a witness, last cosigned of each member's log, and the evidence it found. */
  Witness = "witness",
  /** Per-requester, per-day, per-purpose counts of subject-token evaluations this node answered as an evaluator. */
  TokenQuota = "tquota",
  /** Subject tokens this node obtained from the evaluator committee, sealed, under a keyed lookup of the subject. */
  TokenCache = "tcache",
  /** This member's shares of the token key by committee epoch, sealed under a key derived from its node key. */
  TokenShare = "tshare",
  /** During a token migration's transition: a subject's earlier token → its token now (store/token-aliases.ts). */
  TokenAlias = "talias",
  /** Per-day counts of the queries each member made about each subject (report/query-quota.ts), swept by day. */
  QueryQuota = "qquota",
  /** Per account, the highest installment number stored: its repayments are read by key, not by a range scan. */
  RepaymentLast = "replast",
}

/**
 * Version of the key layout and value encodings. Bump it whenever a change
 * would make an older node misread the data (a migration then has to exist).
 *
 * 2: every writer keeps the inquiry window index and `replast` (the highest
 *    installment per account) up to date, and the holder reads through them.
 *    A node of schema 1 would write inquiries and repayments without them, so
 *    its reports would leave out what it wrote: it must refuse the database.
 */
export const SCHEMA_VERSION = 2;

/**
 * Earlier versions this code opens and upgrades (store/index.ts openStores):
 * 1 had neither index, or had them built by a later node and then written by
 * an earlier one; both are rebuilt from the data before the version is raised.
 */
export const UPGRADABLE_SCHEMA_VERSIONS: readonly number[] = [1];

/** Keys inside the meta sublevel. */
export const MetaKey = {
  schema: "schema",
  accounts: "count:accounts",
  subjects: "count:subjects",
  /** Present while data destroyed by a purge may still be in the files (see NodeDatabase.forget). */
  forgetPending: "forget-pending",
  /** Last audit position and hash, written with every audit append. */
  auditHead: "audit:head",
  /** The audit head signed with the node key (JSON; audit/signed-head.ts), written with every append. */
  auditSignedHead: "audit:signed-head",
  /** Present once the trail has been signed: from then on a missing signed head means it was removed. */
  auditSigning: "audit:signing",
  /** Ids of the API keys whose creation is in the audit trail (JSON array). */
  auditedApiKeys: "audit:apikeys",
  /** Fingerprints of the secrets-file keys this database was written with (JSON; store/key-binding.ts). */
  keyFingerprints: "secrets:fingerprints",
  /** Progress of `tokens migrate` (JSON; node/token-migration.ts): where to resume, counts so far. */
  tokenMigration: "tokens:migration",
  /** Present once every logged inquiry is in the inquiry window index (keys.ts SUBJECT_INQUIRY_WINDOW). */
  inquiryWindowIndex: "inquiry:window-index",
  /** Present once every account with repayments has its highest installment in `replast` (store/level-record-store.ts). */
  repaymentLastIndex: "repayments:last-index",
} as const;

/** Joins key parts; `!` never occurs inside a part (see keyPart). */
export const SEP = "!";

/**
 * The character right after SEP: `{ gt: p + SEP, lt: p + AFTER_SEP }` selects
 * exactly the keys that start with `p!`.
 */
export const AFTER_SEP = String.fromCharCode(SEP.charCodeAt(0) + 1);

/** Range options selecting every key that starts with `prefix!`. */
export function under(prefix: string): { gt: string; lt: string } {
  return { gt: prefix + SEP, lt: prefix + AFTER_SEP };
}

/**
 * Checks a value that becomes part of a composite key. A separator inside it
 * would let one subject's or account's range scan pick up another's keys.
 */
export function keyPart(field: string, value: string): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new CreditMeshError("VALIDATION_FAILED", `${field}: must not be empty`, { field });
  }
  if (value.includes(SEP)) {
    throw new CreditMeshError("VALIDATION_FAILED", `${field}: must not contain "${SEP}"`, { field });
  }
  return value;
}

/**
 * The subject index (the `subj` sublevel) keeps, under each subject token,
 * what a holder answers a query from, so that one range scan reads it all:
 *
 * - `<token>`                         → number of accounts (record store)
 * - `<token>!<accountRef>`            → the account's terms (record store)
 * - `<token>!~q!<ISO time>!<id>`      → an inquiry (inquiry store)
 * - `<token>!#w!<day>!<requester>!<purpose>` → the latest inquiry of that day (inquiry store)
 *
 * Account refs are hex digests: "~" sorts after every one of them, so a
 * subject's inquiries follow its accounts and neither range holds the other.
 */
export const SUBJECT_INQUIRIES = "~q";

/**
 * The inquiry window index: `<token>!#w!<YYYY-MM-DD>!<requester>!<purpose>`
 * → the latest inquiry of that requester, purpose and day (what an answer
 * shows, report/inquiry-window.ts). "#" sorts before every account ref, so
 * the index entries after a day and the subject's accounts are one range
 * (subjectWindowAndAccounts): a holder reads one entry per requester,
 * purpose and day of the window, however many queries were logged.
 */
export const SUBJECT_INQUIRY_WINDOW = "#w";

/** Account refs sort after this (hex digests; "$" also sorts after the window index's "#"). */
const ACCOUNTS_FROM = "$";

/** The account entries of a subject in the subject index. */
export function subjectAccounts(subjectToken: string): { gt: string; lt: string } {
  return { gt: subjectToken + SEP + ACCOUNTS_FROM, lt: subjectToken + SEP + "~" };
}

/** The window index entries of a subject. */
export function subjectWindow(subjectToken: string): { gt: string; lt: string } {
  return under(subjectToken + SEP + SUBJECT_INQUIRY_WINDOW);
}

/** The window index entries of days after `afterDay` (YYYY-MM-DD), then the subject's accounts: one range. */
export function subjectWindowAndAccounts(subjectToken: string, afterDay: string): { gt: string; lt: string } {
  return { gt: subjectToken + SEP + SUBJECT_INQUIRY_WINDOW + SEP + afterDay + AFTER_SEP, lt: subjectToken + SEP + "~" };
}

/** The inquiry entries of a subject in the subject index. */
export function subjectInquiries(subjectToken: string): { gt: string; lt: string } {
  return under(subjectToken + SEP + SUBJECT_INQUIRIES);
}

/** Width of the installment number in repayment keys, so that keys sort numerically. */
export const INSTALLMENT_DIGITS = 5;
export const MAX_INSTALLMENT = 10 ** INSTALLMENT_DIGITS - 1;

export function installmentKey(installment: number): string {
  if (!Number.isInteger(installment) || installment < 1 || installment > MAX_INSTALLMENT) {
    throw new CreditMeshError(
      "VALIDATION_FAILED",
      `installment: must be an integer from 1 to ${MAX_INSTALLMENT}`,
      { field: "installment" },
    );
  }
  return String(installment).padStart(INSTALLMENT_DIGITS, "0");
}

/** The last key part (after the final separator). */
export function lastPart(key: string): string {
  return key.slice(key.lastIndexOf(SEP) + 1);
}
