import { noAudit, type AuditTrail } from "../audit/trail.js";
import { invalid } from "../errors.js";
import type { Logger } from "../logger.js";
import type { NodeDatabase, WriteOp } from "./database.js";
import type { Erasure } from "./erasure-ledger.js";
import { keyPart } from "./keys.js";
import type { LevelConsentStore } from "./level-consent-store.js";
import type { LevelDisputeStore } from "./level-dispute-store.js";
import type { LevelInquiryStore } from "./level-inquiry-store.js";
import type { LevelQueryQuotaStore } from "./level-query-quota-store.js";
import type { LevelRecordStore } from "./level-record-store.js";
import { opsOf, toBatch } from "./write-batch.js";
import { SerialQueue } from "./serial.js";
import { appendTombstones, TombstoneReason, type Tombstones } from "./types.js";

export interface SubjectPurgeModules {
  db: NodeDatabase;
  records: LevelRecordStore;
  inquiries: LevelInquiryStore;
  consents: LevelConsentStore;
  disputes: LevelDisputeStore;
  /** The holder's per-day query counts, which name the subject's token; absent = none kept. */
  queryQuota?: Pick<LevelQueryQuotaStore, "destroyOps">;
  audit?: AuditTrail;
  /** Where each erasure is recorded before it runs, so that a restore can re-apply it; none when re-applying. */
  ledger?: { append(e: Erasure): void };
  clock?: { now(): Date };
  logger: Logger;
  /** The transparency log: a SUBJECT_ERASURE tombstone per destroyed account. */
  tombstones?: Tombstones;
}

/** What a purge destroyed (the PurgeSubject response). */
export interface SubjectPurgeResult {
  subjectToken: string;
  accounts: number;
  repayments: number;
  inquiries: number;
  consents: number;
  disputes: number;
}

/**
 * A request reference goes into the audit trail, so it must be an opaque
 * reference and nothing personal: plain characters, and not shaped like an
 * ID or phone number.
 */
const REQUEST_REF = /^[A-Za-z0-9._:+=/-]{1,128}$/;
const LOOKS_PERSONAL = /\d{11,}/;

/**
 * Destroys everything this node holds about one subject, on a verified
 * erasure request: every account with its repayments, the subject index
 * (entries and count), every inquiry (log and window index), the day's
 * query counts naming it, every consent with its index entry,
 * and every dispute about those accounts or filed for the subject — in ONE
 * synced batch, so a crash leaves all of it or none of it. Then
 * NodeDatabase.forget() rewrites the files so that the old values and keys
 * are gone from the disk too, not just unreachable. Nothing keeps a copy
 * that could bring them back: the stores have no caches, the subject count
 * and node counters are adjusted in the same batch, and revocations (which
 * name only a consent id) are kept so that a copied consent stays refused.
 *
 * The audit trail records SUBJECT_PURGED with the subject token, the counts
 * and the request reference only.
 */
export class SubjectPurge {
  /** One purge at a time: each one rewrites the database files. */
  private readonly queue = new SerialQueue();

  constructor(private readonly modules: SubjectPurgeModules) {}

  async purge(subjectToken: string, requestRef: string, actor: string): Promise<SubjectPurgeResult> {
    const token = keyPart("subject_token", subjectToken);
    if (!REQUEST_REF.test(requestRef) || LOOKS_PERSONAL.test(requestRef)) {
      throw invalid("request_ref", "must be the reference of the erasure request (1-128 letters, digits or ._:+=/-), nothing personal");
    }
    return this.queue.run(() => {
      this.modules.ledger?.append({ subjectToken: token, requestRef, at: (this.modules.clock?.now() ?? new Date()).toISOString() });
      return this.run(token, requestRef, actor);
    });
  }

  private async run(token: string, requestRef: string, actor: string): Promise<SubjectPurgeResult> {
    const { db, records, inquiries, consents, disputes, queryQuota, logger } = this.modules;
    const started = Date.now();
    const counts = { inquiries: 0, consents: 0, disputes: 0 };
    const destroyed = await records.destroy([], {
      subjectToken: token,
      alsoWrite: [db.forgetMarker()],
      extraWrites: async (accounts) => {
        const [inq, con, dis, quota] = await Promise.all([
          inquiries.destroyOps(token),
          consents.destroyOps(token),
          disputes.destroyWrites({ subjectToken: token, accountRefs: accounts.map((a) => a.accountRef) }),
          queryQuota?.destroyOps(token) ?? [],
        ]);
        counts.inquiries = inq.inquiries;
        counts.consents = con.consents;
        counts.disputes = dis.disputes;
        return toBatch([...inq.ops, ...con.ops, ...opsOf(dis.batch), ...quota]);
      },
    });
    // Before the files are rewritten: the log's entry naming each account's leaf goes with the tombstone, and is scrubbed too.
    await appendTombstones(this.modules.tombstones, destroyed.accounts.map((a) => a.accountRef), TombstoneReason.SubjectErasure);
    await db.forget();
    const result: SubjectPurgeResult = {
      subjectToken: token,
      accounts: destroyed.accounts.length,
      repayments: destroyed.repayments,
      ...counts,
    };
    await (this.modules.audit ?? noAudit).append("SUBJECT_PURGED", actor, {
      subject_token: token,
      request_ref: requestRef,
      accounts: String(result.accounts),
      repayments: String(result.repayments),
      inquiries: String(result.inquiries),
      consents: String(result.consents),
      disputes: String(result.disputes),
    });
    logger.info({ ...result, requestRef, ms: Date.now() - started }, "subject purged");
    return result;
  }
}
