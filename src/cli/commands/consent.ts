import type { Command } from "commander";
import { consentStatusToJSON, purposeToJSON } from "../../gen/creditmesh/v1/common.js";
import { Consent } from "../../gen/creditmesh/v1/consent.js";
import { invalid } from "../../errors.js";
import { call, connect } from "../client.js";
import { renderTable } from "../table.js";
import { addClientOptions, addSubjectOptions, purposeFrom, subjectFrom, type ClientFlags, type SubjectFlags } from "../options.js";

const DAY_MS = 24 * 3600 * 1000;

export function registerConsent(program: Command): void {
  const consent = program.command("consent").description("record, list or revoke a borrower's authorizations at this node");
  addSubjectOptions(addClientOptions(consent.command("grant").description("record a borrower's authorization; prints the consent")))
    .requiredOption("--purpose <purpose>", "LOAN_ORIGINATION, CREDIT_LIMIT_REVIEW, POST_LOAN_MANAGEMENT, SUBJECT_REQUEST or FURNISHING")
    .requiredOption("--evidence-ref <ref>", "reference (e.g. SHA-256) of the signed authorization the institution keeps")
    .option("--valid-days <n>", "validity in days from now", "30")
    .option("--valid-from <iso>", "start of validity (ISO 8601), default now")
    .action(async (opts: ClientFlags & SubjectFlags & { purpose: string; evidenceRef: string; validDays: string; validFrom?: string }) => {
      const days = Number(opts.validDays);
      if (!Number.isFinite(days) || days <= 0) throw invalid("valid_days", "must be a positive number");
      const validFrom = opts.validFrom ? new Date(opts.validFrom) : new Date();
      if (Number.isNaN(validFrom.getTime())) throw invalid("valid_from", "not an ISO 8601 time");
      const conn = connect(opts);
      try {
        const granted = await call(conn, conn.client.grantConsent, {
          subject: subjectFrom(opts),
          purpose: purposeFrom(opts.purpose),
          validFrom,
          validUntil: new Date(validFrom.getTime() + days * DAY_MS),
          evidenceRef: opts.evidenceRef,
        });
        process.stdout.write(JSON.stringify(Consent.toJSON(granted), null, 2) + "\n");
      } finally {
        conn.close();
      }
    });
  addClientOptions(consent.command("revoke").description("revoke a consent granted at this node").argument("<consent_id>")).action(
    async (consentId: string, opts: ClientFlags) => {
      const conn = connect(opts);
      try {
        const revoked = await call(conn, conn.client.revokeConsent, { consentId });
        process.stdout.write(JSON.stringify(Consent.toJSON(revoked), null, 2) + "\n");
      } finally {
        conn.close();
      }
    },
  );
  addSubjectOptions(addClientOptions(consent.command("list").description("a borrower's authorizations recorded at this node, newest first, with their status now")))
    .option("--format <format>", "text or json", "text")
    .action(async (opts: ClientFlags & SubjectFlags & { format: string }) => {
      const format = opts.format.toLowerCase();
      if (format !== "text" && format !== "json") throw invalid("format", `must be text or json, got ${opts.format}`);
      const conn = connect(opts);
      try {
        const { consents } = await call(conn, conn.client.listConsents, { subject: subjectFrom(opts) });
        process.stdout.write(format === "json" ? JSON.stringify(consents.map((c) => Consent.toJSON(c)), null, 2) + "\n" : renderConsents(consents));
      } finally {
        conn.close();
      }
    });
}

/** One line per consent. */
function renderConsents(consents: readonly Consent[]): string {
  if (consents.length === 0) return "no consents\n";
  const iso = (d: Date | undefined) => d?.toISOString() ?? "";
  return renderTable(
    ["CONSENT_ID", "STATUS", "PURPOSE", "VALID_FROM", "VALID_UNTIL", "REVOKED_AT", "EVIDENCE_REF"],
    consents.map((c) => [c.consentId, consentStatusToJSON(c.status), purposeToJSON(c.purpose), iso(c.validFrom), iso(c.validUntil), iso(c.revokedAt), c.evidenceRef]),
  );
}
