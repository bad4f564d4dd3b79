import type { AdminApi, Caller } from "../api/handlers.js";
import type { LevelAuditLog } from "../audit/level-audit-log.js";
import { CreditMeshError } from "../errors.js";
import type {
  AuditEntry,
  BackupResponse,
  PurgeSubjectResponse,
  RotateDataKeyResponse,
  RunTokenCeremonyResponse,
  VerifyAuditResponse,
} from "../gen/creditmesh/v1/node.js";
import type { Logger } from "../logger.js";
import type { BackupManifest } from "./backup.js";

export interface AdminModules {
  audit: LevelAuditLog;
  /** Writes a consistent snapshot of the running node's database into `outDir`. */
  backup(outDir: string): Promise<{ dir: string; manifest: BackupManifest }>;
  /** Destroys a subject's data; records SUBJECT_PURGED itself. Absent until provided. */
  purgeSubject?: AdminApi["purgeSubject"];
  /** Re-seals every record under a new data key; records KEY_ROTATED itself. Absent until provided. */
  rotateDataKey?: AdminApi["rotateDataKey"];
  /** Coordinates a token-committee key ceremony; absent on a node without peers. */
  runTokenCeremony?: AdminApi["runTokenCeremony"];
  logger: Logger;
}

/**
 * Operator actions on a running node (the OPERATOR role). Each one is in the
 * audit trail: backups here, purge and rotation in their own implementations.
 */
export class AdminService implements AdminApi {
  constructor(private readonly modules: AdminModules) {}

  purgeSubject(subjectToken: string, requestRef: string, caller: Caller): Promise<PurgeSubjectResponse> {
    const purge = this.modules.purgeSubject;
    if (!purge) return Promise.reject(new CreditMeshError("UNAVAILABLE", "subject purge is not available on this node"));
    return purge(subjectToken, requestRef, caller);
  }

  rotateDataKey(caller: Caller): Promise<RotateDataKeyResponse> {
    const rotate = this.modules.rotateDataKey;
    if (!rotate) return Promise.reject(new CreditMeshError("UNAVAILABLE", "data key rotation is not available on this node"));
    return rotate(caller);
  }

  runTokenCeremony(plan: Parameters<AdminApi["runTokenCeremony"]>[0], caller: Caller): Promise<RunTokenCeremonyResponse> {
    const run = this.modules.runTokenCeremony;
    if (!run) return Promise.reject(new CreditMeshError("UNAVAILABLE", "this node is not on a network: it cannot coordinate a key ceremony"));
    return run(plan, caller);
  }

  async verifyAudit(): Promise<VerifyAuditResponse> {
    const result = await this.modules.audit.verify();
    if (!result.ok) {
      this.modules.logger.error({ position: result.firstBadPosition, reason: result.reason }, "audit trail verification failed");
    }
    return {
      ok: result.ok,
      entries: String(result.entries),
      firstBadPosition: String(result.firstBadPosition),
      reason: result.reason,
    };
  }

  exportAudit(): AsyncIterable<AuditEntry> {
    return this.modules.audit.export();
  }

  async backup(outDir: string, caller: Caller): Promise<BackupResponse> {
    const { dir, manifest } = await this.modules.backup(outDir);
    await this.modules.audit.append("BACKUP_TAKEN", caller.keyId, {
      keys: String(manifest.keys),
      auditEntries: String(manifest.auditEntries),
      auditHead: manifest.auditHead,
      contentSha256: manifest.contentSha256,
      createdAt: manifest.createdAt,
    });
    this.modules.logger.info({ dir, keys: manifest.keys, auditHead: manifest.auditHead }, "backup taken");
    return { outDir: dir, keys: String(manifest.keys), auditEntries: String(manifest.auditEntries), auditHead: manifest.auditHead };
  }
}
