/**
 * One process of the scale harness (scripts/bench/scale.ts): runs several
 * CreditNodes in-process, each with its own store, key, ports and metrics
 * (real libp2p between them and with the other workers' nodes), and answers
 * the parent over the IPC channel: "ready" once its nodes are up, the sum
 * of its nodes' answered peer queries on "counters", and stops its nodes in
 * reverse order on "stop".
 */
import "../../src/polyfill.js";
import { loadConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics, type Metrics } from "../../src/metrics.js";
import { CreditNode } from "../../src/node/credit-node.js";

type FromParent = { type: "start"; configFiles: string[] } | { type: "counters" } | { type: "stop" };

const nodes: { node: CreditNode; metrics: Metrics }[] = [];
const send = (m: unknown) => process.send?.(m);

async function queriesAnswered(): Promise<number> {
  let total = 0;
  for (const { metrics } of nodes) for (const v of (await metrics.queriesAnswered.get()).values) total += v.value;
  return total;
}

async function stop(): Promise<void> {
  for (const { node } of [...nodes].reverse()) await node.stop().catch(() => undefined);
  nodes.length = 0;
}

process.on("message", (msg: FromParent) => {
  void (async () => {
    try {
      if (msg.type === "start") {
        for (const file of msg.configFiles) {
          const metrics = createMetrics({ processMetrics: false });
          const node = CreditNode.create({ config: loadConfig(file, {}), logger: createLogger({ level: "warn" }), metrics });
          nodes.push({ node, metrics });
          await node.start();
        }
        send({ type: "ready", nodes: nodes.map(({ node }) => ({ institutionId: node.config.institution.id, grpcAddr: node.grpcAddress, apiKey: node.localApiKey })) });
      } else if (msg.type === "counters") {
        send({ type: "counters", queries: await queriesAnswered() });
      } else if (msg.type === "stop") {
        await stop();
        send({ type: "stopped" });
        process.exit(0);
      }
    } catch (err) {
      send({ type: "error", message: (err as Error).message });
    }
  })();
});
process.on("disconnect", () => void stop().then(() => process.exit(0)));
