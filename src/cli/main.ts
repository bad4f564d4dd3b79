import "../polyfill.js";
import { Command, CommanderError } from "commander";
import { CreditMeshError } from "../errors.js";
import { NODE_VERSION } from "../version.js";
import { registerCommands } from "./command-table.js";

const program = new Command("creditmesh")
  .description("CreditMesh: a network of credit-data nodes, one per lending institution")
  .version(NODE_VERSION)
  .showHelpAfterError()
  .exitOverride();

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
  await registerCommands(program, process.argv.slice(2));
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`creditmesh: ${describe(err)}\n`);
  process.exit(2);
}
