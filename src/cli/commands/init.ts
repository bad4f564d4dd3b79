import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { databasePath, DEFAULT_CONFIG_FILE, loadConfig, secretsPath } from "../../config/load.js";
import { generateSecrets, readSecrets, refuseNewSecretsBeside, writeSecrets } from "../../config/secrets.js";
import { invalid } from "../../errors.js";
import { NodeKey } from "../../identity/node-key.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("create this node's key and secrets file (if missing) and print its peer id for the operator")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .option("--token-key-file <file>", "the network's shared subject-token key, from the operator")
    .action((opts: { config: string; tokenKeyFile?: string }) => {
      const config = loadConfig(opts.config);
      const file = secretsPath(config);
      const tokenKey = opts.tokenKeyFile ? readFileSync(opts.tokenKeyFile, "utf8").trim() : undefined;
      if (tokenKey !== undefined && !/^[0-9a-f]{64}$/.test(tokenKey)) throw invalid("token_key_file", "must hold 64 lowercase hex characters");
      let secrets;
      if (existsSync(file)) {
        secrets = readSecrets(file);
        if (tokenKey && secrets.tokenKey !== tokenKey) {
          // Tokens already computed under the old key would no longer match the network's.
          throw invalid("token_key_file", `${file} already holds another token key; a node cannot switch networks in place`);
        }
      } else {
        refuseNewSecretsBeside(databasePath(config), file);
        secrets = generateSecrets({ tokenKey });
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
