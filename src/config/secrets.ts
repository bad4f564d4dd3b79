import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { CreditMeshError } from "../errors.js";
import { fsyncPath } from "../fs-sync.js";
import { randomScalar } from "../subject/oprf/suite.js";
import { encodeKeyShare } from "../subject/oprf/threshold.js";

/**
 * SUBJECT_SERVICE is the member's service for borrowers themselves: it alone
 * records SUBJECT_REQUEST consents and asks for the borrower's own report,
 * which names every inquirer.
 */
export const API_ROLES = ["FURNISHER", "LENDER", "OPERATOR", "SUBJECT_SERVICE"] as const;
export type ApiRole = (typeof API_ROLES)[number];

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `${bytes * 2} lowercase hex characters`);

const SecretsSchema = z
  .object({
    version: z.literal(1),
    /** Ed25519 seed of the node key (its libp2p identity), hex. */
    nodeKey: hex(32),
    /**
     * Legacy: the network-wide HMAC subject token key of a network created
     * before token committees, hex. New nodes have none; a node that has one
     * and no committee keeps tokenizing with it until `tokens migrate`.
     */
    tokenKey: hex(32).optional(),
    /** Key for account_ref = HMAC(key, account_id); local to this node. */
    accountRefKey: hex(32),
    /** AES-256-GCM data keys; the first one encrypts, all decrypt (rotation). */
    dataKeys: z.array(z.object({ id: z.string().min(1).max(32), key: hex(32) })).min(1),
    /** API keys are stored as SHA-256 hashes only. */
    apiKeys: z.array(
      z.object({
        id: z.string().min(1),
        sha256: hex(32),
        roles: z.array(z.enum(API_ROLES)).min(1),
        createdAt: z.string(),
        /** ISO time from which the key is refused; absent = does not expire. */
        expiresAt: z.string().datetime().optional(),
      }),
    ),
    /** The local operator's own key (all roles), read by the CLI on this machine. */
    localApiKey: z.string().min(16),
    /** This node's share of the subject-token OPRF key (format, index, scalar), hex; only on a token committee member. */
    tokenKeyShare: hex(34).optional(),
    /**
     * A node outside any network (p2p off): the whole OPRF key of its
     * committee of one (a 1-of-1 share, same encoding as tokenKeyShare), so
     * that it tokenizes with no key shared with anyone. Never on a network member.
     */
    localTokenKey: hex(34).optional(),
  })
  .strict();

export type Secrets = z.infer<typeof SecretsSchema>;

const API_KEY_PREFIX = "cmk_";

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function newApiKey(): { id: string; key: string } {
  const id = randomBytes(4).toString("hex");
  return { id, key: `${API_KEY_PREFIX}${id}_${randomBytes(24).toString("base64url")}` };
}

/**
 * New secrets: no token key of any kind unless asked for. `localTokenKey`
 * (a node that runs alone) generates its committee of one; `tokenKey` is
 * only for legacy networks and tests of them.
 */
export function generateSecrets(opts: { tokenKey?: string; nodeKey?: string; localTokenKey?: boolean } = {}): Secrets {
  const local = newApiKey();
  return {
    version: 1,
    nodeKey: opts.nodeKey ?? randomBytes(32).toString("hex"),
    ...(opts.tokenKey ? { tokenKey: opts.tokenKey } : {}),
    ...(opts.localTokenKey ? { localTokenKey: newLocalTokenKey() } : {}),
    accountRefKey: randomBytes(32).toString("hex"),
    dataKeys: [{ id: "k1", key: randomBytes(32).toString("hex") }],
    apiKeys: [{ id: local.id, sha256: hashApiKey(local.key), roles: [...API_ROLES], createdAt: new Date().toISOString() }],
    localApiKey: local.key,
  };
}

export function parseSecrets(raw: unknown, file: string): Secrets {
  const result = SecretsSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new CreditMeshError("CONFIG_INVALID", `${file}: ${issue.path.join(".")}: ${issue.message}`, {
      field: issue.path.join("."),
    });
  }
  return result.data;
}

export function readSecrets(file: string): Secrets {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new CreditMeshError("CONFIG_INVALID", `${file}: cannot read secrets: ${(cause as Error).message}`, { cause });
  }
  return parseSecrets(raw, file);
}

/** Writes atomically (temp file + rename) with owner-only permissions. */
export function writeSecrets(file: string, secrets: Secrets): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  // On disk before the rename, and the rename on disk before returning: a
  // data key written here may be all that can open records sealed next.
  fsyncPath(tmp);
  renameSync(tmp, file);
  fsyncPath(path.dirname(file));
}

/** A fresh 1-of-1 OPRF key share (index 1), hex as `localTokenKey` holds it. */
export function newLocalTokenKey(): string {
  return Buffer.from(encodeKeyShare({ index: 1, secret: randomScalar() })).toString("hex");
}

/** Gives the secrets file a committee-of-one key if it has none (`tokens migrate` on a node alone); returns the file's secrets. */
export function ensureLocalTokenKey(file: string): Secrets {
  const secrets = readSecrets(file);
  if (secrets.localTokenKey) return secrets;
  const withKey = { ...secrets, localTokenKey: newLocalTokenKey() };
  writeSecrets(file, withKey);
  return withKey;
}

