import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { invalid } from "../../errors.js";
import { DisputeOutcome, disputeOutcomeFromJSON, disputeOutcomeToJSON, DisputeStatus, disputeStatusToJSON } from "../../gen/creditmesh/v1/common.js";
import { Dispute } from "../../gen/creditmesh/v1/dispute.js";
import type { AccountRecord } from "../../gen/creditmesh/v1/records.js";
import { call, connect } from "../client.js";
import { renderTable } from "../table.js";
import { printJson, toPrintableJson } from "../print-json.js";
import { parseJsonRecord } from "../record-file-jsonl.js";
import { addClientOptions, addSubjectOptions, optionalSubjectFrom, subjectFrom, type ClientFlags, type SubjectFlags } from "../options.js";

const DAY_MS = 24 * 3600 * 1000;
const DISPUTE = "creditmesh.v1.Dispute";
/** Filing waits for the holder's answer over the peer network. */
const FILE_TIMEOUT_MS = 30_000;

export function registerDispute(program: Command): void {
  const dispute = program.command("dispute").description("file, resolve and list disputes of tradelines");

  addSubjectOptions(addClientOptions(dispute.command("file").description("dispute a tradeline; routed to the institution holding it; prints the dispute")))
    .requiredOption("--institution-id <id>", "the institution that furnished the tradeline (its institution_id on the report)")
    .requiredOption("--account-ref <ref>", "the tradeline's account_ref, as shown on the report")
    .requiredOption("--reason <text>", "why the borrower disputes it (1-500 characters)")
    .action(async (opts: ClientFlags & SubjectFlags & { institutionId: string; accountRef: string; reason: string }) => {
      const subject = subjectFrom(opts);
      const conn = connect(opts);
      try {
        const filed = await call(
          conn,
          conn.client.fileDispute,
          { subject, institutionId: opts.institutionId, accountRef: opts.accountRef, reason: opts.reason },
          FILE_TIMEOUT_MS,
        );
        process.stdout.write(printJson(Dispute, DISPUTE, filed));
      } finally {
        conn.close();
      }
    });

  addClientOptions(
    dispute
      .command("resolve")
      .description("answer a dispute this institution holds; prints the resolved dispute")
      .argument("<dispute_id>"),
  )
    .requiredOption("--outcome <outcome>", "CORRECTED, VERIFIED_ACCURATE or DELETED")
    .option("--note <text>", "the institution's note on the resolution", "")
    .option("--corrected-json <file>", "with CORRECTED: the corrected account record as JSON (an account line as ingested from JSONL)")
    .action(async (disputeId: string, opts: ClientFlags & { outcome: string; note: string; correctedJson?: string }) => {
      const outcome = outcomeFrom(opts.outcome);
      if (outcome === DisputeOutcome.CORRECTED && !opts.correctedJson) throw invalid("corrected_json", "required with --outcome CORRECTED");
      if (outcome !== DisputeOutcome.CORRECTED && opts.correctedJson) throw invalid("corrected_json", "only allowed with --outcome CORRECTED");
      const corrected = opts.correctedJson ? readCorrected(opts.correctedJson) : undefined;
      const conn = connect(opts);
      try {
        const resolved = await call(conn, conn.client.resolveDispute, { disputeId, outcome, note: opts.note, corrected });
        process.stdout.write(printJson(Dispute, DISPUTE, resolved));
      } finally {
        conn.close();
      }
    });

  addClientOptions(
    dispute
      .command("show")
      .description("one dispute filed through or held by this node, as its holder has it now; prints the dispute")
      .argument("<dispute_id>"),
  ).action(async (disputeId: string, opts: ClientFlags) => {
    const conn = connect(opts);
    try {
      const { dispute: found, current } = await call(conn, conn.client.getDispute, { disputeId });
      process.stdout.write(found ? printJson(Dispute, DISPUTE, found) : "{}\n");
      if (!current) process.stderr.write(`the holder could not be reached: this is the last state this node had from it\n`);
    } finally {
      conn.close();
    }
  });

  addSubjectOptions(
    addClientOptions(
      dispute
        .command("list")
        .description("disputes this institution holds, open ones with their deadlines; with --id-number and --name, one borrower's disputes held or filed here"),
    ),
    { optional: true },
  )
    .option("--all", "include resolved disputes", false)
    .option("--format <format>", "text or json", "text")
    .action(async (opts: ClientFlags & Partial<SubjectFlags> & { all: boolean; format: string }) => {
      const format = opts.format.toLowerCase();
      if (format !== "text" && format !== "json") throw invalid("format", `must be text or json, got ${opts.format}`);
      const subject = optionalSubjectFrom(opts);
      const conn = connect(opts);
      try {
        const { disputes, notCurrentDisputeIds } = await call(conn, conn.client.listDisputes, { includeResolved: opts.all, subject });
        if (format === "json") {
          process.stdout.write(JSON.stringify(disputes.map((d) => toPrintableJson(Dispute, DISPUTE, d)), null, 2) + "\n");
        } else {
          process.stdout.write(renderDisputes(disputes, new Date()));
        }
        if (notCurrentDisputeIds.length) {
          process.stderr.write(`holder not reachable just now, shown as last known: ${notCurrentDisputeIds.join(", ")}\n`);
        }
      } finally {
        conn.close();
      }
    });
}

