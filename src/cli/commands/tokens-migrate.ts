import { existsSync } from "node:fs";
import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE, loadConfig, secretsPath } from "../../config/load.js";
import { ensureLocalTokenKey, readSecrets } from "../../config/secrets.js";
import { CreditMeshError, invalid, isCreditMeshError } from "../../errors.js";
import { CreditNode } from "../../node/credit-node.js";
import { DEFAULT_MIGRATION_BATCH, type MigrationState } from "../../node/token-migration.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `creditmesh tokens migrate`: with the node stopped, runs it in this process
 * and re-indexes its data to the committee's tokens (node/token-migration.ts).
 * Killed at any point, the same command resumes where the last step ended.
 * Added under `tokens`, so not named register… (those are top-level commands).
 */
export function addTokensMigrate(tokens: Command): void {
  tokens
    .command("migrate")
    .description(
      "with the node stopped: run it here and re-index its data from its earlier subject tokens (the legacy shared key) " +
        "to the committee's, resumable; earlier tokens stay answerable until --end-transition",
    )
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .option("--batch <n>", "accounts re-tokenized per step (one committee evaluation each), 1 to 1024", String(DEFAULT_MIGRATION_BATCH))
    .option("--wait-ms <ms>", "how long to wait for the committee's evaluators to connect", "30000")
    .option("--end-transition", "after a finished migration: stop answering under the earlier tokens (consents signed under them stop working)")
    .action(async (opts: { config: string; batch: string; waitMs: string; endTransition?: boolean }) => {
      const batch = Number(opts.batch);
      if (!Number.isInteger(batch) || batch < 1 || batch > 1024) throw invalid("batch", "an integer from 1 to 1024");
      const waitMs = Number(opts.waitMs);
      if (!Number.isInteger(waitMs) || waitMs < 0) throw invalid("wait_ms", "a non-negative integer");
      const config = loadConfig(opts.config);
      const file = secretsPath(config);
      if (!existsSync(file)) throw new CreditMeshError("CONFIG_INVALID", `${file}: no secrets file: nothing to migrate`, { field: "storage.secretsFile" });
      // A node alone migrates from the legacy key to its own committee of one.
      if (!config.p2p.enabled && readSecrets(file).tokenKey) ensureLocalTokenKey(file);

      const node = CreditNode.create({ config });
      const out = (l: string) => process.stdout.write(l + "\n");
      const stop = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => {
        if (stop.signal.aborted) process.exit(130);
        process.stderr.write(`${signal}: stopping after the current step (again to force)\n`);
        stop.abort(new CreditMeshError("DEADLINE_EXCEEDED", `interrupted by ${signal}; run the same command to resume`));
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        try {
          await node.start();
        } catch (err) {
          if (isCreditMeshError(err, "UNAVAILABLE") && /in use by another process/.test((err as Error).message)) {
            throw new CreditMeshError("UNAVAILABLE", `${(err as Error).message}: is the node running? Stop it first; tokens migrate runs the node itself`, { cause: err });
          }
          throw err;
        }
        let parts = node.tokenMigration({ batch, actor: "cli:tokens-migrate" });
        if (opts.endTransition) {
          const { aliases, tokenKeyRemoved } = await parts.migration.endTransition();
          out(`transition ended: ${aliases} earlier tokens no longer answered here${tokenKeyRemoved ? `; the legacy tokenKey was removed from ${file}` : ""}`);
          return;
        }
        // Refuse before writing anything when fewer than t evaluators can be reached.
        const deadline = Date.now() + waitMs;
        while (parts.committee.connected.length < parts.committee.threshold && Date.now() < deadline && !stop.signal.aborted) {
          await sleep(200);
          parts = node.tokenMigration({ batch, actor: "cli:tokens-migrate" });
        }
        const c = parts.committee;
        if (c.connected.length < c.threshold) {
          const missing = c.members.filter((m) => !c.connected.includes(m));
          throw new CreditMeshError(
            "UNAVAILABLE",
            `token committee unreachable: ${c.connected.length} of the ${c.threshold} evaluators needed connected within ${waitMs} ms ` +
              `(committee ${c.members.join(", ")}; not connected: ${missing.join(", ")}); nothing was migrated`,
          );
        }
        const before = await parts.migration.state();
        if (before?.state === "running") out(`resuming the migration after ${before.accounts + before.unchanged} accounts`);
        const done = await parts.migration.run({ signal: stop.signal, onStep: (s) => out(`step: ${line(s)}`) });
        out(done.state === "finished" && before?.state !== "running" && before?.keyId === done.keyId
          ? `already migrated: ${line(done)}`
          : `migration finished: ${line(done)}; earlier tokens stay answerable here until \`creditmesh tokens migrate --end-transition\``);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await node.stop();
      }
    });
}

function line(s: MigrationState): string {
  return `${s.accounts} accounts re-indexed, ${s.unchanged} already current, ${s.subjects} subjects aliased, ${s.inquiries} inquiries and ${s.consents} consents moved`;
}
