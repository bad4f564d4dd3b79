import { once } from "node:events";
import { createWriteStream, existsSync, type WriteStream } from "node:fs";
import type { Command } from "commander";
import { verifyAudit, type AuditVerification } from "../../audit/level-audit-log.js";
import { databasePath, DEFAULT_CONFIG_FILE, loadConfig, secretsPath } from "../../config/load.js";
import { readSecrets } from "../../config/secrets.js";
import { CreditMeshError } from "../../errors.js";
import { AuditEntry } from "../../gen/creditmesh/v1/node.js";
import { NodeKey } from "../../identity/node-key.js";
import { NodeDatabase } from "../../store/database.js";
import { call, connect } from "../client.js";
import { addClientOptions, type ClientFlags } from "../options.js";

type AuditFlags = ClientFlags & { offline?: boolean };

/** One JSON line per entry, with the wire contract's field names. */
export function auditEntryJson(e: AuditEntry): string {
  return JSON.stringify({
    position: Number(e.position),
    at: e.at?.toISOString() ?? "",
    action: e.action,
    actor: e.actor,
    details: Object.fromEntries(Object.entries(e.details).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    prev_hash: e.prevHash,
    hash: e.hash,
  });
}

/** Opens a stopped node's database directly (the running node holds its lock). */
async function withOfflineDb<T>(configFile: string | undefined, run: (db: NodeDatabase) => Promise<T>): Promise<T> {
  const config = loadConfig(configFile ?? DEFAULT_CONFIG_FILE);
  const dbPath = databasePath(config);
  if (!existsSync(dbPath)) throw new CreditMeshError("NOT_FOUND", `no database at ${dbPath}`);
  let db: NodeDatabase;
  try {
    db = await NodeDatabase.open(dbPath);
  } catch (err) {
    if (err instanceof CreditMeshError && err.code === "UNAVAILABLE") {
      throw new CreditMeshError("UNAVAILABLE", `${err.message}: stop the node, or verify online without --offline`, { cause: err });
    }
    throw err;
  }
  try {
    return await run(db);
  } finally {
    await db.close();
  }
}

function report(result: Pick<AuditVerification, "ok" | "entries" | "firstBadPosition" | "reason">): void {
  if (result.ok) {
    process.stdout.write(`audit OK: ${result.entries} entries, chain intact\n`);
  } else {
    process.stdout.write(`audit BROKEN at position ${result.firstBadPosition}: ${result.reason} (${result.entries} entries stored)\n`);
    process.exitCode = 1;
  }
}

async function writeLine(out: NodeJS.WritableStream | WriteStream, line: string): Promise<void> {
  if (!out.write(line + "\n")) await once(out, "drain");
}

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("check or export the node's hash-chained audit trail");

  addClientOptions(
    audit
      .command("verify")
      .description("walk the audit chain; prints OK with the entry count, or the first bad position and why (exit 1)")
      .option("--offline", "open the stopped node's database directly instead of asking the running node"),
  ).action(async (opts: AuditFlags) => {
    if (opts.offline) {
      const config = loadConfig(opts.config ?? DEFAULT_CONFIG_FILE);
      const secretsFile = secretsPath(config);
      // The node's public key checks the signed head; without the secrets file, only its position and hash are checked.
      const publicKey = existsSync(secretsFile) ? NodeKey.fromSeed(Buffer.from(readSecrets(secretsFile).nodeKey, "hex")).publicKey : undefined;
      report(await withOfflineDb(opts.config, (db) => verifyAudit(db, { publicKey, logOrigin: config.institution.id })));
      return;
    }
    const conn = connect(opts);
    try {
      const res = await call(conn, conn.client.verifyAudit, {}, 300_000);
      report({ ok: res.ok, entries: Number(res.entries), firstBadPosition: Number(res.firstBadPosition), reason: res.reason });
    } finally {
      conn.close();
    }
  });

  addClientOptions(
    audit
      .command("export")
      .description("write every audit entry as JSON Lines, oldest first")
      .option("-o, --out <file>", "write to this file instead of stdout")
      .option("--offline", "open the stopped node's database directly instead of asking the running node"),
  ).action(async (opts: AuditFlags & { out?: string }) => {
    const out = opts.out ? createWriteStream(opts.out, { flags: "wx", mode: 0o600 }) : process.stdout;
    let count = 0;
    try {
      if (opts.offline) {
        await withOfflineDb(opts.config, async (db) => {
          for await (const [, bytes] of db.levels.audit.iterator()) {
            await writeLine(out, auditEntryJson(AuditEntry.decode(bytes)));
            count++;
          }
        });
      } else {
        const conn = connect(opts);
        try {
          const stream = conn.client.exportAudit({}, conn.metadata);
          for await (const entry of stream as AsyncIterable<AuditEntry>) {
            await writeLine(out, auditEntryJson(entry));
            count++;
          }
        } finally {
          conn.close();
        }
      }
    } finally {
      if (out !== process.stdout) {
        (out as WriteStream).end();
        await once(out, "close");
      }
    }
    if (opts.out) process.stderr.write(`exported ${count} entries to ${opts.out}\n`);
  });
}
