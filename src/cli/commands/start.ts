import type { Command } from "commander";
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { databasePath, DEFAULT_CONFIG_FILE, loadConfig, secretsPath } from "../../config/load.js";
import type { NodeConfig } from "../../config/schema.js";
import { CreditMeshError } from "../../errors.js";
import { CreditNode } from "../../node/credit-node.js";

export function registerStart(program: Command): void {
  program
    .command("start")
    .description("run a node until SIGINT/SIGTERM")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .action(async (opts: { config: string }) => {
      const config = loadConfig(opts.config);
      // What a failed first start created is removed again: a retry with a corrected config must not find a stray identity.
      const created = [databasePath(config), secretsPath(config), path.resolve(config.storage.dataDir)].filter((p) => !existsSync(p));
      const node = CreditNode.create({ config });
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
      try {
        await node.start();
      } catch (err) {
        for (const p of created) rmSync(p, { recursive: true, force: true });
        throw explainStartFailure(err, config, opts.config);
      }
      // Said only once the node is up: a failed first start removes the file again.
      if (node.secretsCreated) {
        process.stderr.write(`created secrets file ${node.secretsFile} (owner-only; keep it safe)\n`);
      }
      process.stderr.write(
        `CreditMesh node ${node.config.institution.id} ready: gRPC ${node.grpcAddress}, peer id ${node.key.peerId}\n` +
          `secrets: ${node.secretsFile}\n`,
      );
    });
}

/** A port already taken, named by the setting that asked for it. */
export function explainStartFailure(err: unknown, config: NodeConfig, configFile: string): unknown {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  const text = `${e?.message ?? ""}`;
  if (e?.code !== "EADDRINUSE" && !/EADDRINUSE/.test(text)) return err;
  const port = e.port ?? Number(/:(\d+)\b(?!.*:\d)/.exec(text)?.[1]);
  const settings: [string, number][] = [
    ["grpc.port", config.grpc.port],
    ["metrics.port", config.metrics.port],
    ...config.p2p.listen.map((a, i): [string, number] => [`p2p.listen[${i}]`, Number(/\/tcp\/(\d+)/.exec(a)?.[1])]),
  ];
  const setting = settings.find(([, p]) => p === port)?.[0];
  const which = setting ? `${setting} in ${configFile}` : "a port in the config";
  return new CreditMeshError(
    "UNAVAILABLE",
    `port ${Number.isFinite(port) ? port : "?"} is already in use (${which}): stop the process holding it, or set another port there; nothing was created`,
    { cause: err },
  );
}
