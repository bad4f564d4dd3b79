/**
 * bench:report's answer-proof mode: the same concurrent reports with every
 * node restarted on `tlog.answerProofs: false`, then `true`, alternating
 * (off, on, off, on by default), so that load on the machine that drifts
 * during the run weighs on both sides of the ratio alike.
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
 * `pairs` times without proofs, then with them: `reports` concurrent reports
 * from `concurrency` clients in all per mode, through `report(client, index)`.
 * Returns one run per mode, without first, summed over its rounds. Leaves the
 * network running with proofs on.
 */
export async function measureAnswerProofModes(
  net: TestNetwork,
  opts: {
    concurrency: number;
    reports: number;
    pairs?: number;
    /** Reports made after each restart before the clock starts, so that both modes are measured with the JIT warm. */
    warmup?: number;
    report: (client: NodeClient, index: number) => Promise<void>;
  },
): Promise<[ProofModeRun, ProofModeRun]> {
  const pairs = Math.max(1, opts.pairs ?? 2);
  const perRound = Math.max(opts.concurrency, Math.floor(opts.reports / pairs));
  const totals = [false, true].map((answerProofs) => ({ answerProofs, reports: 0, elapsedMs: 0, cpu: [] as number[] }));
  for (let round = 0; round < 2 * pairs; round++) {
    const total = totals[round % 2]!;
    const answerProofs = total.answerProofs;
    await restartWith(net, answerProofs);
    const lender = net.nodes[0]!;
    const clients = Array.from({ length: opts.concurrency }, () => new Client(lender.grpcAddr, lender.apiKey, { separateConnection: true }));
    try {
      // Warm every channel (and the restarted nodes' caches) before the clock starts.
      await Promise.all(clients.map((c, w) => opts.report(c, w)));
      const warmup = opts.warmup ?? 0;
      if (warmup > 0) await runConcurrent(opts.concurrency, warmup, (worker, i) => opts.report(clients[worker]!, i));
      const before = cpuNow(net);
      const run = await runConcurrent(opts.concurrency, perRound, (worker, i) => opts.report(clients[worker]!, round * perRound + opts.concurrency + i));
      const used = cpuNow(net).map((ms, i) => ms - before[i]!);
      total.reports += perRound;
      total.elapsedMs += run.elapsedMs;
      total.cpu = used.map((ms, i) => ms + (total.cpu[i] ?? 0));
    } finally {
      for (const c of clients) c.close();
    }
  }
  const [off, on] = totals.map((t): ProofModeRun => {
    const per = t.cpu.map((ms) => ms / t.reports);
    const holders = per.slice(1, -1);
    return {
      answerProofs: t.answerProofs,
      reports: t.reports,
      reportsPerSec: (t.reports / t.elapsedMs) * 1000,
      cpuMsPerReport: { lender: per[0]!, holderEach: holders.reduce((a, b) => a + b, 0) / holders.length, client: per.at(-1)! },
    };
  });
  return [off!, on!];
}
