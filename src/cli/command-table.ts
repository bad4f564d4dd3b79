import { Help, type Command } from "commander";

/** One top-level command as `creditmesh --help` lists it. */
export interface CommandEntry {
  name: string;
  /** The left column of the help listing: name, `[options]`, arguments. */
  term: string;
  description: string;
}

/** A module under commands/ and the top-level commands it registers. */
export interface CommandModule {
  commands: CommandEntry[];
  load(): Promise<(program: Command) => void>;
}

/**
 * Every command module, in help order. Only the module of the command being
 * run is imported: the others pull in gRPC, libp2p and LevelDB, whose loading
 * would make every call (even `--help`) pay for all of them. A unit test checks
 * that each module registers exactly the names, terms and descriptions given here.
 */
export const COMMAND_MODULES: CommandModule[] = [
  {
    commands: [{ name: "start", term: "start [options]", description: "run a node until SIGINT/SIGTERM" }],
    load: async () => (await import("./commands/start.js")).registerStart,
  },
  {
    commands: [{ name: "host", term: "host [options]", description: "run several nodes in one process until SIGINT/SIGTERM (scale tests)" }],
    load: async () => (await import("./commands/host.js")).registerHost,
  },
  {
    commands: [{ name: "init", term: "init [options]", description: "create this node's key and secrets file (if missing) and print its peer id for the operator" }],
    load: async () => (await import("./commands/init.js")).registerInit,
  },
  {
    commands: [{ name: "network", term: "network", description: "operator: create a network, admit members, sign the membership manifest" }],
    load: async () => (await import("./commands/network.js")).registerNetwork,
  },
  {
    commands: [{ name: "apikey", term: "apikey", description: "manage the node's API keys" }],
    load: async () => (await import("./commands/apikey.js")).registerApiKey,
  },
  {
    commands: [{ name: "status", term: "status [options]", description: "show the node's identity, members and record counts" }],
    load: async () => (await import("./commands/status.js")).registerStatus,
  },
  {
    commands: [{ name: "ingest", term: "ingest [options] <file>", description: "stream accounts and repayments from a CSV or JSONL file to the node" }],
    load: async () => (await import("./commands/ingest.js")).registerIngest,
  },
  {
    commands: [{ name: "consent", term: "consent", description: "record, list or revoke a borrower's authorizations at this node" }],
    load: async () => (await import("./commands/consent.js")).registerConsent,
  },
  {
    commands: [{ name: "report", term: "report [options]", description: "pull a borrower's unified credit report" }],
    load: async () => (await import("./commands/report.js")).registerReport,
  },
  {
    commands: [{ name: "dispute", term: "dispute", description: "file, resolve and list disputes of tradelines" }],
    load: async () => (await import("./commands/dispute.js")).registerDispute,
  },
  {
    commands: [{ name: "testnet", term: "testnet", description: "run a local multi-institution test network (one process per node)" }],
    load: async () => (await import("./commands/testnet.js")).registerTestnet,
  },
  {
    commands: [{ name: "verify", term: "verify [options] <report>", description: "check every holder signature in a saved JSON report, offline; exit 1 on any failure" }],
    load: async () => (await import("./commands/verify.js")).registerVerify,
  },
  {
    commands: [{ name: "subject", term: "subject", description: "act on everything this node holds about one borrower" }],
    load: async () => (await import("./commands/subject.js")).registerSubject,
  },
  {
    commands: [{ name: "keys", term: "keys", description: "manage the node's data-encryption keys" }],
    load: async () => (await import("./commands/keys.js")).registerKeys,
  },
  {
    commands: [{ name: "tokens", term: "tokens", description: "subject-token evaluator committee: make one, reshare it, check it" }],
    load: async () => (await import("./commands/tokens.js")).registerTokens,
  },
  {
    commands: [{ name: "audit", term: "audit", description: "check or export the node's hash-chained audit trail" }],
    load: async () => (await import("./commands/audit.js")).registerAudit,
  },
  {
    commands: [
      { name: "backup", term: "backup [options]", description: "take a consistent snapshot of the running node into a new directory (secrets are not included)" },
      { name: "restore", term: "restore [options]", description: "rebuild a stopped node's database from a backup, verifying it (audit chain included) before it is put in place" },
    ],
    load: async () => (await import("./commands/backup.js")).registerBackup,
  },
  {
    commands: [{ name: "log", term: "log", description: "the node's transparency log" }],
    load: async () => (await import("./commands/log.js")).registerLog,
  },
];

/** The top-level command named on the command line (`help NAME` names NAME), if any. */
export function commandNamed(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith("-"));
  return words[0] === "help" ? words[1] : words[0];
}

/**
 * Registers every command on `program`: the one `args` names in full (its
 * module imported), the others as listing entries that carry only their name
 * and description, so that help, suggestions and unknown-command errors stay
 * as they are.
 */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const wanted = commandNamed(args);
  const terms = new Map<string, string>();
  for (const mod of COMMAND_MODULES) {
    if (mod.commands.some((c) => c.name === wanted)) {
      (await mod.load())(program);
      continue;
    }
    for (const c of mod.commands) {
      program.command(c.name).description(c.description);
      terms.set(c.name, c.term);
    }
  }
  const plain = new Help();
  program.configureHelp({ subcommandTerm: (cmd) => terms.get(cmd.name()) ?? plain.subcommandTerm(cmd) });
}
