import type { Command } from "commander";
import { invalid } from "../../errors.js";
import { PurgeSubjectResponse } from "../../gen/creditmesh/v1/node.js";
import { call, connect } from "../client.js";
import { printJson } from "../print-json.js";
import { addClientOptions, addSubjectOptions, subjectFrom, type ClientFlags, type SubjectFlags } from "../options.js";

export function registerSubject(program: Command): void {
  const subject = program.command("subject").description("act on everything this node holds about one borrower");
  addSubjectOptions(
    addClientOptions(
      subject
        .command("purge")
        .description(
          "destroy every account, repayment, inquiry, consent and dispute of a borrower at this node, on a verified erasure request; " +
            "prints what was destroyed. Each member holding the borrower's data purges at its own node.",
        ),
    ),
  )
    .requiredOption("--request-ref <ref>", "reference of the verified erasure request the institution keeps (recorded in the audit trail)")
    .option("--timeout-ms <ms>", "how long to wait for the node (the purge rewrites the database files)", "600000")
    .action(async (opts: ClientFlags & SubjectFlags & { requestRef: string; timeoutMs: string }) => {
      const timeoutMs = Number(opts.timeoutMs);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw invalid("timeout_ms", "must be a positive integer");
      const conn = connect(opts);
      try {
        const purged = await call(conn, conn.client.purgeSubject, { subject: subjectFrom(opts), requestRef: opts.requestRef }, timeoutMs);
        process.stdout.write(printJson(PurgeSubjectResponse, "creditmesh.v1.PurgeSubjectResponse", purged));
      } finally {
        conn.close();
      }
    });
}
