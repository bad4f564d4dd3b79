import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE, loadConfig } from "../../config/load.js";
import { CreditNode } from "../../node/credit-node.js";

export function registerStart(program: Command): void {
  program
    .command("start")
    .description("run a node until SIGINT/SIGTERM")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .action(async (opts: { config: string }) => {
      const node = CreditNode.create({ config: loadConfig(opts.config) });
      if (node.secretsCreated) {
        process.stderr.write(`created secrets file ${node.secretsFile} (owner-only; keep it safe)\n`);
      }
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          process.stderr.write(`${signal} again: exiting now\n`);
          process.exit(130);
        }
        stopping = true;
        process.stderr.write(`${signal}: stopping (again to force)\n`);
        node.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      await node.start();
      process.stderr.write(
        `CreditMesh node ${node.config.institution.id} ready: gRPC ${node.grpcAddress}, peer id ${node.key.peerId}\n` +
          `secrets: ${node.secretsFile}\n`,
      );
    });
}
