/**
 * bench:report's answer-proof mode: the same concurrent reports with every
 * node restarted on `tlog.answerProofs: false` and then back on `true`, so
 * the two throughputs are measured in the same run, one after the other.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { NodeClient } from "../../src/testnet/node-client.js";
import { NodeClient as Client } from "../../src/testnet/node-client.js";
import type { TestNetwork } from "../../src/testnet/network.js";
import { readProcCpuMs } from "./common.js";
import { runConcurrent } from "./floor.js";

export interface ProofModeRun {
  answerProofs: boolean;
  reports: number;
  reportsPerSec: number;
  /** CPU time per report: the lender's process, each holder's on average, this client process. */
  cpuMsPerReport: { lender: number; holderEach: number; client: number };
}

function cpuNow(net: TestNetwork): number[] {
  return [...net.nodes.map((n) => readProcCpuMs(n.pid) ?? NaN), readProcCpuMs("self") ?? NaN];
}

/** Restarts every node with tlog.answerProofs set as given (configs edited in place), and waits until all are connected. */
async function restartWith(net: TestNetwork, answerProofs: boolean): Promise<void> {
  for (const n of [...net.nodes].reverse()) await net.stopNode(n.institutionId);
  for (const n of net.nodes) {
    const config = JSON.parse(readFileSync(n.configFile, "utf8")) as { tlog?: Record<string, unknown> };
    config.tlog = { ...config.tlog, answerProofs };
    writeFileSync(n.configFile, JSON.stringify(config, null, 2));
  }
  for (const n of net.nodes) await net.startNode(n.institutionId);
  await net.waitConnected();
}

/**
 * Without proofs, then with them again: `reports` concurrent reports from
 * `concurrency` clients each time, through `report(client, index)`. Leaves
 * the network running with proofs on.
 */
export async function measureAnswerProofModes(
  net: TestNetwork,
  opts: { concurrency: number; reports: number; report: (client: NodeClient, index: number) => Promise<void> },
): Promise<ProofModeRun[]> {
  const runs: ProofModeRun[] = [];
  for (const answerProofs of [false, true]) {
    await restartWith(net, answerProofs);
    const lender = net.nodes[0]!;
    const clients = Array.from({ length: opts.concurrency }, () => new Client(lender.grpcAddr, lender.apiKey, { separateConnection: true }));
    try {
      // Warm every channel (and the restarted nodes' caches) before the clock starts.
      await Promise.all(clients.map((c, w) => opts.report(c, w)));
      const before = cpuNow(net);
      const run = await runConcurrent(opts.concurrency, opts.reports, (worker, i) => opts.report(clients[worker]!, opts.concurrency + i));
      const used = cpuNow(net).map((ms, i) => (ms - before[i]!) / opts.reports);
      const holders = used.slice(1, -1);
      runs.push({
        answerProofs,
        reports: opts.reports,
        reportsPerSec: (opts.reports / run.elapsedMs) * 1000,
        cpuMsPerReport: { lender: used[0]!, holderEach: holders.reduce((a, b) => a + b, 0) / holders.length, client: used.at(-1)! },
      });
    } finally {
      for (const c of clients) c.close();
    }
  }
  return runs;
}
