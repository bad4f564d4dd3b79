import type { Command } from "commander";
import { loadConfig } from "../../config/load.js";
import { createLogger } from "../../logger.js";
import { createMetrics } from "../../metrics.js";
import { CreditNode } from "../../node/credit-node.js";
import { explainStartFailure } from "./start.js";

const START_CONCURRENCY = 4;

/** What a parent holding this process's IPC channel may ask (src/testnet/processes.ts startNodeHost). */
type HostRequest = { type: "metrics"; id: number };

/**
 * Runs several nodes in one process, each with its own config (store, key,
 * ports, metrics registry): how a network of a hundred members fits on a
 * small machine for scale tests. Each node prints the same "ready" line as
 * `start`; signals stop them all, at once.
 */
export function registerHost(program: Command): void {
  program
    .command("host")
    .description("run several nodes in one process until SIGINT/SIGTERM (scale tests)")
    .requiredOption("-c, --config <file...>", "one node config (JSON) per node")
    .action(async (opts: { config: string[] }) => {
      const nodes: CreditNode[] = [];
      let stopping = false;
      // All at once: the nodes share nothing but the process, and one after the other 25 nodes on a
      // busy host took longer than a parent's grace period (their CPU profiles were lost with the kill).
      const stopAll = async (): Promise<number> => {
        const results = await Promise.allSettled(nodes.map((node) => node.stop()));
        return results.some((r) => r.status === "rejected") ? 1 : 0;
      };
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          process.stderr.write(`${signal} again: exiting now\n`);
          process.exit(130);
        }
        stopping = true;
        process.stderr.write(`${signal}: stopping ${nodes.length} nodes (again to force)\n`);
        void stopAll().then((code) => process.exit(code));
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      // A parent that dies without a signal takes its hosted nodes with it.
      process.on("disconnect", () => onSignal("SIGTERM"));
      process.on("message", (msg: HostRequest) => {
        if (msg?.type !== "metrics") return;
        void Promise.all(nodes.map(async (n) => ({ institutionId: n.config.institution.id, text: (await n.metrics?.registry.metrics()) ?? "" }))).then(
          (metrics) => process.send?.({ type: "metrics", id: msg.id, metrics }),
          (err: unknown) => process.send?.({ type: "metrics", id: msg.id, error: String(err) }),
        );
      });
      // A few at a time: a start waits on disk and on dials much of its time, but a hundred at once would all time out.
      const queue = [...opts.config];
      let failed: unknown;
      const startNext = async (): Promise<void> => {
        for (let file = queue.shift(); file !== undefined && failed === undefined; file = queue.shift()) {
          const config = loadConfig(file);
          const logger = createLogger({ level: config.log.level }).child({ institution: config.institution.id });
          // Process-wide figures (CPU, heap) would be repeated in every node's registry.
          const node = CreditNode.create({ config, logger, metrics: createMetrics({ processMetrics: false }) });
          nodes.push(node);
          try {
            await node.start();
          } catch (err) {
            failed ??= explainStartFailure(err, config, file);
            return;
          }
          process.stderr.write(`CreditMesh node ${node.config.institution.id} ready: gRPC ${node.grpcAddress}, peer id ${node.key.peerId}\n`);
        }
      };
      await Promise.all(Array.from({ length: START_CONCURRENCY }, startNext));
      if (failed !== undefined) {
        await stopAll();
        throw failed;
      }
      process.stderr.write(`host ready: ${nodes.length} nodes\n`);
    });
}
