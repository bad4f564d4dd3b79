import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE, loadConfig } from "../../config/load.js";
import { invalid } from "../../errors.js";
import { restoreBackup } from "../../node/backup.js";
import { parseCosignedCheckpoints } from "../../report/witnessed-checkpoints.js";

/** A signed checkpoint note (`creditmesh log checkpoint`), or a cosigned-checkpoints file (`creditmesh log witnessed`): this node's notes in it. */
function witnessedNotes(file: string, institutionId: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw invalid("witnessed", `${file}: ${(err as Error).message}`);
  }
  if (!text.trimStart().startsWith("{")) return [text];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid("witnessed", `${file} is neither a signed note nor JSON: ${(err as Error).message}`);
  }
  const notes = parseCosignedCheckpoints(json).logs.filter((l) => l.institution_id === institutionId).map((l) => l.cosigned);
  if (notes.length === 0) throw invalid("witnessed", `${file} holds no checkpoint of ${institutionId}'s log`);
  return notes;
}
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
    .option("--force", "replace an existing database (after the backup has been verified); its transparency log and audit trail are kept")
    .option("--witnessed <file>", "a checkpoint the node published (`log checkpoint` output, or a `log witnessed` file): the restored log must not contradict it")
    .option("--allow-log-rollback", "restore even if the node's log would go back from what it published (witnesses will record a rollback)")
    .action(async (opts: { from: string; config: string; force?: boolean; witnessed?: string; allowLogRollback?: boolean }) => {
      const config = loadConfig(opts.config);
      const witnessedCheckpoints = opts.witnessed === undefined ? undefined : witnessedNotes(opts.witnessed, config.institution.id);
      const result = await restoreBackup({ fromDir: opts.from, config, force: opts.force, witnessedCheckpoints, allowLogRollback: opts.allowLogRollback });
      const m = result.manifest;
      const log = result.log;
      process.stdout.write(
        `restored ${m.keys} keys from the backup of ${m.institutionId} taken ${m.createdAt} into ${result.dbPath}\n` +
          `audit chain verified: ${m.auditEntries} entries (head ${m.auditHead}), NODE_RESTORED appended\n` +
          (result.erasuresReapplied > 0 ? `erased again: ${result.erasuresReapplied} subject(s) erased after the backup was taken\n` : "") +
          (log.carried
            ? `transparency log kept: ${log.size} entries, with the audit trail and witness state of the database replaced` +
              (log.deletionsReapplied > 0 ? `; ${log.deletionsReapplied} account(s) it tombstoned after the backup deleted again` : "") +
              (log.versionsTombstoned > 0 ? `; ${log.versionsTombstoned} version(s) it logged after the backup tombstoned RESTORED_FROM_BACKUP` : "") +
              "\n"
            : `transparency log: the backup's, ${log.size} entries\n`),
      );
      if (log.unverified) {
        process.stderr.write(
          `warning: transparency log: ${log.unverified}; if witnesses cosigned a larger log than the restored one they will record a rollback ` +
            "(check with --witnessed and the node's latest cosigned checkpoint)\n",
        );
      }
    });
}
