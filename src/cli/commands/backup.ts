import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE, loadConfig } from "../../config/load.js";
import { restoreBackup } from "../../node/backup.js";
import { call, connect } from "../client.js";
import { addClientOptions, type ClientFlags } from "../options.js";

export function registerBackup(program: Command): void {
  addClientOptions(
    program
      .command("backup")
      .description("take a consistent snapshot of the running node into a new directory (secrets are not included)")
      .requiredOption("-o, --out <dir>", "new directory inside the node's storage.backupRoot (relative paths are taken from there)"),
  ).action(async (opts: ClientFlags & { out: string }) => {
    const conn = connect(opts);
    try {
      // Sent as given: the node resolves it against its backup root and refuses anything outside it.
      const res = await call(conn, conn.client.backup, { outDir: opts.out }, 3_600_000);
      process.stdout.write(`backup written to ${res.outDir}: ${res.keys} keys, ${res.auditEntries} audit entries, audit head ${res.auditHead}\n`);
      process.stderr.write("the backup does not contain the node's secrets file: keep it separately, restore needs it\n");
    } finally {
      conn.close();
    }
  });

  program
    .command("restore")
    .description("rebuild a stopped node's database from a backup, verifying it (audit chain included) before it is put in place")
    .requiredOption("--from <dir>", "backup directory (made by `creditmesh backup`)")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .option("--force", "replace an existing database (after the backup has been verified)")
    .action(async (opts: { from: string; config: string; force?: boolean }) => {
      const result = await restoreBackup({ fromDir: opts.from, config: loadConfig(opts.config), force: opts.force });
      const m = result.manifest;
      process.stdout.write(
        `restored ${m.keys} keys from the backup of ${m.institutionId} taken ${m.createdAt} into ${result.dbPath}\n` +
          `audit chain verified: ${m.auditEntries} entries (head ${m.auditHead}), NODE_RESTORED appended\n` +
          (result.erasuresReapplied > 0 ? `erased again: ${result.erasuresReapplied} subject(s) erased after the backup was taken\n` : ""),
      );
    });
}