/** Removes the legacy shared token key from the secrets file (a finished token migration's transition ended). */
export function removeTokenKey(file: string): boolean {
  const { tokenKey, ...rest } = readSecrets(file);
  if (tokenKey === undefined) return false;
  writeSecrets(file, rest);
  return true;
}

/** A data key as the secrets file holds it. */
export type StoredDataKey = Secrets["dataKeys"][number];

/**
 * First step of a key rotation: generates a data key and writes it at the
 * head of the file's list (it seals from now on), keeping every older key.
 * Its id is `k<n>`, one above the highest such id in the file.
 */
export function addDataKey(file: string): StoredDataKey {
  const secrets = readSecrets(file);
  const n = Math.max(0, ...secrets.dataKeys.map((k) => /^k(\d{1,9})$/.exec(k.id)).map((m) => (m ? Number(m[1]) : 0)));
  const key: StoredDataKey = { id: `k${n + 1}`, key: randomBytes(32).toString("hex") };
  secrets.dataKeys = [key, ...secrets.dataKeys];
  writeSecrets(file, secrets);
  return key;
}

/** Last step of a key rotation: removes keys from the file; the first (current) key always stays. */
export function retireDataKeys(file: string, ids: readonly string[]): void {
  const secrets = readSecrets(file);
  const [current, ...older] = secrets.dataKeys;
  if (ids.includes(current.id)) throw new CreditMeshError("INTERNAL", `data key ${current.id} is the current key and cannot be retired`);
  secrets.dataKeys = [current, ...older.filter((k) => !ids.includes(k.id))];
  writeSecrets(file, secrets);
}

/** Refuses to create a secrets file where a database already exists: new keys would not open its data. */
export function refuseNewSecretsBeside(databaseDir: string, file: string): void {
  if (!existsSync(path.join(databaseDir, "CURRENT"))) return;
  throw new CreditMeshError(
    "CONFIG_INVALID",
    `${file}: the secrets file is missing but a database exists at ${databaseDir}; ` +
      `restore the secrets file that belongs to it (new keys would not open its data)`,
    { field: "storage.secretsFile" },
  );
}

/**
 * Loads the secrets file, creating it on first start. With `databaseDir`, a
 * missing file next to an existing database is refused: new keys would make
 * its tokens, account refs and sealed identities unreadable.
 */
export function loadOrCreateSecrets(file: string, opts: { databaseDir?: string; localTokenKey?: boolean } = {}): { secrets: Secrets; created: boolean } {
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o077;
    if (mode !== 0) chmodSync(file, 0o600);
    const secrets = readSecrets(file);
    // A node alone with neither key gets its committee of one; a legacy key is left in charge (tokens migrate moves off it).
    if (opts.localTokenKey && !secrets.localTokenKey && !secrets.tokenKey) {
      const withKey = { ...secrets, localTokenKey: newLocalTokenKey() };
      writeSecrets(file, withKey);
      return { secrets: withKey, created: false };
    }
    return { secrets, created: false };
  }
  if (opts.databaseDir !== undefined) refuseNewSecretsBeside(opts.databaseDir, file);
  const secrets = generateSecrets({ localTokenKey: opts.localTokenKey });
  writeSecrets(file, secrets);
  return { secrets, created: true };
}

/** Adds a new API key with the given roles (refused from `expiresAt` on, if given); returns the raw key (shown once). */
export function addApiKey(file: string, roles: ApiRole[], opts: { expiresAt?: Date } = {}): string {
  const secrets = readSecrets(file);
  const { id, key } = newApiKey();
  secrets.apiKeys.push({
    id,
    sha256: hashApiKey(key),
    roles,
    createdAt: new Date().toISOString(),
    ...(opts.expiresAt ? { expiresAt: opts.expiresAt.toISOString() } : {}),
  });
  writeSecrets(file, secrets);
  return key;
}

/** The id part of a raw key (`cmk_<id>_<secret>`). */
export function apiKeyId(key: string): string | undefined {
  return /^cmk_([0-9a-f]{8})_/.exec(key)?.[1];
}

/**
 * Removes an API key; the running node stops accepting it within moments.
 * The node's local key (the CLI's on this machine) cannot be revoked.
 */
export function revokeApiKey(file: string, id: string): { id: string; roles: ApiRole[] } {
  const secrets = readSecrets(file);
  const found = secrets.apiKeys.find((k) => k.id === id);
  if (!found) throw new CreditMeshError("NOT_FOUND", `key_id: no API key ${id} in ${file}`, { field: "key_id" });
  if (apiKeyId(secrets.localApiKey) === id) {
    throw new CreditMeshError("CONFLICT", `key_id: ${id} is this node's local key, used by the CLI on this machine; it cannot be revoked`, { field: "key_id" });
  }
  secrets.apiKeys = secrets.apiKeys.filter((k) => k.id !== id);
  writeSecrets(file, secrets);
  return { id, roles: found.roles };
}

export function apiKeyMatches(key: string, sha256: string): boolean {
  const a = Buffer.from(hashApiKey(key), "hex");
  const b = Buffer.from(sha256, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
