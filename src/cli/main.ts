import "../polyfill.js";
import { Command, CommanderError } from "commander";
import { NODE_VERSION } from "../version.js";
import { registerApiKey } from "./commands/apikey.js";
import { registerAudit } from "./commands/audit.js";
import { registerBackup } from "./commands/backup.js";
import { registerConsent } from "./commands/consent.js";
import { registerDispute } from "./commands/dispute.js";
import { registerIngest } from "./commands/ingest.js";
import { registerInit } from "./commands/init.js";
import { registerKeys } from "./commands/keys.js";
import { registerNetwork } from "./commands/network.js";
import { registerReport } from "./commands/report.js";
import { registerStart } from "./commands/start.js";
import { registerStatus } from "./commands/status.js";
import { registerSubject } from "./commands/subject.js";
import { registerTestnet } from "./commands/testnet.js";
import { registerVerify } from "./commands/verify.js";
import { explainError } from "./explain-error.js";

const program = new Command("creditmesh")
  .description("CreditMesh: a network of credit-data nodes, one per lending institution")
  .version(NODE_VERSION)
  .option("--verbose", "on error, also show the gRPC status or error code")
  .showHelpAfterError()
  .exitOverride();

registerStart(program);
registerInit(program);
registerNetwork(program);
registerApiKey(program);
registerStatus(program);
registerIngest(program);
registerConsent(program);
registerReport(program);
registerDispute(program);
registerTestnet(program);
registerVerify(program);
registerSubject(program);
registerKeys(program);
registerAudit(program);
registerBackup(program);

// `--verbose` may stand anywhere on the line, so it is taken out before the commands see it.
const argv = process.argv.filter((a, i) => a !== "--verbose" || process.argv.slice(0, i).includes("--"));
const verbose = argv.length !== process.argv.length;

try {
  await program.parseAsync(argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`creditmesh: ${explainError(err, verbose)}\n`);
  process.exit(2);
}
