import "../polyfill.js";
import { Command, CommanderError } from "commander";
import { CreditMeshError } from "../errors.js";
import { NODE_VERSION } from "../version.js";
import { registerApiKey } from "./commands/apikey.js";
import { registerAudit } from "./commands/audit.js";
import { registerBackup } from "./commands/backup.js";
import { registerConsent } from "./commands/consent.js";
import { registerDispute } from "./commands/dispute.js";
import { registerIngest } from "./commands/ingest.js";
import { registerLog } from "./commands/log.js";
import { registerInit } from "./commands/init.js";
import { registerKeys } from "./commands/keys.js";
import { registerNetwork } from "./commands/network.js";
import { registerReport } from "./commands/report.js";
import { registerStart } from "./commands/start.js";
import { registerStatus } from "./commands/status.js";
import { registerSubject } from "./commands/subject.js";
import { registerTestnet } from "./commands/testnet.js";
import { registerVerify } from "./commands/verify.js";

const program = new Command("creditmesh")
  .description("CreditMesh: a network of credit-data nodes, one per lending institution")
  .version(NODE_VERSION)
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
registerLog(program);

/** gRPC errors carry `field` in trailing metadata; show it like a local validation error. */
function describe(err: unknown): string {
  if (err instanceof CreditMeshError) return `${err.code}: ${err.message}`;
  const e = err as { code?: number; details?: string; metadata?: { get(k: string): unknown[] }; message?: string };
  if (typeof e.code === "number" && e.details !== undefined) {
    const field = e.metadata?.get("field")[0];
    return `${e.details}${field && !String(e.details).startsWith(String(field)) ? ` (field ${String(field)})` : ""} [grpc status ${e.code}]`;
  }
  return e.message ?? String(err);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`creditmesh: ${describe(err)}\n`);
  process.exit(2);
}
