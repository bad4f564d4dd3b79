import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE, databasePath, loadConfig, secretsPath } from "../../config/load.js";
import { addApiKey, API_ROLES, apiKeyId, loadOrCreateSecrets, readSecrets, revokeApiKey, type ApiRole } from "../../config/secrets.js";
import { invalid } from "../../errors.js";
import { renderTable } from "../table.js";

const DAY_MS = 24 * 3600 * 1000;

export function registerApiKey(program: Command): void {
  const apikey = program.command("apikey").description("manage the node's API keys");
  apikey
    .command("create")
    .description("print a new API key for this node, alone on one line of stdout")
    .requiredOption("-r, --role <role...>", `role(s): ${API_ROLES.join(", ")}`)
    .option("--expires-in <days>", "refuse the key from this many days on (default: it does not expire)")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .action((opts: { role: string[]; expiresIn?: string; config: string }) => {
      const roles = opts.role.flatMap((r) => r.split(",")).map((r) => r.trim().toUpperCase());
      for (const role of roles) {
        if (!(API_ROLES as readonly string[]).includes(role)) throw invalid("role", `unknown role ${role}; one of ${API_ROLES.join(", ")}`);
      }
      let expiresAt: Date | undefined;
      if (opts.expiresIn !== undefined) {
        const days = Number(opts.expiresIn);
        if (!Number.isFinite(days) || days <= 0 || days > 3660) throw invalid("expires_in", `must be a number of days, more than 0 and at most 3660, got ${opts.expiresIn}`);
        expiresAt = new Date(Date.now() + days * DAY_MS);
      }
      const config = loadConfig(opts.config);
      const file = secretsPath(config);
      loadOrCreateSecrets(file, { databaseDir: databasePath(config) });
      process.stdout.write(addApiKey(file, roles as ApiRole[], { expiresAt }) + "\n");
    });
  apikey
    .command("list")
    .description("list the node's API keys: id, roles, creation and expiry times (never the keys themselves)")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .option("--format <format>", "text (a table) or json (one object per line)", "text")
    .action((opts: { config: string; format: string }) => {
      const format = opts.format.toLowerCase();
      if (format !== "text" && format !== "json") throw invalid("format", `must be text or json, got ${opts.format}`);
      const secrets = readSecrets(secretsPath(loadConfig(opts.config)));
      const local = apiKeyId(secrets.localApiKey);
      const now = Date.now();
      const keys = secrets.apiKeys.map((k) => ({
        id: k.id,
        roles: k.roles,
        createdAt: k.createdAt,
        ...(k.expiresAt ? { expiresAt: k.expiresAt, ...(Date.parse(k.expiresAt) <= now ? { expired: true } : {}) } : {}),
        ...(k.id === local ? { local: true } : {}),
      }));
      if (format === "json") {
        for (const k of keys) process.stdout.write(JSON.stringify(k) + "\n");
        return;
      }
      const minute = (iso: string | undefined) => (iso ? new Date(iso).toISOString().slice(0, 16).replace("T", " ") : "");
      process.stdout.write(
        renderTable(
          ["KEY ID", "ROLES", "CREATED (UTC)", "EXPIRES (UTC)", "NOTE"],
          keys.map((k) => [k.id, k.roles.join(","), minute(k.createdAt), k.expiresAt ? minute(k.expiresAt) : "never", [k.local ? "this node's local key" : "", k.expired ? "EXPIRED" : ""].filter(Boolean).join(", ")]),
        ),
      );
    });
  apikey
    .command("revoke")
    .description("remove an API key; the running node refuses it from then on")
    .argument("<key_id>", "the key's id (the 8 hex digits after cmk_, as `apikey list` shows)")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .action((keyId: string, opts: { config: string }) => {
      const revoked = revokeApiKey(secretsPath(loadConfig(opts.config)), keyId);
      process.stdout.write(`revoked API key ${revoked.id} (${revoked.roles.join(",")})\n`);
    });
}