function outcomeFrom(text: string): DisputeOutcome {
  const outcome = disputeOutcomeFromJSON(text.toUpperCase());
  if (outcome === DisputeOutcome.UNRECOGNIZED || outcome === DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED) {
    throw invalid("outcome", `must be CORRECTED, VERIFIED_ACCURATE or DELETED, got ${text}`);
  }
  return outcome;
}

/** The corrected account: `{"account": {…}}`, `{"type": "account", …}` or the account's fields alone. */
function readCorrected(file: string): AccountRecord {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw invalid("corrected_json", `cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid("corrected_json", `malformed JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalid("corrected_json", "expected a JSON object");
  const wrapped = "account" in parsed || "type" in parsed || "record_type" in parsed ? parsed : { account: parsed };
  const built = parseJsonRecord(JSON.stringify(wrapped));
  if ("error" in built) {
    const field = built.error.field.replace(/^account\.?/, "");
    throw invalid(field && field !== "line" ? `corrected.${field}` : "corrected_json", built.error.reason);
  }
  if (built.record.kind?.$case !== "account") throw invalid("corrected_json", "must be an account record");
  return built.record.kind.value;
}

/** One line per dispute, about 130 columns; open ones show how long the institution has left to answer. The rest is in --format json. */
export function renderDisputes(disputes: readonly Dispute[], now: Date): string {
  if (disputes.length === 0) return "no disputes\n";
  const minute = (d: Date | undefined) => (d ? d.toISOString().slice(0, 16).replace("T", " ") : "");
  const rows = disputes.map((d) => [
    d.disputeId,
    disputeStatusToJSON(d.status),
    d.status === DisputeStatus.OPEN ? deadline(d.respondBy, now) : disputeOutcomeToJSON(d.outcome),
    `${d.accountRef.slice(0, 12)}…`,
    d.filedViaInstitutionId,
    minute(d.respondBy),
    d.reason.replace(/\s+/g, " ").slice(0, 30),
  ]);
  return renderTable(["DISPUTE", "STATUS", "DEADLINE/OUTCOME", "ACCOUNT_REF", "FILED_VIA", "RESPOND_BY (UTC)", "REASON"], rows);
}

function deadline(respondBy: Date | undefined, now: Date): string {
  if (!respondBy) return "?";
  const left = respondBy.getTime() - now.getTime();
  if (left < 0) return `OVERDUE ${Math.ceil(-left / DAY_MS)}d (withheld)`;
  return `${Math.floor(left / DAY_MS)}d left`;
}
