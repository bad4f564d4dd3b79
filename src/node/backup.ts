import { createHash, type Hash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { LevelAuditLog, verifyAudit } from "../audit/level-audit-log.js";
import type { Clock } from "../clock.js";
import { systemClock } from "../clock.js";
import { databasePath, erasureLedgerPath, secretsPath } from "../config/load.js";
import { readRuntime } from "../config/runtime-file.js";
import type { NodeConfig } from "../config/schema.js";
import { readSecrets, type Secrets } from "../config/secrets.js";
import { CreditMeshError } from "../errors.js";
import { fsyncPath } from "../fs-sync.js";
import { AuditEntry } from "../gen/creditmesh/v1/node.js";
import { NodeKey } from "../identity/node-key.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { NodeDatabase } from "../store/database.js";
import { ErasureLedger, type Erasure } from "../store/erasure-ledger.js";
import { openStores, type Stores } from "../store/index.js";
import { SubjectPurge } from "../store/subject-purge.js";
import { KeyPrefix, SCHEMA_VERSION, UPGRADABLE_SCHEMA_VERSIONS } from "../store/keys.js";
import { databaseLockState, forEachRawEntry, RawDatabaseWriter } from "../store/raw-database.js";
import { LevelLogStore } from "../store/level-log-store.js";
import { TiledLog } from "../tlog/tiled-log.js";
import { cannotCarry, carryHistories, contradicts, leafEntries, logState, OfflineTombstones, reconcileWithLog, refuseRollback, type Reconciliation } from "./restore-log.js";

/**
 * Backups: a consistent copy of a running node's LevelDB.
 *
 * A backup directory holds `db/` (a LevelDB with every key of the node's
 * database, read through one snapshot, so it is the database as of one
 * instant) and `backup.json` (the manifest, written last: a directory without
 * it is an unfinished backup). Personal data is in it only as it is in the
 * store, sealed under the node's data keys. The secrets file (node key, token
 * key, data keys, API keys) is NOT in the backup: the operator keeps it
 * separately, and restoring needs it in place. The manifest names the data
 * keys by id and fingerprint so that restore can check it has the right ones.
 */

export const BACKUP_MANIFEST_FILE = "backup.json";
export const BACKUP_DB_DIR = "db";
const FORMAT = "creditmesh-backup";
const FORMAT_VERSION = 1;
const BATCH = 1_000;

export interface BackupManifest {
  format: typeof FORMAT;
  formatVersion: number;
  schemaVersion: number;
  institutionId: string;
  /** The node's peer id: restore checks the secrets file in place is this node's. */
  peerId: string;
  createdAt: string;
  /** Keys copied (every sublevel). */
  keys: number;
  /** SHA-256 over every key and value in order, each length-prefixed (4 bytes, big-endian). */
  contentSha256: string;
  auditEntries: number;
  /** Hash of the last audit entry in the backup. */
  auditHead: string;
  /** The data keys the records may be sealed with: id and SHA-256 fingerprint, never the key. */
  dataKeys: { id: string; fingerprint: string }[];
  secrets: string;
}

export interface BackupSource {
  institutionId: string;
  peerId: string;
  /** The node's current data keys (from its secrets file). */
  dataKeys(): { id: string; key: string }[];
  clock?: Clock;
}

export function dataKeyFingerprint(hexKey: string): string {
  return createHash("sha256").update("creditmesh-data-key-fingerprint\0").update(Buffer.from(hexKey, "hex")).digest("hex");
}

const AUDIT_PREFIX = Buffer.from(`!${KeyPrefix.Audit}!`);

function lengthPrefixed(hash: Hash, bytes: Uint8Array): void {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.byteLength);
  hash.update(len);
  hash.update(bytes);
}

/**
 * Copies the running node's database into `outDir` (which must not exist)
 * without stopping it. Everything acknowledged before the call is in the
 * copy; writes made while it runs are either in it whole or not at all.
 */
