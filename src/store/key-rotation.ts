import { setImmediate as nextTurn } from "node:timers/promises";
import { noAudit, type AuditTrail } from "../audit/trail.js";
import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { DataCipher, DataKey } from "./cipher.js";
import type { LevelRecordStore } from "./level-record-store.js";

/** Where the node's data keys persist (the secrets file; config/secrets.ts). Both writes are durable and atomic. */
export interface DataKeyFile {
  /** Generates a key, writes it at the head of the persisted list (keeping the others) and returns it. */
  add(): DataKey | Promise<DataKey>;
  /** Removes keys from the persisted list. */
  retire(ids: readonly string[]): void | Promise<void>;
}

export interface KeyRotationModules {
  cipher: DataCipher;
  records: LevelRecordStore;
  keyFile: DataKeyFile;
  audit?: AuditTrail;
  logger: Logger;
}

export interface KeyRotationResult {
  keyId: string;
  /** Accounts whose identity was sealed again under the new key. */
  resealed: number;
  retiredKeyIds: string[];
}

/** Accounts re-sealed per batch: small enough that ingest waits at most a few ms behind one. */
const DEFAULT_BATCH = 256;
/** Verification passes before giving up (each one re-seals whatever it still finds). */
const MAX_VERIFY_PASSES = 3;

/**
 * Rotates the data key without stopping the node:
 *
 * 1. a new key is generated and written first in the secrets file (before
 *    anything is sealed with it), the older keys kept;
 * 2. the running cipher seals with it from then on and still opens with
 *    every older key, so reads work whichever key a record is under;
 * 3. every account's identity is re-sealed, in small batches under the
 *    record store's write lock (ingest and reports go on between batches;
 *    the store also re-seals any account written meanwhile);
 * 4. a verification pass reads every account and finds none under an older key;
 * 5. only then are the older keys removed from the secrets file and the cipher.
 *
 * If the process dies at any point, the secrets file still holds every key
 * some record is sealed under (the new one from step 1, the old ones until
 * step 5), so the node restarts and reads everything; running the rotation
 * again finishes the job under yet another key.
 */
export class KeyRotation {
  private running = false;

  constructor(
    private readonly opts: { batchSize?: number },
    private readonly modules: KeyRotationModules,
  ) {}

  async rotate(actor: string, signal?: AbortSignal): Promise<KeyRotationResult> {
    if (this.running) throw new CreditMeshError("CONFLICT", "a data key rotation is already running on this node");
    this.running = true;
    try {
      return await this.run(actor, signal);
    } finally {
      this.running = false;
    }
  }

  private async run(actor: string, signal?: AbortSignal): Promise<KeyRotationResult> {
    const { cipher, keyFile, logger } = this.modules;
    const started = Date.now();
    const key = await keyFile.add();
    cipher.useNewKey(key);
    const older = cipher.keyIds.filter((id) => id !== key.id);
    logger.info({ keyId: key.id, older }, "data key rotation started");

    let resealed = await this.resealAll(signal);
    for (let pass = 1; ; pass++) {
      const left = await this.refsUnderOlderKeys(key.id, signal);
      if (left.length === 0) break;
      if (pass >= MAX_VERIFY_PASSES) {
        throw new CreditMeshError("INTERNAL", `${left.length} accounts are still sealed under an older key; the older keys are kept`);
      }
      logger.warn({ accounts: left.length }, "accounts written under an older key during the rotation; sealing them again");
      for (let i = 0; i < left.length; i += this.batchSize) resealed += await this.modules.records.resealPii(left.slice(i, i + this.batchSize));
    }

    await keyFile.retire(older);
    cipher.retireKeys(older);
    const result: KeyRotationResult = { keyId: key.id, resealed, retiredKeyIds: older };
    await (this.modules.audit ?? noAudit).append("KEY_ROTATED", actor, {
      key_id: key.id,
      resealed: String(resealed),
      retired_key_ids: older.join(","),
    });
    logger.info({ ...result, ms: Date.now() - started }, "data key rotation finished");
    return result;
  }

  private get batchSize(): number {
    return this.opts.batchSize ?? DEFAULT_BATCH;
  }

  private async resealAll(signal?: AbortSignal): Promise<number> {
    let resealed = 0;
    let after = "";
    for (;;) {
      signal?.throwIfAborted();
      const refs = await this.modules.records.refsAfter(after, this.batchSize);
      if (refs.length === 0) return resealed;
      resealed += await this.modules.records.resealPii(refs);
      after = refs[refs.length - 1];
      // Lets queued reads and writes run between batches.
      await nextTurn();
    }
  }

  private async refsUnderOlderKeys(currentId: string, signal?: AbortSignal): Promise<string[]> {
    const left: string[] = [];
    let after = "";
    for (;;) {
      signal?.throwIfAborted();
      const accounts = await this.modules.records.accountsAfter(after, this.batchSize);
      if (accounts.length === 0) return left;
      for (const a of accounts) if (this.modules.cipher.keyIdOf(a.pii) !== currentId) left.push(a.accountRef);
      after = accounts[accounts.length - 1].accountRef;
      await nextTurn();
    }
  }
}
