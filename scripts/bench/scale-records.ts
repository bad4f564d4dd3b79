/**
 * `npm run bench:scale` part 2: report p50 as the records each member holds
 * grow (issue 14: p50 at 1M records per member ≤ 1.2 × p50 at 10k). One
 * network of `members` members per record count, each network in one node
 * host process; every member is furnished before the network starts through
 * its own gRPC ingest (ScaleNetwork.preload: validation, PII encryption,
 * subject index, record-version leaves, synced batches), then reports about
 * the same borrowers alternate between the networks in rounds, so that both
 * see the same load from the rest of the machine.
 *
 * Besides latency, each network's host CPU per report is measured over the
 * same rounds: it does not depend on the share of the cores the run got.
 * A host's CPU while the other network takes its turn is its background
 * rate; less that rate, what is left is the reports' own CPU.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { Record as WireRecord } from "../../src/gen/creditmesh/v1/records.js";
import type { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import { generatePortfolios, portfolioFiller, type PortfolioBorrower } from "../../src/synthetic/index.js";
import type { NodeClient } from "../../src/testnet/node-client.js";
import { ScaleNetwork } from "../../src/testnet/scale-network.js";
import { makeTempDir, readProcCpuMs, readProcMemory, toMB } from "./common.js";
import { round, summarize } from "./stats.js";

export interface RecordsBorrower extends PortfolioBorrower {
  consentId?: string;
}

export interface RecordsOptions {
  /** Records held per member, one network each; the first is the base of the ratio. */
  counts: readonly number[];
  members: number;
  borrowersPerMember: number;
  /** Reports per network. */
  reports: number;
  /** Writes a CPU profile of each network's host to DIR/records-<count>/ when it stops; the log says when the measured rounds ran. */
  profileDir?: string;
  log(line: string): void;
}

/** What the run shares with the members part (scripts/bench/scale.ts). */
export interface RecordsDriver {
  /** Grants the consents at the lender, waits until routing is ready and warms its connections up. */
  prepare(net: ScaleNetwork, borrowers: RecordsBorrower[], label: string): Promise<NodeClient>;
  reportOf(lender: NodeClient, b: RecordsBorrower): Promise<CreditReport>;
  /** Why a report is wrong for the borrower, if it is. */
  check(report: CreditReport, b: RecordsBorrower): string | undefined;
}

/** Bytes under a directory (a member's LevelDB and log). */
function bytesUnder(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? bytesUnder(p) : e.isFile() ? statSync(p).size : 0;
  }
  return total;
}

/** Furnishes every member of `net`: its portfolio accounts first, then filler (portfolioFiller) up to `count` records; two members at a time (two cores). */
async function seed(net: ScaleNetwork, own: Map<string, WireRecord[]>, count: number, log: (line: string) => void): Promise<number> {
  const t = Date.now();
  let loaded = 0;
  const queue = [...net.ids];
  await Promise.all([0, 1].map(async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const mine = own.get(id)!;
      const rest = Math.max(0, count - mine.length);
      const started = Date.now();
      const accepted = await net.preload(id, (function* () {
        if (mine.length) yield mine;
        yield* portfolioFiller(`${id}-${count}`, rest);
      })());
      if (accepted !== mine.length + rest) throw new Error(`${id}: ${accepted} of ${mine.length + rest} records accepted`);
      loaded += accepted;
      if (count >= 100_000) log(`  ${id}: ${accepted} records in ${Date.now() - started} ms`);
    }
  }));
  const ms = Date.now() - t;
  log(`${count} records per member: ${loaded} records furnished to ${net.ids.length} members in ${ms} ms (${Math.round((loaded / ms) * 1000)} records/s)`);
  return ms;
}

