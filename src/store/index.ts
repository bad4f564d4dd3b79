import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { DataCipher, type DataKey } from "./cipher.js";
import { NodeDatabase } from "./database.js";
import { LevelConsentStore } from "./level-consent-store.js";
import { LevelDisputeStore } from "./level-dispute-store.js";
import { LevelInquiryStore } from "./level-inquiry-store.js";
import { LevelLogStore } from "./level-log-store.js";
import { LevelNonceStore } from "./level-nonce-store.js";
import { LevelRecordStore } from "./level-record-store.js";
import { LevelSubjectIndex } from "./level-subject-index.js";
import { LevelQuotaLedger } from "./level-quota-ledger.js";
import { LevelQueryQuotaStore } from "./level-query-quota-store.js";
import { LevelWitnessStore } from "./level-witness-store.js";

export { DataCipher, type DataKey } from "./cipher.js";
export { NodeDatabase, type Sublevel, type Sublevels, type WriteOp } from "./database.js";
export { KeyPrefix, SCHEMA_VERSION } from "./keys.js";
export { LevelConsentStore } from "./level-consent-store.js";
export { LevelDisputeStore } from "./level-dispute-store.js";
export { LevelInquiryStore } from "./level-inquiry-store.js";
export { LevelLogStore } from "./level-log-store.js";
export { LevelWitnessStore } from "./level-witness-store.js";
export { LevelNonceStore } from "./level-nonce-store.js";
export { LevelRecordStore } from "./level-record-store.js";
export { LevelSubjectIndex } from "./level-subject-index.js";
export { LevelQueryQuotaStore } from "./level-query-quota-store.js";
export type * from "./types.js";

/** Every repository of one node, over one database. */
export interface Stores {
  db: NodeDatabase;
  records: LevelRecordStore;
  consents: LevelConsentStore;
  inquiries: LevelInquiryStore;
  nonces: LevelNonceStore;
  disputes: LevelDisputeStore;
  /** A subject's accounts and inquiries in one read, for the holder. */
  subjects: LevelSubjectIndex;
  /** The transparency log's tiles, bundles and checkpoint (see tlog/TiledLog). */
  log: LevelLogStore;
  /** What this node, as a witness, cosigned of other members' logs. */
  witness: LevelWitnessStore;
  /** The evaluator's per-requester daily counters of subject-token evaluations. */
  tokenQuota: LevelQuotaLedger;
  /** The holder's per-day query counts by member and subject. */
  queryQuota: LevelQueryQuotaStore;
  cipher: DataCipher;
  /** Closes the database; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Opens the node database and builds its repositories. `dataKeys[0]` seals
 * new PII; older keys stay listed until every record has been re-sealed.
 */
export async function openStores(
  path: string,
  opts: { logger?: Logger; dataKeys: readonly DataKey[] },
): Promise<Stores> {
  // Built first: a bad key configuration must fail before the database is locked.
  const cipher = new DataCipher(opts.dataKeys);
  const logger = opts.logger ?? silentLogger();
  const db = await NodeDatabase.open(path, { logger });
  const records = new LevelRecordStore(db, { logger, pii: cipher });
  const inquiries = new LevelInquiryStore(db);
  const consents = new LevelConsentStore(db);
  try {
    // A database of an earlier schema gets both indexes rebuilt from its data, whatever its markers say, and
    // only then the current version (keys.ts SCHEMA_VERSION): a crash before that rebuilds them again next time.
    const rebuild = db.earlierSchema !== undefined;
    await inquiries.moveEarlierLog(logger);
    await inquiries.buildWindowIndex(logger, { rebuild });
    await records.buildLastInstallments(logger, { rebuild });
    await consents.rekeyLegacyRevocations(logger);
    await db.markSchemaCurrent();
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return {
    db,
    records,
    consents,
    inquiries,
    nonces: new LevelNonceStore(db),
    disputes: new LevelDisputeStore(db),
    subjects: new LevelSubjectIndex(db, records),
    log: new LevelLogStore(db),
    witness: new LevelWitnessStore(db),
    tokenQuota: new LevelQuotaLedger(db),
    queryQuota: new LevelQueryQuotaStore(db),
    cipher,
    close: () => db.close(),
  };
}
