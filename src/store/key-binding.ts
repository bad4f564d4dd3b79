import { createHash } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import type { NodeDatabase } from "./database.js";
import { MetaKey } from "./keys.js";

/** The keys of the secrets file whose loss or replacement would silently change what the database means. */
export interface BoundKeys {
  /** Legacy network token key, hex (absent on new nodes): a different one makes every stored subject token unreachable. */
  tokenKey?: string;
  /** A node alone: its committee-of-one OPRF key, hex; a different one changes every token, as above. */
  localTokenKey?: string;
  /** Account-ref key, hex: a different one turns corrections into duplicate accounts. */
  accountRefKey: string;
  /** Data keys by id, hex: a different one cannot open what the old one sealed. */
  dataKeys: readonly { id: string; key: string }[];
}

/** What the database keeps: fingerprints only, never a key. */
interface StoredFingerprints {
  version: 1;
  tokenKey?: string;
  localTokenKey?: string;
  accountRefKey: string;
  dataKeys: Record<string, string>;
}

/**
 * SHA-256 over a label and the key: names a key without revealing it, and the
 * label keeps one key's fingerprint from equalling another purpose's.
 */
export function keyFingerprint(purpose: string, hexKey: string): string {
  return createHash("sha256").update(`creditmesh-key-fingerprint\0${purpose}\0`).update(Buffer.from(hexKey, "hex")).digest("hex");
}

function fingerprintsOf(keys: BoundKeys): StoredFingerprints {
  return {
    version: 1,
    ...(keys.tokenKey ? { tokenKey: keyFingerprint("token", keys.tokenKey) } : {}),
    ...(keys.localTokenKey ? { localTokenKey: keyFingerprint("local-token", keys.localTokenKey) } : {}),
    accountRefKey: keyFingerprint("account-ref", keys.accountRefKey),
    dataKeys: Object.fromEntries(keys.dataKeys.map((k) => [k.id, keyFingerprint("data", k.key)])),
  };
}

function mismatch(secretsFile: string, field: string, why: string): CreditMeshError {
  return new CreditMeshError(
    "CONFIG_INVALID",
    `${secretsFile}: ${field} ${why}; this database was created with other secrets. ` +
      `Put back the secrets file that belongs to this database (nothing was changed)`,
    { field },
  );
}

/**
 * Binds the secrets file to the database. The first start records a
 * fingerprint of each key; every later start must present the same keys.
 * Data keys may be added (a rotation writes the new key to the file before
 * anything is sealed with it), but a recorded data key may not change or go
 * missing unless `retireDataKeys` removed it from the record first.
 */
export class KeyBinding {
  constructor(
    private readonly db: NodeDatabase,
    private readonly secretsFile: string,
  ) {}

  /** Refuses keys that differ from the recorded ones; records the fingerprints on first start and any new data key. */
  async check(keys: BoundKeys): Promise<void> {
    const now = fingerprintsOf(keys);
    const raw = await this.db.levels.meta.get(MetaKey.keyFingerprints);
    if (raw === undefined) return this.store(now);
    const stored = JSON.parse(raw) as StoredFingerprints;
    for (const field of ["tokenKey", "localTokenKey"] as const) {
      if (stored[field] === undefined) continue;
      if (now[field] === undefined) throw mismatch(this.secretsFile, field, "is recorded in the database but missing from the file");
      if (stored[field] !== now[field]) throw mismatch(this.secretsFile, field, `is not the ${field === "tokenKey" ? "token key" : "local token key"} recorded in the database`);
    }
    // A database first started without a shared token key never takes one: its tokens are not that key's.
    if (stored.tokenKey === undefined && now.tokenKey !== undefined) {
      throw mismatch(this.secretsFile, "tokenKey", "is not recorded in the database (it was first started without one, or its token migration ended)");
    }
    // A committee-of-one key that appears later (a node alone moving off its legacy key) is bound from now on.
    if (stored.localTokenKey === undefined && now.localTokenKey !== undefined) {
      stored.localTokenKey = now.localTokenKey;
      await this.store(stored);
    }
    if (stored.accountRefKey !== now.accountRefKey) {
      throw mismatch(this.secretsFile, "accountRefKey", "is not the account-ref key recorded in the database");
    }
    for (const [id, fp] of Object.entries(stored.dataKeys)) {
      if (now.dataKeys[id] === undefined) throw mismatch(this.secretsFile, `dataKeys.${id}`, "is recorded in the database but missing from the file");
      if (now.dataKeys[id] !== fp) throw mismatch(this.secretsFile, `dataKeys.${id}`, "is not the data key recorded in the database under that id");
    }
    if (Object.keys(now.dataKeys).some((id) => stored.dataKeys[id] === undefined)) await this.store({ ...stored, dataKeys: { ...stored.dataKeys, ...now.dataKeys } });
  }

  /**
   * Forgets the legacy token key once `tokens migrate` has ended the
   * transition: nothing in the database depends on it any more, and the key
   * leaves the secrets file next (a file that still holds it is refused).
   */
  async forgetTokenKey(): Promise<void> {
    const { tokenKey: _dropped, ...rest } = await this.read();
    await this.store(rest as StoredFingerprints);
  }

  /** Records a data key added by a rotation. */
  async addDataKey(key: { id: string; key: string }): Promise<void> {
    const stored = await this.read();
    await this.store({ ...stored, dataKeys: { ...stored.dataKeys, [key.id]: keyFingerprint("data", key.key) } });
  }

  /** Forgets retired data keys; done before they leave the secrets file, so that a crash in between still starts. */
  async retireDataKeys(ids: readonly string[]): Promise<void> {
    const stored = await this.read();
    const dataKeys = Object.fromEntries(Object.entries(stored.dataKeys).filter(([id]) => !ids.includes(id)));
    await this.store({ ...stored, dataKeys });
  }

  private async read(): Promise<StoredFingerprints> {
    const raw = await this.db.levels.meta.get(MetaKey.keyFingerprints);
    if (raw === undefined) throw new CreditMeshError("INTERNAL", "the database holds no key fingerprints (check() was not run)");
    return JSON.parse(raw) as StoredFingerprints;
  }

  private store(f: StoredFingerprints): Promise<void> {
    return this.db.write([{ type: "put", sublevel: this.db.levels.meta, key: MetaKey.keyFingerprints, value: JSON.stringify(f) }]);
  }
}
