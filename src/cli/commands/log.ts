import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE, loadConfig, secretsPath } from "../../config/load.js";
import { readSecrets } from "../../config/secrets.js";
import { invalid } from "../../errors.js";
import { parseOperatorPublicKey, readManifestFile, verifyManifest } from "../../identity/manifest.js";
import { NodeKey, publicKeyFromPeerId } from "../../identity/node-key.js";
import { logVerifierKey } from "../../tlog/vkey.js";

export function registerLog(program: Command): void {
  const log = program.command("log").description("the node's transparency log");
  log
    .command("vkey")
    .description("print the log's signed-note verifier key (name+keyhash+base64(0x01‖pubkey)), alone on one line")
    .option("--institution <id>", "another member's key, from the verified manifest the config names")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .action(async (opts: { institution?: string; config: string }) => {
      const config = loadConfig(opts.config);
      const self = config.institution.id;
      if (opts.institution === undefined || opts.institution === self) {
        const key = NodeKey.fromSeed(Buffer.from(readSecrets(secretsPath(config)).nodeKey, "hex"));
        process.stdout.write(logVerifierKey(self, key.publicKey) + "\n");
        return;
      }
      const { manifestFile, operatorPublicKey } = config.p2p;
      if (!manifestFile || !operatorPublicKey) {
        throw invalid("institution", "another member's key needs p2p.manifestFile and p2p.operatorPublicKey in the config");
      }
      const manifest = verifyManifest(await readManifestFile(manifestFile), parseOperatorPublicKey(operatorPublicKey));
      const member = manifest.members.find((m) => m.institutionId === opts.institution);
      if (!member) throw invalid("institution", `${opts.institution} is not a member of network ${manifest.networkId}`);
      process.stdout.write(logVerifierKey(member.institutionId, publicKeyFromPeerId(member.peerId)) + "\n");
    });
}
