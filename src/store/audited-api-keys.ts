import type { NodeDatabase } from "./database.js";
import { MetaKey } from "./keys.js";
import type { WriteBatch } from "./types.js";
import { toBatch } from "./write-batch.js";

/** The ids of the API keys the audit trail has recorded (`meta/audit:apikeys`). */
export class LevelAuditedApiKeys {
  constructor(private readonly db: NodeDatabase) {}

  async read(): Promise<Set<string>> {
    const raw = await this.db.levels.meta.get(MetaKey.auditedApiKeys);
    return new Set<string>(raw ? (JSON.parse(raw) as string[]) : []);
  }

  /** The write that records `ids` as the set, for the batch of the audit entry that changes it. */
  write(ids: Iterable<string>): WriteBatch {
    return toBatch([{ type: "put", sublevel: this.db.levels.meta, key: MetaKey.auditedApiKeys, value: JSON.stringify([...ids]) }]);
  }
}
