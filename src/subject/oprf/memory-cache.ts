import type { SubjectKey, TokenCache } from "./tokenizer.js";

/**
 * A bounded in-process token cache (oldest entry out first). It holds
 * identifiers in memory only; the node's persistent cache encrypts them.
 */
export class MemoryTokenCache implements TokenCache {
  private readonly entries = new Map<string, string>();

  constructor(private readonly maxEntries = 100_000) {}

  private static key(keyId: string, s: SubjectKey): string {
    return `${keyId}\u0000${s.idTypeName}\u0000${s.normalizedId}`;
  }

  async get(keyId: string, subjects: readonly SubjectKey[]): Promise<(string | undefined)[]> {
    return this.getSync(keyId, subjects);
  }

  getSync(keyId: string, subjects: readonly SubjectKey[]): (string | undefined)[] {
    return subjects.map((s) => this.entries.get(MemoryTokenCache.key(keyId, s)));
  }

  async put(keyId: string, entries: readonly { subject: SubjectKey; token: string }[]): Promise<void> {
    for (const { subject, token } of entries) {
      const k = MemoryTokenCache.key(keyId, subject);
      this.entries.delete(k);
      this.entries.set(k, token);
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
