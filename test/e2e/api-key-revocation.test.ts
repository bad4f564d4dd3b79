import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/eventually.js";
import { TestClient } from "../helpers/grpc-client.js";
import { cli, startNodeProcess, writeConfig, type NodeProcess } from "../helpers/node-process.js";
import { tempDir } from "../helpers/temp.js";

/**
 * An operator revokes a leaked API key while the node runs: the node refuses
 * it within moments, without a restart, and the audit trail records it.
 */
describe("API key revocation on a running node", () => {
  const tmp = tempDir("cm-revoke-");
  let node: NodeProcess | undefined;

  afterAll(async () => {
    await node?.kill();
    tmp.remove();
  });

  it("lists keys without secrets, revokes one at once, refuses to revoke the local key, audits the revocation, and refuses a key past its expiry", { timeout: 120_000 }, async () => {
    const configFile = writeConfig(path.join(tmp.dir, "node.json"), {
      institution: { id: "revoke-bank", name: "Revoke Bank" },
      storage: { dataDir: path.join(tmp.dir, "data") },
      grpc: { host: "127.0.0.1", port: 0 },
      metrics: { enabled: false },
      log: { level: "warn" },
    });
    node = await startNodeProcess(configFile);
    const created = await cli(["apikey", "create", "--role", "LENDER", "--config", configFile]);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    const id = /^cmk_([0-9a-f]{8})_/.exec(key)![1]!;
    const client = new TestClient(node.address, key);
    const status = () => client.unary("getNodeStatus", {}, 5_000);
    expect((await status()).institutionId).toBe("revoke-bank");

    const listed = await cli(["apikey", "list", "--config", configFile, "--format", "json"]);
    const keys = listed.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: string; roles: string[]; local?: boolean });
    expect(keys).toContainEqual(expect.objectContaining({ id, roles: ["LENDER"] }));
    const local = keys.find((k) => k.local)!;
    expect(listed.stdout).not.toContain("cmk_");
    // The default is a table, like the other lists.
    const table = await cli(["apikey", "list", "--config", configFile]);
    expect(table.code, table.stderr).toBe(0);
    const tableRows = table.stdout.trim().split("\n");
    expect(tableRows[0]).toMatch(/^KEY ID\s+ROLES\s+CREATED \(UTC\)\s+EXPIRES \(UTC\)\s+NOTE$/);
    expect(tableRows.find((r) => r.includes("this node's local key"))).toBeDefined();
    expect(table.stdout).not.toContain("cmk_");

    const refused = await cli(["apikey", "revoke", local.id, "--config", configFile]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("local key");

    const revoked = await cli(["apikey", "revoke", id, "--config", configFile]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const deadline = Date.now() + 5_000;
    let err: ServiceError | undefined;
    while (!err && Date.now() < deadline) {
      err = await status().then(
        () => undefined,
        (e: ServiceError) => e,
      );
      if (!err) await new Promise((r) => setTimeout(r, 50));
    }
    expect(err?.code).toBe(GrpcStatus.UNAUTHENTICATED);
    client.close();

    // The node records the revocation when it notices the file change; give it the same few moments.
    const actionsFor = async (): Promise<string[]> => {
      const exported = await cli(["audit", "export", "--config", configFile]);
      const entries = exported.stdout.trim().split("\n").map((l) => JSON.parse(l) as { action: string; details: { keyId?: string } });
      return entries.filter((e) => e.details.keyId === id).map((e) => e.action);
    };
    let actions = await actionsFor();
    for (let i = 0; i < 20 && actions.length < 2; i++) actions = await actionsFor();
    expect(actions).toEqual(["API_KEY_CREATED", "API_KEY_REVOKED"]);

    // A key made to expire works until then, and is refused from then on without anyone touching the node.
    // Rather than wait for it, its expiry is moved into the past in the secrets file, as the passing of a
    // day would; the clock comparison itself is unit-tested with a manual clock (test/unit/api/auth.test.ts).
    const shortLived = await cli(["apikey", "create", "--role", "LENDER", "--expires-in", "1", "--config", configFile]);
    expect(shortLived.code, shortLived.stderr).toBe(0);
    const expiring = new TestClient(node.address, shortLived.stdout.trim());
    const expiringId = /^cmk_([0-9a-f]{8})_/.exec(shortLived.stdout.trim())![1]!;
    const listEntry = async () => {
      const listed = await cli(["apikey", "list", "--config", configFile, "--format", "json"]);
      return listed.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: string; createdAt: string; expiresAt?: string; expired?: boolean }).find((k) => k.id === expiringId)!;
    };
    try {
      expect((await expiring.unary("getNodeStatus", {}, 5_000)).institutionId).toBe("revoke-bank");
      const entry = await listEntry();
      expect(entry.expired).toBeUndefined();
      // One day from the command: the hours between its creation and expiry, whatever the command's own pace.
      expect(Math.round((Date.parse(entry.expiresAt!) - Date.parse(entry.createdAt)) / 3_600_000)).toBe(24);

      const secretsFile = path.join(tmp.dir, "data", "secrets.json");
      const secrets = JSON.parse(readFileSync(secretsFile, "utf8")) as { apiKeys: { id: string; expiresAt?: string }[] };
      secrets.apiKeys.find((k) => k.id === expiringId)!.expiresAt = new Date(Date.parse(entry.createdAt) - 1_000).toISOString();
      writeFileSync(secretsFile, JSON.stringify(secrets, null, 2));
      const expired = await eventually("the node refuses the expired key", () =>
        expiring.unary("getNodeStatus", {}, 5_000).then(
          () => undefined,
          (e: ServiceError) => e,
        ),
      );
      expect(expired.code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(expired.details).toContain("expired");
      expect((await listEntry()).expired).toBe(true);
      const bad = await cli(["apikey", "create", "--role", "LENDER", "--expires-in", "-1", "--config", configFile]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain("expires_in");
    } finally {
      expiring.close();
    }
  });
});
