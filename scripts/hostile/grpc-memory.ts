/**
 * What one oversized request costs a node: peak RSS of a fresh node process
 * after each kind of request, read from /proc/<pid>/status (VmHWM).
 *
 *   node --import tsx scripts/hostile/grpc-memory.ts [--parallel 10]
 *
 * Each scenario runs against its own fresh node, so each peak is its own.
 */
import "../../src/polyfill.js";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { readSecrets } from "../../src/config/secrets.js";
import { spawnNode, stopProcesses, waitForNode } from "../../src/testnet/processes.js";
import { tempDir } from "../../test/helpers/temp.js";

const MiB = 1024 * 1024;
const parallel = Number(process.argv[process.argv.indexOf("--parallel") + 1] || 10);

function procKb(pid: number, field: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** A SubmitRecordsRequest of `bytes` bytes made only of empty records (2 bytes each). */
function emptyRecords(bytes: number): Buffer {
  const buf = Buffer.alloc(bytes - (bytes % 2));
  for (let i = 0; i < buf.length; i += 2) buf[i] = 0x0a;
  return buf;
}

type Outcome = { code: number; details: string };

function submitRaw(addr: string, apiKey: string | undefined, body: Buffer): Promise<Outcome> {
  const client = new Client(addr, credentials.createInsecure(), { "grpc.max_send_message_length": 64 * MiB });
  const md = new Metadata();
  if (apiKey) md.set("authorization", `Bearer ${apiKey}`);
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest("/creditmesh.v1.CreditNode/SubmitRecords", (b: Buffer) => b, (b: Buffer) => b, md);
    call.on("data", () => undefined);
    call.on("status", (s) => (client.close(), resolve({ code: s.code, details: s.details })));
    call.on("error", () => undefined);
    call.write(body);
    call.end();
  });
}

function unaryRaw(addr: string, apiKey: string, method: string, body: Buffer): Promise<Outcome> {
  const client = new Client(addr, credentials.createInsecure(), { "grpc.max_send_message_length": 64 * MiB });
  const md = new Metadata();
  md.set("authorization", `Bearer ${apiKey}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(`/creditmesh.v1.CreditNode/${method}`, (b: Buffer) => b, (b: Buffer) => b, body, md, (err) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : { code: 0, details: "OK" });
    });
  });
}

/** A GrantConsent request whose evidence_ref (field 5) is `bytes` long. */
function bigGrant(bytes: number): Buffer {
  const value = Buffer.alloc(bytes, 0x61);
  const len: number[] = [];
  let n = value.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([0x2a, ...len]), value]);
}

async function scenario(name: string, run: (addr: string, apiKey: string) => Promise<Outcome[]>): Promise<Record<string, unknown>> {
  const tmp = tempDir("cm-grpc-mem-");
  const config = path.join(tmp.dir, "node.json");
  writeFileSync(
    config,
    JSON.stringify({
      institution: { id: "mem-bank", name: "Mem Bank" },
      storage: { dataDir: path.join(tmp.dir, "data") },
      grpc: { host: "127.0.0.1", port: 0 },
      metrics: { enabled: false },
      retention: { enabled: false },
      log: { level: "warn" },
    }),
  );
  const log = path.join(tmp.dir, "node.log");
  const pid = spawnNode(config, log);
  try {
    const info = await waitForNode(config, pid, 60_000, log);
    const apiKey = readSecrets(path.join(tmp.dir, "data", "secrets.json")).localApiKey;
    await new Promise((r) => setTimeout(r, 500));
    const idleRssMb = Math.round(procKb(pid, "VmRSS") / 1024);
    const started = Date.now();
    const outcomes = await run(info.grpcAddr, apiKey);
    const row = {
      scenario: name,
      idleRssMb,
      peakRssMb: Math.round(procKb(pid, "VmHWM") / 1024),
      ms: Date.now() - started,
      outcome: [...new Set(outcomes.map((o) => `${o.code} ${o.details.slice(0, 70)}`))].join(" | "),
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    await stopProcesses([pid]);
    tmp.remove();
  }
}

const body = emptyRecords(16 * MiB - 64);
const rows = [
  await scenario("SubmitRecords 16 MiB of empty records, no API key", (a) => Promise.all([submitRaw(a, undefined, body)])),
  await scenario("SubmitRecords 16 MiB of empty records, valid key", (a, k) => Promise.all([submitRaw(a, k, body)])),
  await scenario(`SubmitRecords 16 MiB of empty records x${parallel} in parallel, valid key`, (a, k) =>
    Promise.all(Array.from({ length: parallel }, () => submitRaw(a, k, body))),
  ),
  await scenario("GrantConsent with a 8 MiB evidence_ref, valid key", (a, k) => Promise.all([unaryRaw(a, k, "GrantConsent", bigGrant(8 * MiB))])),
];
console.table(rows.map(({ outcome: _o, ...r }) => r));
