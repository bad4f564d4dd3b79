import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { call, connect, type NodeConnection } from "../cli/client.js";
import { isoDate } from "../clock.js";
import { CreditMeshError } from "../errors.js";
import { Purpose } from "../gen/creditmesh/v1/common.js";
import type { CreditReport } from "../gen/creditmesh/v1/report.js";
import { generateNetworkData, institutionRecords } from "../synthetic/index.js";
import type { NetworkLayout } from "./layout.js";
import { TestNetwork } from "./network.js";
import { isAlive, stopProcesses } from "./processes.js";

/** The contract other tools read (DESIGN §5). */
export interface TestnetFile {
  /** `http_addr`: the node's HTTP port (Prometheus `/metrics`, the transparency log's `/checkpoint` and `/tile/…`). */
  nodes: { institution_id: string; grpc_addr: string; http_addr: string; api_key: string; pid: number; config: string; log: string }[];
  manifest: string;
  operator_key: string;
  /** The subject-token evaluators (DESIGN §5), and how many of them a token needs. */
  committee: string[];
  committee_threshold: number;
}

export interface UpOptions {
  dir: string;
  nodes: number;
  seed: boolean;
  seedValue: number;
  borrowers: number;
  log?: (line: string) => void;
}

export function testnetFile(dir: string): string {
  return path.join(path.resolve(dir), "testnet.json");
}

export function readTestnet(dir: string): TestnetFile | undefined {
  const file = testnetFile(dir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as TestnetFile) : undefined;
}

/**
 * Creates keys, configs and a signed manifest under `dir`, starts one process
 * per institution, waits until every node is connected to every other, and
 * (unless told not to) seeds synthetic borrowers.
 */
/** Delta interval of a test network's filters: short, so new data is routed within seconds. */
const TESTNET_FILTER_DELTA_MS = 1_000;

export async function testnetUp(opts: UpOptions): Promise<{ file: TestnetFile; layout: NetworkLayout; seeded?: SeedResult }> {
  const log = opts.log ?? (() => undefined);
  const existing = readTestnet(opts.dir);
  if (existing?.nodes.some((n) => isAlive(n.pid))) {
    throw new CreditMeshError("CONFLICT", `a test network is already running in ${opts.dir}; run \`creditmesh testnet down --dir ${opts.dir}\` first`);
  }
  if (opts.nodes < 2 || opts.nodes > 32) throw new CreditMeshError("VALIDATION_FAILED", "--nodes: from 2 to 32", { field: "nodes" });
  // Only a directory that held a test network (or nothing) is wiped.
  if (existsSync(opts.dir) && readdirSync(opts.dir).length > 0 && !existing) {
    throw new CreditMeshError("CONFLICT", `${opts.dir} exists and is not a test network directory; choose another --dir`);
  }
  rmSync(opts.dir, { recursive: true, force: true });
  const net = new TestNetwork({
    dir: opts.dir,
    nodes: opts.nodes,
    persistent: true,
    waitConnected: false,
    metrics: true,
    // Test networks only until production committees exist (README "Holder filters").
    configOverrides: { filters: { enabled: true, deltaIntervalMs: TESTNET_FILTER_DELTA_MS } },
  });
  await net.start();
  const layout = net.layout;
  log(`network ${layout.networkId}: ${layout.nodes.length} institutions under ${layout.dir}`);
  log(`subject-token committee: ${layout.committeeThreshold} of ${layout.committee.join(", ")} (no member holds a network-wide token key)`);
  const file: TestnetFile = {
    nodes: net.nodes.map((n) => ({
      institution_id: n.institutionId,
      grpc_addr: n.grpcAddr,
      http_addr: `127.0.0.1:${n.metricsPort!}`,
      api_key: n.apiKey,
      pid: n.pid,
      config: n.configFile,
      log: n.logFile,
    })),
    manifest: layout.manifestFile,
    operator_key: layout.operatorKeyFile,
    committee: layout.committee,
    committee_threshold: layout.committeeThreshold,
  };
  try {
    for (const n of net.nodes) log(`  ${n.institutionId.padEnd(8)} pid ${n.pid}  gRPC ${n.grpcAddr}  http ${n.metricsPort!}  peer ${n.peerId}`);
    writeFileSync(testnetFile(opts.dir), JSON.stringify(file, null, 2) + "\n");
    await net.waitConnected();
    log("every node is connected to every other member");
    const seeded = opts.seed ? await seedNetwork(net, opts.seedValue, opts.borrowers, log) : undefined;
    // The seeded subjects reach the other members' routing with the next filter delta: wait for it
    // (a delta lost on the way leaves a gap, and a member with a gap is asked), so the first report sees them.
    if (seeded) await new Promise((r) => setTimeout(r, 2 * TESTNET_FILTER_DELTA_MS + 500));
    net.detach();
    return { file, layout, seeded };
  } catch (err) {
    await net.stop({ keepDir: true });
    throw err;
  }
}

export async function testnetDown(dir: string): Promise<number> {
  const file = readTestnet(dir);
  if (!file) return 0;
  const pids = file.nodes.map((n) => n.pid).filter(isAlive);
  await stopProcesses(pids);
  return pids.length;
}

function nodeConnection(n: TestnetFile["nodes"][number]): NodeConnection {
  return connect({ addr: n.grpc_addr, apiKey: n.api_key, config: n.config });
}

export interface SeedResult {
  asOf: string;
  records: number;
  /** Borrowers to show: the first is multi-lending, the second delinquent. */
  borrowers: { idNumber: string; name: string; profile: string }[];
}

/** Furnishes reproducible synthetic histories to every node. */
export async function seedNetwork(net: TestNetwork, seed: number, borrowers: number, log: (l: string) => void): Promise<SeedResult> {
  const asOf = isoDate(new Date());
  const data = generateNetworkData(seed, { institutions: net.nodes.map((n) => n.institutionId), borrowers, asOf });
  let total = 0;
  for (const n of net.nodes) {
    const records = institutionRecords(data.institutions[n.institutionId]!);
    const accepted = await n.client.submitRecords(records);
    if (accepted !== records.length) {
      throw new CreditMeshError("INTERNAL", `${n.institutionId} rejected ${records.length - accepted} synthetic records`);
    }
    total += accepted;
    log(`  seeded ${n.institutionId}: ${accepted} records`);
  }
  return { asOf, records: total, borrowers: data.borrowers.map((b) => ({ idNumber: b.idNumber, name: b.name, profile: b.profile })) };
}

/** Records the borrower's consent at the lender node and pulls the unified report. */
export async function demoReport(
  lender: TestnetFile["nodes"][number],
  borrower: { idNumber: string; name: string },
  purpose = Purpose.LOAN_ORIGINATION,
): Promise<{ report: CreditReport; consentId: string }> {
  const conn = nodeConnection(lender);
  try {
    const subject = { idType: 1, idNumber: borrower.idNumber, name: borrower.name, phone: "" };
    const now = Date.now();
    const consent = await call(conn, conn.client.grantConsent, {
      subject,
      purpose,
      validFrom: new Date(now - 60_000),
      validUntil: new Date(now + 30 * 24 * 3600 * 1000),
      evidenceRef: `testnet-authorization-${now}`,
    });
    const report = await call(conn, conn.client.getCreditReport, { subject, purpose, consentId: consent.consentId, asOf: "", deadlineMs: 0 });
    return { report, consentId: consent.consentId };
  } finally {
    conn.close();
  }
}
