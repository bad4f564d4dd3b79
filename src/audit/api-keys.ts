import { readSecrets } from "../config/secrets.js";
import { watchFileChanges } from "../config/watch-file.js";
import type { Logger } from "../logger.js";
import type { LevelAuditedApiKeys } from "../store/audited-api-keys.js";
import { SerialQueue } from "../store/serial.js";
import type { AuditTrail } from "./trail.js";

/** Actor of entries for keys made with `creditmesh apikey create` on the node's machine. */
export const LOCAL_OPERATOR = "local-operator";

/**
 * Puts API key creation and revocation into the audit trail. `creditmesh apikey create`
 * writes the secrets file without the node (it may be stopped, and the
 * running node holds the database lock), so the node records each key it
 * has not recorded yet: at start, and whenever the secrets file changes while
 * it runs. The ids already recorded are kept in `meta/audit:apikeys`, written
 * in the same batch as the entry. An entry's time is when the node saw the
 * key; the key's own creation time is in its details. A recorded key that is
 * no longer in the file was revoked (`creditmesh apikey revoke`): it gets an
 * API_KEY_REVOKED entry and leaves the recorded set in the same batch.
 */
export class ApiKeyAuditor {
  private readonly queue = new SerialQueue();
  private unwatch?: () => void;
  private readonly onChange = () => {
    this.record().catch((err) => this.modules.logger.error({ err: (err as Error).message }, "recording API keys in the audit trail failed"));
  };

  constructor(
    private readonly opts: { secretsFile: string },
    private readonly modules: { audit: Required<AuditTrail>; recorded: Pick<LevelAuditedApiKeys, "read" | "write">; logger: Logger },
  ) {}

  async start(): Promise<void> {
    // Watching first: a key added between the read below and the watch would otherwise wait for the next restart.
    this.unwatch ??= watchFileChanges(this.opts.secretsFile, this.onChange, {
      onError: (err) => this.modules.logger.warn({ err: err.message }, "watching the secrets file failed"),
    });
    await this.record();
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    await this.queue.run(async () => undefined);
  }

  /** Appends API_KEY_CREATED for every key in the secrets file not recorded yet, API_KEY_REVOKED for every recorded key gone from it; returns how many entries. */
  record(): Promise<number> {
    return this.queue.run(async () => {
      const { audit } = this.modules;
      const keys = readSecrets(this.opts.secretsFile).apiKeys;
      const recorded = await this.modules.recorded.read();
      const fresh = keys.filter((k) => !recorded.has(k.id));
      const present = new Set(keys.map((k) => k.id));
      const revoked = [...recorded].filter((id) => !present.has(id));
      // Each entry carries the recorded set as of itself; they are written in this order.
      const state = () => this.modules.recorded.write(recorded);
      const appends: Promise<void>[] = [];
      for (const k of fresh) {
        recorded.add(k.id);
        appends.push(audit.appendWith("API_KEY_CREATED", LOCAL_OPERATOR, { keyId: k.id, roles: k.roles.join(","), createdAt: k.createdAt, ...(k.expiresAt ? { expiresAt: k.expiresAt } : {}) }, state()));
      }
      for (const id of revoked) {
        recorded.delete(id);
        appends.push(audit.appendWith("API_KEY_REVOKED", LOCAL_OPERATOR, { keyId: id }, state()));
      }
      await Promise.all(appends);
      return fresh.length + revoked.length;
    });
  }
}
