import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { invalid } from "../../errors.js";
import { CreditReport } from "../../gen/creditmesh/v1/report.js";
import { renderHtml } from "../../report/render-html.js";
import { renderText } from "../../report/render-text.js";
import { call, connect } from "../client.js";
import { printJson } from "../print-json.js";
import { addClientOptions, addSubjectOptions, purposeFrom, subjectFrom, type ClientFlags, type SubjectFlags } from "../options.js";

const FORMATS = ["json", "text", "html"] as const;

export function registerReport(program: Command): void {
  addSubjectOptions(addClientOptions(program.command("report").description("pull a borrower's unified credit report")))
    .requiredOption("--consent-id <id>", "the borrower's consent recorded at this node")
    .option("--purpose <purpose>", "purpose of the query (must match the consent)", "LOAN_ORIGINATION")
    .option("--as-of <date>", "report date YYYY-MM-DD (default today)")
    .option("--deadline-ms <ms>", "network fan-out deadline")
    .option("-f, --format <format>", `output: ${FORMATS.join(", ")}`, "text")
    .option("-o, --out <file>", "write to a file instead of stdout")
    .action(
      async (opts: ClientFlags & SubjectFlags & { consentId: string; purpose: string; asOf?: string; deadlineMs?: string; format: string; out?: string }) => {
        if (!(FORMATS as readonly string[]).includes(opts.format)) throw invalid("format", `one of ${FORMATS.join(", ")}`);
        const conn = connect(opts);
        try {
          const report = await call(
            conn,
            conn.client.getCreditReport,
            {
              subject: subjectFrom(opts),
              purpose: purposeFrom(opts.purpose),
              consentId: opts.consentId,
              asOf: opts.asOf ?? "",
              deadlineMs: opts.deadlineMs ? Number(opts.deadlineMs) : 0,
            },
            60_000,
          );
          // The borrower as given on this command line heads the page; the report itself holds only a token.
          const render = { subject: { idNumber: opts.idNumber, name: opts.name }, color: !opts.out && colourWanted() };
          const text =
            opts.format === "json"
              ? printJson(CreditReport, "creditmesh.v1.CreditReport", report)
              : opts.format === "html"
                ? renderHtml(report, render)
                : renderText(report, render);
          if (opts.out) writeFileSync(opts.out, text);
          else process.stdout.write(text);
        } finally {
          conn.close();
        }
      },
    );
}

/** Colour on a terminal unless NO_COLOR is set (https://no-color.org), or always with FORCE_COLOR. */
export function colourWanted(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && !process.env.NO_COLOR;
}
