import { readdirSync } from "node:fs";
import { Command, Help } from "commander";
import { describe, expect, it } from "vitest";
import { COMMAND_MODULES, commandNamed, registerCommands } from "../../../src/cli/command-table.js";

const help = new Help();

describe("the lazily loaded command table", () => {
  it.each(COMMAND_MODULES.map((m) => [m.commands.map((c) => c.name).join("+"), m] as const))(
    "%s: its module registers exactly the listed names, terms and descriptions",
    async (_name, mod) => {
      const program = new Command("creditmesh");
      (await mod.load())(program);
      const registered = program.commands.map((c) => ({ name: c.name(), term: help.subcommandTerm(c), description: c.description() }));
      expect(registered).toEqual(mod.commands);
    },
  );

  it("lists every command that a module under src/cli/commands/ registers (a new one needs its entry)", async () => {
    const dir = new URL("../../../src/cli/commands/", import.meta.url);
    const program = new Command("creditmesh");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const mod = (await import(new URL(file, dir).href)) as Record<string, unknown>;
      for (const [name, register] of Object.entries(mod)) {
        if (name.startsWith("register") && typeof register === "function") (register as (p: Command) => void)(program);
      }
    }
    const listed = COMMAND_MODULES.flatMap((m) => m.commands.map((c) => c.name));
    expect(program.commands.map((c) => c.name()).sort()).toEqual([...listed].sort());
  });

  it("lists every command in the same help whichever one is loaded", async () => {
    const listing = async (args: string[]) => {
      const program = new Command("creditmesh");
      await registerCommands(program, args);
      return program.helpInformation();
    };
    const none = await listing([]);
    expect(none).toContain("ingest [options] <file>");
    for (const args of [["status"], ["help", "verify"], ["restore", "--help"]]) expect(await listing(args)).toBe(none);
  });

  it("names the command to load from the first word, or the word after help", () => {
    expect(commandNamed(["--help"])).toBeUndefined();
    expect(commandNamed(["testnet", "up", "--nodes", "4"])).toBe("testnet");
    expect(commandNamed(["help", "report"])).toBe("report");
  });
});
