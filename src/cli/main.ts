import "../polyfill.js";
import { Command, CommanderError } from "commander";
import { NODE_VERSION } from "../version.js";
import { registerCommands } from "./command-table.js";

const program = new Command("creditmesh")
  .description("CreditMesh: a network of credit-data nodes, one per lending institution")
  .version(NODE_VERSION)
  .option("--verbose", "on error, also show the gRPC status or error code")
  .showHelpAfterError()
  .exitOverride();

// `--verbose` may stand anywhere on the line, so it is taken out before the commands see it.
const argv = process.argv.filter((a, i) => a !== "--verbose" || process.argv.slice(0, i).includes("--"));
const verbose = argv.length !== process.argv.length;

try {
  await registerCommands(program, argv.slice(2));
  await program.parseAsync(argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // Loaded only on failure: it needs grpc-js, which `--help` should not pay for.
  const { explainError } = await import("./explain-error.js");
  process.stderr.write(`creditmesh: ${explainError(err, verbose)}\n`);
  process.exit(2);
}
