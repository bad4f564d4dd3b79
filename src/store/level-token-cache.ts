import { createHmac } from "node:crypto";
import { isCreditMeshError } from "../errors.js";
import type { SubjectKey, TokenCache } from "../subject/oprf/tokenizer.js";
import type { DataCipher } from "./cipher.js";
import type { NodeDatabase } from "./database.js";

/**
 * Subject tokens this node already obtained from the committee
 * (`tcache!<lookup>` → sealed token). The lookup is an HMAC under a key local
 * to this node, so the database names no identifier and a copy of it cannot
 * be searched by guessing identifiers; the token is sealed with the data key,
 * bound to its lookup.
 */
export class LevelTokenCache implements TokenCache {
  constructor(
    private readonly db: NodeDatabase,
    private readonly cipher: Pick<DataCipher, "seal" | "open">,
    private readonly lookupKey: Uint8Array,
  ) {}

  private lookup(keyId: string, s: SubjectKey): string {
    return createHmac("sha256", this.lookupKey).update(`${keyId}\u0000${s.idTypeName}\u0000${s.normalizedId}`, "utf8").digest("hex");
  }

  async get(keyId: string, subjects: readonly SubjectKey[]): Promise<(string | undefined)[]> {
    return this.getSync(keyId, subjects);
  }

  /**
   * Read in place: a point read of a small value from LevelDB's cache costs
   * a few µs on this thread, where an async get costs a thread-pool round
   * trip (35–60 µs of CPU here, and a wake-up) for the one lookup every
   * report makes.
   */
  getSync(keyId: string, subjects: readonly SubjectKey[]): (string | undefined)[] {
    const level = this.db.levels.tcache;
    return subjects.map((s) => {
      const key = this.lookup(keyId, s);
      const sealed = level.getSync(key);
      return sealed === undefined ? undefined : this.open(sealed, key);
    });
  }

  /** A token sealed under a data key since retired (key rotation does not re-seal this cache) is a miss: it is evaluated again. */
  private open(sealed: Uint8Array, key: string): string | undefined {
    try {
      return Buffer.from(this.cipher.open(sealed, Buffer.from(key, "utf8"))).toString("utf8");
    } catch (err) {
      if (isCreditMeshError(err, "CRYPTO_DECRYPT_FAILED")) return undefined;
      throw err;
    }
  }

  async put(keyId: string, entries: readonly { subject: SubjectKey; token: string }[]): Promise<void> {
    const level = this.db.levels.tcache;
    await this.db.write(
      entries.map(({ subject, token }) => {
        const key = this.lookup(keyId, subject);
        return { type: "put" as const, sublevel: level, key, value: this.cipher.seal(Buffer.from(token, "utf8"), Buffer.from(key, "utf8")) };
      }),
      { sync: false },
    );
  }
}