export async function runRecords(opts: RecordsOptions, driver: RecordsDriver): Promise<Record<string, number>[]> {
  const { counts, members, log } = opts;
  const temps = await Promise.all(counts.map((n) => makeTempDir(`creditmesh-bench-scale-records-${n}-`)));
  const nets: ScaleNetwork[] = [];
  try {
    const borrowers: RecordsBorrower[][] = [];
    const seedMs: number[] = [];
    const started: number[] = [];
    const diskMB: number[] = [];
    for (const [i, count] of counts.entries()) {
      // Shared-key tokens: a member furnished alone (p2p off) cannot reach a
      // token committee, and would tokenize under a key of its own that the
      // network never uses. The holder's work per query, which is what grows
      // with the records held, does not depend on where tokens come from.
      const net = await ScaleNetwork.create({
        dir: temps[i]!.dir,
        members,
        processes: 1,
        networkId: `creditmesh-scale-records-${count}`,
        tokens: "legacy",
        ...(opts.profileDir ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${path.join(path.resolve(opts.profileDir), `records-${count}`)}`] } : {}),
      });
      nets.push(net);
      // The same borrowers in every network (seeded by the member index, not the network), so the reports compared are alike.
      const data = generatePortfolios({ members: net.ids, borrowers: members * opts.borrowersPerMember, seed: "scale-records" });
      borrowers.push(data.borrowers);
      seedMs.push(await seed(net, data.records, count, log));
      diskMB.push(toMB(net.layout.nodes.reduce((sum, n) => sum + bytesUnder(n.dir), 0) / members));
      const t = Date.now();
      await net.start();
      started.push(t);
      log(`${count} records per member: ${members} members up in ${Date.now() - t} ms`);
      await driver.prepare(net, data.borrowers, `${count} records`);
    }
    // The consents were granted per network; reports alternate between networks in rounds of ~1/5 of the run.
    const latencies: number[][] = counts.map(() => []);
    const cpuMs: number[] = counts.map(() => 0);
    // Each host's CPU while the other networks take their turn: its own background work (checkpoints, filter deltas, witnessing, LevelDB compaction), per ms.
    const idleCpuMs: number[] = counts.map(() => 0);
    const idleMs: number[] = counts.map(() => 0);
    const busyMs: number[] = counts.map(() => 0);
    const hostCpu = () => nets.map((n) => readProcCpuMs(n.hosts[0]!.pid) ?? NaN);
    const failed: string[][] = counts.map(() => []);
    const lenders = nets.map((n) => n.client(n.ids[0]!));
    const perRound = Math.ceil(opts.reports / 5);
    for (let done = 0; done < opts.reports; done += perRound) {
      for (const [k, lender] of lenders.entries()) {
        const cpu0 = hostCpu();
        const since = Date.now();
        for (let i = done; i < Math.min(opts.reports, done + perRound); i++) {
          const b = borrowers[k]![i % borrowers[k]!.length]!;
          const t = performance.now();
          const r = await driver.reportOf(lender, b);
          latencies[k]!.push(performance.now() - t);
          const problem = driver.check(r, b);
          if (problem) failed[k]!.push(problem);
        }
        const cpu1 = hostCpu();
        const ms = Date.now() - since;
        for (const j of counts.keys()) {
          if (j === k) {
            cpuMs[j]! += cpu1[j]! - cpu0[j]!;
            busyMs[j]! += ms;
          } else {
            idleCpuMs[j]! += cpu1[j]! - cpu0[j]!;
            idleMs[j]! += ms;
          }
        }
        // Seconds since the host was spawned: the windows to read a profile over.
        if (opts.profileDir) log(`${counts[k]} records: reports ${done}.. in host seconds ${((since - started[k]!) / 1000).toFixed(0)}-${((Date.now() - started[k]!) / 1000).toFixed(0)}`);
      }
    }
    for (const [k, f] of failed.entries()) if (f.length) log(`${counts[k]} records: ${f.length} reports failed the check; first: ${f[0]}`);
    return counts.map((count, k) => ({
      recordsPerMember: count,
      members,
      p50Ms: round(summarize(latencies[k]!).p50, 2),
      p99Ms: round(summarize(latencies[k]!).p99, 2),
      hostCpuMsPerReport: round(cpuMs[k]! / latencies[k]!.length, 2),
      // Less the host's background rate over the same time: what the reports themselves cost (NaN with one network).
      hostCpuMsPerReportNet: round((cpuMs[k]! - (idleCpuMs[k]! / idleMs[k]!) * busyMs[k]!) / latencies[k]!.length, 2),
      hostIdleCpuPercent: round((idleCpuMs[k]! / idleMs[k]!) * 100, 1),
      seedSeconds: round(seedMs[k]! / 1000, 1),
      diskMBPerMember: diskMB[k]!,
      hostRssMB: toMB(readProcMemory(nets[k]!.hosts[0]!.pid)?.rss ?? 0),
      failedChecks: failed[k]!.length,
    }));
  } finally {
    for (const n of nets) await n.stop();
    for (const t of temps) await t.remove();
  }
}
