import type { Command } from "commander";
import { ConsentStatus, consentStatusToJSON } from "../../gen/creditmesh/v1/common.js";
import { Consent } from "../../gen/creditmesh/v1/consent.js";
import { invalid } from "../../errors.js";
import { purposeLabel } from "../../report/labels.js";
import { call, connect } from "../client.js";
import { printJson, toPrintableJson } from "../print-json.js";
import { renderTable } from "../table.js";
import { addClientOptions, addSubjectOptions, purposeFrom, subjectFrom, type ClientFlags, type SubjectFlags } from "../options.js";

const DAY_MS = 24 * 3600 * 1000;

export function registerConsent(program: Command): void {
  const consent = program.command("consent").description("record, list or revoke a borrower's authorizations at this node");
  addSubjectOptions(addClientOptions(consent.command("grant").description("record a borrower's authorization; prints the consent")))
    .requiredOption("--purpose <purpose>", "LOAN_ORIGINATION, CREDIT_LIMIT_REVIEW, POST_LOAN_MANAGEMENT, SUBJECT_REQUEST or FURNISHING")
    .requiredOption("--evidence-ref <ref>", "reference (e.g. SHA-256) of the signed authorization the institution keeps")
    .option("--valid-days <n>", "the consent ends this many days from now (whatever --valid-from says)", "30")
    .option("--valid-from <iso>", "start of validity (ISO 8601), default now; may be in the past, for an authorization signed earlier")
    .action(async (opts: ClientFlags & SubjectFlags & { purpose: string; evidenceRef: string; validDays: string; validFrom?: string }) => {
      const days = Number(opts.validDays);
      if (!Number.isFinite(days) || days <= 0) throw invalid("valid_days", "must be a positive number");
      const validFrom = opts.validFrom ? new Date(opts.validFrom) : new Date();
      if (Number.isNaN(validFrom.getTime())) throw invalid("valid_from", "not an ISO 8601 time");
      const validUntil = new Date(Date.now() + days * DAY_MS);
      if (validUntil <= validFrom) throw invalid("valid_days", `the consent would end (${validUntil.toISOString()}) before it starts (--valid-from ${validFrom.toISOString()}); give more days`);
      const conn = connect(opts);
      try {
        const granted = await call(conn, conn.client.grantConsent, {
          subject: subjectFrom(opts),
          purpose: purposeFrom(opts.purpose),
          validFrom,
          validUntil,
          evidenceRef: opts.evidenceRef,
        });
        process.stdout.write(printJson(Consent, "creditmesh.v1.Consent", asOfNow(granted)));
      } finally {
        conn.close();
      }
    });
  addClientOptions(consent.command("revoke").description("revoke a consent granted at this node").argument("<consent_id>")).action(
    async (consentId: string, opts: ClientFlags) => {
      const conn = connect(opts);
      try {
        const revoked = await call(conn, conn.client.revokeConsent, { consentId });
        process.stdout.write(printJson(Consent, "creditmesh.v1.Consent", asOfNow(revoked)));
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
        const now = consents.map((c) => asOfNow(c));
        process.stdout.write(format === "json" ? JSON.stringify(now.map((c) => toPrintableJson(Consent, "creditmesh.v1.Consent", c)), null, 2) + "\n" : renderConsents(now));
      } finally {
        conn.close();
      }
    });
}

/** A consent as it stands now: one whose validity has ended reads EXPIRED, whatever the node said when it was granted. */
export function asOfNow(c: Consent, now = new Date()): Consent {
  return c.status === ConsentStatus.ACTIVE && c.validUntil && c.validUntil <= now ? { ...c, status: ConsentStatus.EXPIRED } : c;
}

/** One line per consent, under 120 columns: the end of validity to the minute, the purpose in words; the rest is in --format json. */
function renderConsents(consents: readonly Consent[]): string {
  if (consents.length === 0) return "no consents\n";
  const minute = (d: Date | undefined) => (d ? d.toISOString().slice(0, 16).replace("T", " ") : "");
  return renderTable(
    ["CONSENT", "STATUS", "PURPOSE", "UNTIL (UTC)", "EVIDENCE"],
    consents.map((c) => [
      c.consentId,
      c.status === ConsentStatus.REVOKED ? `REVOKED ${minute(c.revokedAt).slice(0, 10)}` : consentStatusToJSON(c.status),
      purposeLabel(c.purpose),
      minute(c.validUntil),
      c.evidenceRef.length > 16 ? `${c.evidenceRef.slice(0, 15)}…` : c.evidenceRef,
    ]),
  );
}
