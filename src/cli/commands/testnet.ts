import type { Command } from "commander";
import { HolderStatus } from "../../gen/creditmesh/v1/common.js";
import { renderText } from "../../report/render-text.js";
import { demoReport, readTestnet, testnetDown, testnetUp } from "../../testnet/testnet.js";
import { call, connect } from "../client.js";

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
      const { file, seeded } = await testnetUp({
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
        process.stdout.write(renderText(report));
        const ok = report.holders.filter((h) => h.status === HolderStatus.OK || h.status === HolderStatus.NO_DATA).length;
        log(`\n${ok}/${report.holders.length} holders answered.`);
        log("\nQuery more (any node; the API key is in testnet.json):");
        log(`  npx creditmesh report --addr ${lender.grpc_addr} --api-key ${lender.api_key} \\`);
        log(`      --id-number ${borrower.idNumber} --name ${borrower.name} --consent-id ${consentId} --format text`);
        const other = seeded.borrowers[1]!;
        log(`  (a delinquent borrower: --id-number ${other.idNumber} --name ${other.name}; grant consent first with \`creditmesh consent grant\`)`);
      }
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
      for (const n of file.nodes) {
        const conn = connect({ addr: n.grpc_addr, apiKey: n.api_key, config: n.config });
        try {
          const s = await call(conn, conn.client.getNodeStatus, {}, 3_000);
          const connected = s.members.filter((m) => m.connected).length;
          process.stdout.write(`${n.institution_id.padEnd(8)} ${n.grpc_addr.padEnd(16)} pid ${n.pid}  accounts ${s.accounts}  members connected ${connected}/${s.members.length}\n`);
        } catch (err) {
          process.stdout.write(`${n.institution_id.padEnd(8)} ${n.grpc_addr.padEnd(16)} pid ${n.pid}  DOWN (${(err as Error).message.split("\n")[0]})\n`);
        } finally {
          conn.close();
        }
      }
    });
}
