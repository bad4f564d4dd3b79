import type { Command } from "commander";
import { renderText } from "../../report/render-text.js";
import { Purpose } from "../../gen/creditmesh/v1/common.js";
import type { MemberStatus } from "../../gen/creditmesh/v1/node.js";
import { answeredInFull } from "../../report/assemble.js";
import { demoReport, readTestnet, testnetDown, testnetUp, type TestnetFile } from "../../testnet/testnet.js";
import { call, connect } from "../client.js";
import { explainError } from "../explain-error.js";
import { colourWanted } from "./report.js";

const DEFAULT_DIR = ".testnet";

export function registerTestnet(program: Command): void {
  const testnet = program.command("testnet").description("run a local multi-institution test network (one process per node)");
  testnet
    .command("up")
    .description("create keys, configs and a signed manifest, start every node, seed synthetic borrowers, print a report")
    .option("-n, --nodes <n>", "number of institutions", "3")
    .option("-d, --dir <dir>", "directory for keys, configs, data and logs", DEFAULT_DIR)
    .option("--no-seed", "start the nodes without synthetic data")
    .option("--seed-value <n>", "seed of the synthetic data generator", "7")
    .option("--borrowers <n>", "synthetic borrowers", "40")
    .action(async (opts: { nodes: string; dir: string; seed: boolean; seedValue: string; borrowers: string }) => {
      const log = (line: string) => process.stdout.write(line + "\n");
      const { file, layout, seeded } = await testnetUp({
        dir: opts.dir,
        nodes: Number(opts.nodes),
        seed: opts.seed,
        seedValue: Number(opts.seedValue),
        borrowers: Number(opts.borrowers),
        log,
      });
      log(`testnet.json: ${opts.dir}/testnet.json`);
      if (seeded) {
        const borrower = seeded.borrowers[0]!;
        const lender = file.nodes[0]!;
        log(`\nUnified report for a multi-lending borrower, pulled by ${lender.institution_id} (consent recorded there):\n`);
        const { report, consentId } = await demoReport(lender, borrower);
        process.stdout.write(renderText(report, { subject: borrower, color: colourWanted() }));
        const ok = report.holders.filter((h) => answeredInFull(h.status)).length;
        log(`\n${ok}/${report.holders.length} holders answered.`);
        // A consent is recorded at the node that queries, so each node's command carries a consent granted there.
        log("\nQuery more, at any node (each command below uses a consent recorded at that node):");
        const q = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;
        for (const n of file.nodes) {
          const id = n === lender ? consentId : await grantAt(n, borrower);
          log(`  npx creditmesh report --addr ${n.grpc_addr} --api-key ${n.api_key} --id-number ${borrower.idNumber} --name ${q(borrower.name)} --consent-id ${id} --format text`);
        }
        const other = seeded.borrowers[1]!;
        log(`  (a delinquent borrower: --id-number ${other.idNumber} --name ${q(other.name)}; record a consent first with \`npx creditmesh consent grant\` at that node)`);
      }
      const operatorKey = layout.operatorPublicKey;
      log(`\nOperator public key (for \`npx creditmesh verify REPORT.json --manifest ${file.manifest} --operator-key KEY\`):\n  ${operatorKey}`);
      log(`\nStop it with: npx creditmesh testnet down --dir ${opts.dir}`);
    });
  testnet
    .command("down")
    .description("stop every node of a test network")
    .option("-d, --dir <dir>", "test network directory", DEFAULT_DIR)
    .action(async (opts: { dir: string }) => {
      const stopped = await testnetDown(opts.dir);
      process.stdout.write(`stopped ${stopped} node process(es)\n`);
    });
  testnet
    .command("status")
    .description("show each node of a test network")
    .option("-d, --dir <dir>", "test network directory", DEFAULT_DIR)
    .action(async (opts: { dir: string }) => {
      const file = readTestnet(opts.dir);
      if (!file) {
        process.stdout.write(`no test network in ${opts.dir}\n`);
        return;
      }
      if (file.committee?.length) process.stdout.write(`token committee: ${file.committee_threshold} of ${file.committee.join(", ")}\n`);
      for (const n of file.nodes) {
        const conn = connect({ addr: n.grpc_addr, apiKey: n.api_key, config: n.config });
        try {
          const s = await call(conn, conn.client.getNodeStatus, {}, 3_000);
          const connected = s.members.filter((m) => m.connected).length;
          process.stdout.write(`${n.institution_id.padEnd(8)} ${n.grpc_addr.padEnd(16)} pid ${n.pid}  accounts ${s.accounts}  members connected ${connected}/${s.members.length}${filterSummary(s.members)}\n`);
        } catch (err) {
          process.stdout.write(`${n.institution_id.padEnd(8)} ${n.grpc_addr.padEnd(16)} pid ${n.pid}  DOWN (${explainError(err)})\n`);
        } finally {
          conn.close();
        }
      }
    });
}

/**
 * How many other members this node's reports route to by their filters, and
 * why the rest are asked anyway (node status, `members[].filter`); empty
 * when the node has filters off.
 */
export function filterSummary(members: readonly MemberStatus[]): string {
  const filters = members.flatMap((m) => (m.filter ? [{ id: m.institutionId, failOpen: m.filter.failOpen }] : []));
  if (filters.length === 0) return "";
  const failing = filters.filter((f) => f.failOpen !== "");
  const routed = `  filters route ${filters.length - failing.length}/${filters.length}`;
  return failing.length === 0 ? routed : `${routed} (asked anyway: ${failing.map((f) => `${f.id} ${f.failOpen}`).join(", ")})`;
}

/** Records the borrower's consent at another node of the test network, for the printed query commands. */
async function grantAt(node: TestnetFile["nodes"][number], borrower: { idNumber: string; name: string }): Promise<string> {
  const conn = connect({ addr: node.grpc_addr, apiKey: node.api_key, config: node.config });
  try {
    const now = Date.now();
    const consent = await call(conn, conn.client.grantConsent, {
      subject: { idType: 1, idNumber: borrower.idNumber, name: borrower.name, phone: "" },
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(now - 60_000),
      validUntil: new Date(now + 30 * 24 * 3600 * 1000),
      evidenceRef: `testnet-authorization-${node.institution_id}-${now}`,
    });
    return consent.consentId;
  } finally {
    conn.close();
  }
}
