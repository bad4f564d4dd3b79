import { existsSync } from "node:fs";
import type { Command } from "commander";
import { databasePath, DEFAULT_CONFIG_FILE, loadConfig, secretsPath } from "../../config/load.js";
import { generateSecrets, readSecrets, refuseNewSecretsBeside, writeSecrets } from "../../config/secrets.js";
import { NodeKey } from "../../identity/node-key.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("create this node's key and secrets file (if missing) and print its peer id for the operator")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .action((opts: { config: string }) => {
      const config = loadConfig(opts.config);
      const file = secretsPath(config);
      let secrets;
      if (existsSync(file)) {
        secrets = readSecrets(file);
      } else {
        refuseNewSecretsBeside(databasePath(config), file);
        // No subject-token key: a member obtains tokens from the network's committee, or, alone, makes its own at first start.
        secrets = generateSecrets();
        writeSecrets(file, secrets);
        process.stderr.write(`created secrets file ${file} (owner-only; keep it safe)\n`);
      }
      const key = NodeKey.fromSeed(Buffer.from(secrets.nodeKey, "hex"));
      process.stdout.write(
        `institution ${config.institution.id}\npeer id     ${key.peerId}\n` +
          `listen      ${config.p2p.listen.join(" ")}\n` +
          `ask the operator to run: creditmesh network add-member --institution-id ${config.institution.id} ` +
          `--name "${config.institution.name}" --peer-id ${key.peerId} --addr <your reachable multiaddr>\n`,
      );
    });
}