export async function takeBackup(db: NodeDatabase, outDir: string, source: BackupSource): Promise<{ dir: string; manifest: BackupManifest }> {
  const dir = path.resolve(outDir);
  // The snapshot is taken here, when the call arrives, before anything else can run.
  const it = db.rawIterator();
  let created = false;
  let target: RawDatabaseWriter | undefined;
  try {
    mkdirSync(path.dirname(dir), { recursive: true });
    try {
      mkdirSync(dir, { mode: 0o700 });
      created = true;
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "EEXIST") {
        throw new CreditMeshError("CONFLICT", `${dir} already exists: a backup goes into a new directory`, { field: "out_dir" });
      }
      throw new CreditMeshError("UNAVAILABLE", `cannot create ${dir}: ${(cause as Error).message}`, { cause });
    }
    target = await RawDatabaseWriter.create(path.join(dir, BACKUP_DB_DIR));
    const content = createHash("sha256");
    let keys = 0;
    let auditEntries = 0;
    let lastAudit: Uint8Array | undefined;
    for (;;) {
      const entries = await it.nextv(BATCH);
      if (entries.length === 0) break;
      for (const [key, value] of entries) {
        lengthPrefixed(content, key);
        lengthPrefixed(content, value);
        if (Buffer.from(key.buffer, key.byteOffset, Math.min(key.byteLength, AUDIT_PREFIX.length)).equals(AUDIT_PREFIX)) {
          auditEntries++;
          lastAudit = value;
        }
      }
      keys += entries.length;
      await target.put(entries);
    }
    await target.close();
    target = undefined;
    fsyncTree(path.join(dir, BACKUP_DB_DIR));
    const clock = source.clock ?? systemClock;
    const manifest: BackupManifest = {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      schemaVersion: SCHEMA_VERSION,
      institutionId: source.institutionId,
      peerId: source.peerId,
      createdAt: clock.now().toISOString(),
      keys,
      contentSha256: content.digest("hex"),
      auditEntries,
      auditHead: lastAudit ? AuditEntry.decode(lastAudit).hash : "0".repeat(64),
      dataKeys: source.dataKeys().map((k) => ({ id: k.id, fingerprint: dataKeyFingerprint(k.key) })),
      secrets: "not included: keep the node's secrets file separately; restore needs it in place",
    };
    writeFileDurably(path.join(dir, BACKUP_MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
    return { dir, manifest };
  } catch (err) {
    await target?.close().catch(() => undefined);
    if (created) rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    await it.close().catch(() => undefined);
  }
}

export function readBackupManifest(dir: string): BackupManifest {
  const file = path.join(dir, BACKUP_MANIFEST_FILE);
  if (!existsSync(file)) {
    throw new CreditMeshError("NOT_FOUND", `${file} not found: not a backup directory, or an unfinished backup`);
  }
  let m: BackupManifest;
  try {
    m = JSON.parse(readFileSync(file, "utf8")) as BackupManifest;
  } catch (cause) {
    throw new CreditMeshError("STORE_CORRUPT", `${file} is not readable JSON`, { cause });
  }
  if (typeof m !== "object" || m === null || m.format !== FORMAT || m.formatVersion !== FORMAT_VERSION) {
    throw new CreditMeshError("STORE_CORRUPT", `${file}: not a ${FORMAT} v${FORMAT_VERSION} manifest`);
  }
  // A backup of an earlier schema is restored as it is and upgraded when the restore opens it (openStores).
  if (m.schemaVersion !== SCHEMA_VERSION && !UPGRADABLE_SCHEMA_VERSIONS.includes(m.schemaVersion)) {
    throw new CreditMeshError("STORE_SCHEMA_MISMATCH", `the backup has schema version ${m.schemaVersion}, this node needs ${SCHEMA_VERSION} (or ${UPGRADABLE_SCHEMA_VERSIONS.join(", ")}, which it upgrades)`);
  }
  return m;
}

export interface RestoreOptions {
  fromDir: string;
  config: NodeConfig;
  /** Replace an existing database (only once the backup has been verified). */
  force?: boolean;
  /** Who restores, for the audit trail. */
  actor?: string;
  clock?: Clock;
  logger?: Logger;
  /**
   * Checkpoints the node published (signed notes, cosigned or not): the
   * restored log must not contradict them. Where the database being replaced is
   * gone, this is how restore learns what witnesses saw.
   */
  witnessedCheckpoints?: readonly string[];
  /** Restore even when the restored log would go back from what the node published (witnesses will record it). */
  allowLogRollback?: boolean;
}

/** What restore did with the transparency log. */
export interface RestoreLogResult {
  /** The log, audit trail and witness state were kept from the database being replaced. */
  carried: boolean;
  /** The restored log's size, after any tombstones restore appended. */
  size: number;
  /** Why the log could not be kept or checked (then witnesses may see a rollback); empty when it was. */
  unverified: string;
  /** Accounts the kept log tombstoned after the backup, destroyed again. */
  deletionsReapplied: number;
  /** Leaves of versions the restored copy does not hold, tombstoned RESTORED_FROM_BACKUP. */
  versionsTombstoned: number;
}

export interface RestoreResult {
  dbPath: string;
  manifest: BackupManifest;
  /** Audit entries after restoring (the backup's, NODE_RESTORED and any re-applied erasure). */
  auditEntries: number;
  /** Subjects erased after the backup was taken, erased again in the restored database. */
  erasuresReapplied: number;
  log: RestoreLogResult;
}

/**
 * Rebuilds a stopped node's database from a backup. The copy is made beside
 * the database and checked there: key count and content hash against the
 * manifest, the schema version, the whole audit chain and its head. Only a
 * copy that passes, with NODE_RESTORED appended, is moved into place; on any
 * failure nothing changes and the node has nothing new to serve.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const { config } = opts;
  const logger = opts.logger ?? silentLogger();
  const fromDir = path.resolve(opts.fromDir);
  const dbPath = databasePath(config);
  const manifest = readBackupManifest(fromDir);
  const snapshot = path.join(fromDir, BACKUP_DB_DIR);
  if (!existsSync(snapshot)) throw new CreditMeshError("NOT_FOUND", `${snapshot} not found`);

  if (readRuntime(config)) {
    throw new CreditMeshError("UNAVAILABLE", "the node is running: stop it before restoring");
  }
  if (existsSync(dbPath) && !opts.force) {
    throw new CreditMeshError("CONFLICT", `${dbPath} exists: restore refuses to replace a database unless --force is given`);
  }
  if (existsSync(dbPath)) await assertNotInUse(dbPath);
  const secrets = readNodeSecrets(config);
  checkSecrets(manifest, secrets);
  const nodeKey = NodeKey.fromSeed(Buffer.from(secrets.nodeKey, "hex"));
  if (manifest.institutionId !== config.institution.id) {
    throw new CreditMeshError(
      "CONFIG_INVALID",
      `the backup is of institution ${manifest.institutionId}, this config is for ${config.institution.id}`,
      { field: "institution.id" },
    );
  }

  const staging = `${dbPath}.restoring-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(path.dirname(dbPath), { recursive: true });
  try {
    cpSync(snapshot, staging, { recursive: true });
    await checkContent(staging, manifest);
    const origin = config.institution.id;
    const keys = { publicKey: nodeKey.publicKey, origin };
    let carried = false;
    let unverified = "";
    let backupSize = 0;
    let backupEntries: Awaited<ReturnType<typeof leafEntries>>;
    const db = await NodeDatabase.open(staging, { logger });
    try {
      const verified = await verifyAudit(db, { publicKey: nodeKey.publicKey });
      if (!verified.ok) {
        throw new CreditMeshError(
          "AUDIT_CHAIN_BROKEN",
          `the backup's audit trail is broken at entry ${verified.firstBadPosition}: ${verified.reason}`,
        );
      }
      if (verified.entries !== manifest.auditEntries || verified.headHash !== manifest.auditHead) {
        throw new CreditMeshError(
          "AUDIT_CHAIN_BROKEN",
          `the backup's audit trail ends at ${verified.entries} entries (head ${verified.headHash}), the manifest says ${manifest.auditEntries} (head ${manifest.auditHead})`,
        );
      }
      const backupLog = await logState(db);
      backupSize = backupLog.size;
      backupEntries = await leafEntries(db);
      ({ carried, unverified } = await keepSurvivingHistories(dbPath, db, { log: backupLog, manifest, keys, allowLogRollback: opts.allowLogRollback, logger }));
      if (opts.witnessedCheckpoints !== undefined && opts.witnessedCheckpoints.length > 0) {
        let why: string | undefined;
        for (const note of opts.witnessedCheckpoints) why ??= await contradicts(db, note, keys);
        if (why && !opts.allowLogRollback) throw refuseRollback(why);
        // A checkpoint that agrees settles what restore could not tell; a log it could not keep stays said.
        unverified = why ?? (unverified.startsWith("not kept") ? unverified : "");
      }
      if (carried) {
        const kept = await verifyAudit(db, { publicKey: nodeKey.publicKey, logOrigin: origin });
        if (!kept.ok) throw new CreditMeshError("AUDIT_CHAIN_BROKEN", `the kept audit trail does not verify at entry ${kept.firstBadPosition}: ${kept.reason}`);
      }
    } finally {
      await db.close();
    }

    const dataKeys = secrets.dataKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, "hex") }));
    const stores = await openStores(staging, { logger, dataKeys });
    let auditEntries: number;
    let erasures: number;
    let reconciled: Reconciliation = { deleted: 0, versionsTombstoned: 0 };
    try {
      const audit = await LevelAuditLog.open(stores.db, { clock: opts.clock, logger, sign: (d) => nodeKey.sign(d) });
      await audit.append("NODE_RESTORED", opts.actor ?? "local-operator", {
        backupCreatedAt: manifest.createdAt,
        backupAuditHead: manifest.auditHead,
        backupKeys: String(manifest.keys),
        contentSha256: manifest.contentSha256,
        logKept: carried ? "true" : "false",
      });
      erasures = await reapplyErasures(stores, audit, { config, manifest, actor: opts.actor, logger });
      if (carried) {
        reconciled = await reconcileWithLog(stores.db, { backupEntries: backupEntries!, backupSize, destroy: (refs) => destroyAccounts(stores, refs) });
        if (reconciled.deleted > 0 || reconciled.versionsTombstoned > 0) {
          await audit.append("RESTORE_RECONCILED", opts.actor ?? "local-operator", {
            accountsDeletedAgain: String(reconciled.deleted),
            versionsTombstoned: String(reconciled.versionsTombstoned),
          });
        }
      }
      auditEntries = audit.head.entries;
    } finally {
      await stores.close();
    }
    const restoredLog = await withDatabase(staging, logger, logState);
    fsyncTree(staging);
    // Only now, with everything checked, does the existing database go.
    if (existsSync(dbPath)) {
      await assertNotInUse(dbPath);
      rmSync(dbPath, { recursive: true, force: true });
    }
    renameSync(staging, dbPath);
    fsyncPath(path.dirname(dbPath));
    const log: RestoreLogResult = {
      carried,
      size: restoredLog.size,
      unverified,
      deletionsReapplied: reconciled.deleted,
      versionsTombstoned: reconciled.versionsTombstoned,
    };
    logger.info({ dbPath, keys: manifest.keys, auditHead: manifest.auditHead, erasuresReapplied: erasures, log }, "node restored from backup");
    return { dbPath, manifest, auditEntries, erasuresReapplied: erasures, log };
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Erasures recorded in the ledger since the backup was taken are purged again
 * in the restored copy, before it is put in place: an erased subject must not
 * come back with an older backup. Where the restored log still names an
 * erased account's leaf (the backup's own log), it gets its SUBJECT_ERASURE
 * tombstone again.
 */
async function reapplyErasures(
  stores: Stores,
  audit: LevelAuditLog,
  o: { config: NodeConfig; manifest: BackupManifest; actor?: string; logger: Logger },
): Promise<number> {
  const latest = new Map<string, Erasure>();
  for (const e of new ErasureLedger(erasureLedgerPath(o.config)).read()) {
    if (e.at >= o.manifest.createdAt) latest.set(e.subjectToken, e);
  }
  if (latest.size === 0) return 0;
  const purge = new SubjectPurge({ ...stores, audit, logger: o.logger, tombstones: new OfflineTombstones(stores.db) });
  for (const e of latest.values()) await purge.purge(e.subjectToken, e.requestRef, o.actor ?? "local-operator");
  return latest.size;
}

/** Destroys accounts (with repayments and disputes) the kept log says were deleted after the backup, and scrubs the files. */
async function destroyAccounts(stores: Stores, refs: readonly string[]): Promise<number> {
  const { db, records, disputes } = stores;
  const destroyed = await records.destroy(refs, {
    alsoWrite: [db.forgetMarker()],
    extraWrites: async (accounts) => (await disputes.destroyWrites({ accountRefs: accounts.map((a) => a.accountRef) })).batch,
  });
  await db.forget();
  return destroyed.accounts.length;
}

/**
 * Keeps the log, audit trail and witness state of the database being
 * replaced, when there is one that opens and whose histories extend the
 * backup's; refuses (unless allowed) when there is one they do not extend.
 */
async function keepSurvivingHistories(
  dbPath: string,
  staging: NodeDatabase,
  o: {
    log: Awaited<ReturnType<typeof logState>>;
    manifest: BackupManifest;
    keys: { publicKey: Uint8Array; origin: string };
    allowLogRollback?: boolean;
    logger: Logger;
  },
): Promise<{ carried: boolean; unverified: string }> {
  if (!existsSync(dbPath)) return { carried: false, unverified: "no database to keep the newer log from" };
  let current: NodeDatabase;
  try {
    current = await NodeDatabase.open(dbPath, { logger: o.logger });
  } catch (err) {
    return { carried: false, unverified: `the database being replaced does not open (${(err as Error).message})` };
  }
  try {
    const now = await logState(current);
    if (now.size < o.log.size) {
      // The backup's log is the longer one (a database restored earlier from an older backup): it may replace a log it extends.
      if (now.size === 0 || Buffer.compare(await logRoot(staging, now.size), now.root) === 0) return { carried: false, unverified: "" };
      if (!o.allowLogRollback) throw refuseRollback(`the database being replaced has a log of ${now.size} entries that the backup's does not extend (two roots for one size)`);
      return { carried: false, unverified: `not kept: the backup's log does not extend the replaced database's of ${now.size} entries` };
    }
    const why = await cannotCarry(current, { log: o.log, auditEntries: o.manifest.auditEntries, auditHead: o.manifest.auditHead }, o.keys);
    if (why === undefined) {
      await carryHistories(current, staging);
      return { carried: true, unverified: "" };
    }
    if (!o.allowLogRollback) throw refuseRollback(`the database being replaced: ${why}`);
    return { carried: false, unverified: `not kept: ${why}` };
  } finally {
    await current.close();
  }
}

async function logRoot(db: NodeDatabase, size: number): Promise<Uint8Array> {
  return (await TiledLog.init(new LevelLogStore(db))).root(size);
}

async function withDatabase<T>(dir: string, logger: Logger, fn: (db: NodeDatabase) => Promise<T>): Promise<T> {
  const db = await NodeDatabase.open(dir, { logger });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function readNodeSecrets(config: NodeConfig): Secrets {
  const file = secretsPath(config);
  if (!existsSync(file)) {
    throw new CreditMeshError(
      "CONFIG_INVALID",
      `${file} not found: backups do not contain the secrets file; put the node's own secrets file in place first`,
    );
  }
  return readSecrets(file);
}

/** The secrets in place must be this node's, with every data key the backup's records may be sealed with. */
function checkSecrets(manifest: BackupManifest, secrets: Secrets): void {
  const peerId = NodeKey.fromSeed(Buffer.from(secrets.nodeKey, "hex")).peerId;
  if (peerId !== manifest.peerId) {
    throw new CreditMeshError("CONFIG_INVALID", `the secrets file in place belongs to node ${peerId}, the backup to ${manifest.peerId}`);
  }
  const have = new Map(secrets.dataKeys.map((k) => [k.id, dataKeyFingerprint(k.key)]));
  const missing = manifest.dataKeys.filter((k) => have.get(k.id) !== k.fingerprint).map((k) => k.id);
  if (missing.length > 0) {
    throw new CreditMeshError(
      "CONFIG_INVALID",
      `the secrets file in place lacks data key(s) ${missing.join(", ")} that the backup's records may be sealed with`,
    );
  }
}

/** Key count and content hash of a (closed) LevelDB directory, as recorded in a backup manifest. */
export async function databaseContent(dir: string): Promise<{ keys: number; contentSha256: string }> {
  const content = createHash("sha256");
  let keys = 0;
  await forEachRawEntry(dir, (key, value) => {
    lengthPrefixed(content, key);
    lengthPrefixed(content, value);
    keys++;
  });
  return { keys, contentSha256: content.digest("hex") };
}

async function checkContent(dir: string, manifest: BackupManifest): Promise<void> {
  const { keys, contentSha256 } = await databaseContent(dir);
  if (keys !== manifest.keys) {
    throw new CreditMeshError("STORE_CORRUPT", `the backup holds ${keys} keys, its manifest says ${manifest.keys}`);
  }
  if (contentSha256 !== manifest.contentSha256) {
    throw new CreditMeshError("STORE_CORRUPT", "the backup's content does not match its manifest's hash");
  }
}

async function assertNotInUse(dbPath: string): Promise<void> {
  // A database that does not open (corrupt, half deleted) is what --force replaces.
  if ((await databaseLockState(dbPath)) === "locked") {
    throw new CreditMeshError("UNAVAILABLE", `${dbPath} is in use by a running node: stop it before restoring`, { meta: { dbPath } });
  }
}

function writeFileDurably(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  fsyncPath(tmp);
  renameSync(tmp, file);
  fsyncPath(path.dirname(file));
}

/** Flushes every file of a directory tree to disk (a LevelDB closed without a final synced write). */
function fsyncTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) fsyncTree(p);
    else fsyncPath(p);
  }
  fsyncPath(dir);
}
