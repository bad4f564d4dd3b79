import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { invalid } from "../../errors.js";
import { Manifest } from "../../gen/creditmesh/v1/peer.js";
import { CreditReport } from "../../gen/creditmesh/v1/report.js";
import { parseOperatorPublicKey, readManifestFile, verifyManifest } from "../../identity/manifest.js";
import { publicKeyFromPeerId, verifySignature } from "../../identity/node-key.js";
import { verifyReport } from "../../report/verify.js";

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("check every holder signature in a saved JSON report, offline; exit 1 on any failure")
    .argument("<report>", "report saved with `creditmesh report --format json`")
    .requiredOption("-m, --manifest <file>", "the network's signed membership manifest")
    .option("--operator-key <hex>", "operator public key: also verifies the manifest itself")
    .option("--json", "print the full verification result as JSON")
    .option("--require-proofs", "fail on an answer from another member that carries no log proof")
    .action(async (file: string, opts: { manifest: string; operatorKey?: string; json?: boolean; requireProofs?: boolean }) => {
      let report: CreditReport;
      try {
        report = CreditReport.fromJSON(JSON.parse(readFileSync(file, "utf8")));
      } catch (err) {
        throw invalid("report", `${file} is not a JSON report: ${(err as Error).message}`);
      }
      const signed = await readManifestFile(opts.manifest);
      const manifest = opts.operatorKey ? verifyManifest(signed, parseOperatorPublicKey(opts.operatorKey)) : Manifest.decode(signed.body);
      const keys = new Map(manifest.members.map((m) => [m.institutionId, publicKeyFromPeerId(m.peerId)]));
      const result = verifyReport(report, { memberPublicKey: (id) => keys.get(id), verify: verifySignature, requireProofs: opts.requireProofs ?? false });

      if (opts.json) {
        process.stdout.write(JSON.stringify(result, null, 2) + "\n");
      } else {
        const out = (l: string) => process.stdout.write(l + "\n");
        out(`report ${report.reportId} (subject token ${report.subjectToken.slice(0, 16)}…, as of ${report.asOf})`);
        out(`manifest ${manifest.networkId} v${manifest.version}: ${opts.operatorKey ? "signature verified" : "signature NOT checked (pass --operator-key)"}`);
        out("holders:");
        for (const h of result.holders) {
          out(`  ${h.state.padEnd(8)} ${h.institutionId} ${h.status}${h.reason ? ` — ${h.reason}` : ""}`);
          if (h.proof !== "NONE") out(`           log proof ${h.proof}${h.proofReason ? ` — ${h.proofReason}` : ""}`);
        }
        out("tradelines:");
        for (const t of result.tradelines) out(`  ${t.verified ? "VERIFIED" : "FAILED  "} ${t.institutionId}/${t.accountRef}${t.reason ? ` — ${t.reason}` : ""}`);
        const inqOk = result.inquiries.filter((i) => i.verified).length;
        out(`inquiries: ${inqOk}/${result.inquiries.length} verified`);
        out(`summary: ${result.summary.verified ? "matches the signed data" : `FAILED — ${result.summary.reason}`}`);
        out(`score: ${result.score.verified ? "recomputed and matches" : `FAILED — ${result.score.reason}`}`);
        out(result.ok ? "OK: every signed part verifies" : `FAILED:\n${result.failures.map((f) => `  ${f}`).join("\n")}`);
      }
      process.exitCode = result.ok ? 0 : 1;
    });
}
