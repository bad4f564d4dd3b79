import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyAuditor, LOCAL_OPERATOR } from "../../../src/audit/api-keys.js";
import { LevelAuditLog } from "../../../src/audit/level-audit-log.js";
import { addApiKey, apiKeyId, generateSecrets, readSecrets, revokeApiKey, writeSecrets } from "../../../src/config/secrets.js";
import { AuditEntry } from "../../../src/gen/creditmesh/v1/node.js";
import { silentLogger } from "../../../src/logger.js";
import { LevelAuditedApiKeys } from "../../../src/store/audited-api-keys.js";
import { NodeDatabase } from "../../../src/store/database.js";

let dir: string;
let db: NodeDatabase;
let secretsFile: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-apikeys-"));
  db = await NodeDatabase.open(join(dir, "db"));
  secretsFile = join(dir, "secrets.json");
  writeSecrets(secretsFile, generateSecrets());
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

async function entries(): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const [, bytes] of db.levels.audit.iterator()) out.push(AuditEntry.decode(bytes));
  return out;
}

describe("ApiKeyAuditor", () => {
  it("records each API key once, across restarts", async () => {
    const audit = await LevelAuditLog.open(db);
    const auditor = new ApiKeyAuditor({ secretsFile }, { audit, recorded: new LevelAuditedApiKeys(db), logger: silentLogger() });
    expect(await auditor.record()).toBe(1);
    expect(await auditor.record()).toBe(0);
    addApiKey(secretsFile, ["LENDER"]);
    addApiKey(secretsFile, ["FURNISHER", "OPERATOR"]);
    // A node restarted later sees only the keys it has not recorded.
    const again = new ApiKeyAuditor({ secretsFile }, { audit: await LevelAuditLog.open(db), recorded: new LevelAuditedApiKeys(db), logger: silentLogger() });
    expect(await again.record()).toBe(2);
    const keys = readSecrets(secretsFile).apiKeys;
    const all = await entries();
    expect(all.map((e) => [e.action, e.actor, e.details.keyId, e.details.roles])).toEqual(
      keys.map((k) => ["API_KEY_CREATED", LOCAL_OPERATOR, k.id, k.roles.join(",")]),
    );
    expect(all.some((e) => JSON.stringify(e).includes(readSecrets(secretsFile).localApiKey))).toBe(false);
    expect((await audit.verify()).ok).toBe(true);
  });

  it("records a key created while it runs", async () => {
    const audit = await LevelAuditLog.open(db);
    const auditor = new ApiKeyAuditor({ secretsFile }, { audit, recorded: new LevelAuditedApiKeys(db), logger: silentLogger() });
    await auditor.start();
    addApiKey(secretsFile, ["LENDER"]);
    const deadline = Date.now() + 10_000;
    while ((await entries()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await auditor.stop();
    expect((await entries()).map((e) => e.details.roles)).toEqual(["FURNISHER,LENDER,OPERATOR,SUBJECT_SERVICE", "LENDER"]);
  });
});

describe("ApiKeyAuditor and revocation", () => {
  it("records a revoked key once, and a later restart records nothing more", async () => {
    const audit = await LevelAuditLog.open(db);
    const auditor = new ApiKeyAuditor({ secretsFile }, { audit, recorded: new LevelAuditedApiKeys(db), logger: silentLogger() });
    const id = apiKeyId(addApiKey(secretsFile, ["LENDER"]))!;
    expect(await auditor.record()).toBe(2);
    revokeApiKey(secretsFile, id);
    expect(await auditor.record()).toBe(1);
    expect(await auditor.record()).toBe(0);
    const again = new ApiKeyAuditor({ secretsFile }, { audit: await LevelAuditLog.open(db), recorded: new LevelAuditedApiKeys(db), logger: silentLogger() });
    expect(await again.record()).toBe(0);
    const all = await entries();
    expect(all.map((e) => [e.action, e.details.keyId])).toEqual([
      ["API_KEY_CREATED", readSecrets(secretsFile).apiKeys[0]!.id],
      ["API_KEY_CREATED", id],
      ["API_KEY_REVOKED", id],
    ]);
    expect((await audit.verify()).ok).toBe(true);
  });

  it("refuses to revoke an unknown key or the node's local key, changing nothing", () => {
    const before = readSecrets(secretsFile);
    expect(() => revokeApiKey(secretsFile, "00000000")).toThrow(expect.objectContaining({ code: "NOT_FOUND", field: "key_id" }));
    expect(() => revokeApiKey(secretsFile, apiKeyId(before.localApiKey)!)).toThrow(expect.objectContaining({ code: "CONFLICT", field: "key_id" }));
    expect(readSecrets(secretsFile)).toEqual(before);
  });
});
