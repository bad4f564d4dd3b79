import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { invalid } from "../../errors.js";
import { Manifest } from "../../gen/creditmesh/v1/peer.js";
import { CreditReport } from "../../gen/creditmesh/v1/report.js";
import { parseOperatorPublicKey, readManifestFile, verifyManifest } from "../../identity/manifest.js";
import { publicKeyFromPeerId, verifyByPeerId, verifySignature } from "../../identity/node-key.js";
import { InquirerPseudonyms } from "../../report/inquirer.js";
import { InquiryProofs } from "../../report/inquiry-proof.js";
import { verifyReport, type VerifyOptions } from "../../report/verify.js";
import { parseCosignedCheckpoints } from "../../report/witnessed-checkpoints.js";
import { parseVerifierKey, SIG_COSIGNATURE_V1, type NoteVerifier } from "../../tlog/note.js";
import { witnessVerifierKey } from "../../tlog/vkey.js";

const tokenKeyedPseudonyms = new InquirerPseudonyms();

function readCheckpointsFile(file: string) {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw invalid("checkpoints", `${file} is not a JSON file of cosigned checkpoints: ${(err as Error).message}`);
  }
  return parseCosignedCheckpoints(json);
}

function quorumFrom(raw: string): number {
  if (!/^[1-9][0-9]{0,2}$/.test(raw)) throw invalid("witness-quorum", "must be a positive integer");
  return Number(raw);
}

function witnessKey(vkey: string): NoteVerifier {
  const v = parseVerifierKey(vkey);
  if (v.type !== SIG_COSIGNATURE_V1) throw invalid("witness-key", `${v.name}: must be a witness (cosignature/v1, type 4) key, as \`creditmesh log vkey --witness\` prints`);
  return v;
}

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("check every holder signature in a saved JSON report, offline; exit 1 on any failure")
    .argument("<report>", "report saved with `creditmesh report --format json`")
    .requiredOption("-m, --manifest <file>", "the network's signed membership manifest")
    .option("--operator-key <hex>", "operator public key: also verifies the manifest itself")
    .option("--json", "print the full verification result as JSON")
    .option("--require-proofs", "fail on an answer from another member that carries no log proof")
    .option("--checkpoints <file>", "cosigned checkpoints of the holders' logs (`creditmesh log witnessed`): each answer's checkpoint must be witnessed")
    .option("--witness-quorum <n>", "cosignatures a checkpoint needs (with --checkpoints; at most the witnesses a holder has)", "2")
    .option(
      "--witness-key <vkey>",
      "a witness's cosignature key, repeatable (default: every other member of the manifest)",
      (v: string, all: string[] = []) => [...all, v],
    )
    .action(async (file: string, opts: { manifest: string; operatorKey?: string; json?: boolean; requireProofs?: boolean; checkpoints?: string; witnessQuorum: string; witnessKey?: string[] }) => {
      let report: CreditReport;
      try {
        report = CreditReport.fromJSON(JSON.parse(readFileSync(file, "utf8")));
      } catch (err) {
        throw invalid("report", `${file} is not a JSON report: ${(err as Error).message}`);
      }
      const signed = await readManifestFile(opts.manifest);
      const manifest = opts.operatorKey ? verifyManifest(signed, parseOperatorPublicKey(opts.operatorKey)) : Manifest.decode(signed.body);
      const keys = new Map(manifest.members.map((m) => [m.institutionId, publicKeyFromPeerId(m.peerId)]));
      const quorum = quorumFrom(opts.witnessQuorum);
      const explicit = opts.witnessKey?.map(witnessKey);
      if (explicit && !opts.checkpoints) throw invalid("witness-key", "only used with --checkpoints");
      const memberWitnesses = [...keys].map(([id, key]) => parseVerifierKey(witnessVerifierKey(id, key)));
      const witnessed: VerifyOptions["witnessed"] = opts.checkpoints
        ? {
            logs: readCheckpointsFile(opts.checkpoints).logs,
            policy: { quorum, witnessesOf: (holder) => (explicit ?? memberWitnesses).filter((w) => w.name !== holder) },
          }
        : undefined;
      const peerIds = new Map(manifest.members.map((m) => [m.institutionId, m.peerId]));
      const memberIds = [...peerIds.keys()];
      const inquiryProofs = new InquiryProofs({
        memberIds: () => memberIds,
        peerIdOf: (id) => peerIds.get(id),
        // A network on a shared HMAC token key keys pseudonyms with that key, which this check does not have.
        pseudonymOf: manifest.tokenCommittee ? (subjectToken, id) => tokenKeyedPseudonyms.of(subjectToken, id) : undefined,
        verify: verifyByPeerId,
      });
      const result = verifyReport(report, { memberPublicKey: (id) => keys.get(id), verify: verifySignature, requireProofs: opts.requireProofs ?? false, witnessed, inquiryProofs });

      if (opts.json) {
        process.stdout.write(JSON.stringify(result, null, 2) + "\n");
      } else {
        const out = (l: string) => process.stdout.write(l + "\n");
        out(`report ${report.reportId} (subject token ${report.subjectToken.slice(0, 16)}…, as of ${report.asOf})`);
        out(`manifest ${manifest.networkId} v${manifest.version}: ${opts.operatorKey ? "signature verified" : "signature NOT checked (pass --operator-key)"}`);
        out(opts.checkpoints ? `log checkpoints: checked against ${opts.checkpoints}, quorum ${quorum}` : "log checkpoints: NOT checked against cosigned ones (pass --checkpoints)");
        out("holders:");
        for (const h of result.holders) {
          out(`  ${h.state.padEnd(8)} ${h.institutionId} ${h.status}${h.reason ? ` — ${h.reason}` : ""}`);
          if (h.proof !== "NONE") out(`           log proof ${h.proof}${h.proofReason ? ` — ${h.proofReason}` : ""}`);
          if (h.witnessed !== "NONE") out(`           witnessed ${h.witnessed} — ${h.witnessReason}`);
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
