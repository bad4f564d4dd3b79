import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSecrets } from "../../src/config/secrets.js";
import { readManifestFile, verifyManifest } from "../../src/identity/manifest.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { isAlive, stopProcesses } from "../../src/testnet/processes.js";
import { eventually } from "../helpers/eventually.js";
import { TestClient } from "../helpers/grpc-client.js";
import { cli, runCli } from "../helpers/node-process.js";
import { tempDir } from "../helpers/temp.js";

interface Contract {
  nodes: { institution_id: string; grpc_addr: string; http_addr: string; api_key: string; pid: number }[];
  manifest: string;
  committee: string[];
  committee_threshold: number;
}

const children = new Set<ChildProcess>();

/** Runs a CLI command to completion; killed (and failing) if it outlives `timeoutMs`. */
async function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runCli(args);
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  clearTimeout(timer);
  children.delete(child);
  return { code, stdout, stderr };
}

/** Processes whose command line mentions `dir`, read from /proc. */
function processesUnder(dir: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmdline.includes(dir)) found.push({ pid: Number(entry), cmdline });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** The state letter of /proc/PID/stat (R, S, Z, …); undefined once the pid is gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.charAt(stat.lastIndexOf(")") + 2);
  } catch {
    return undefined;
  }
}

/** Pids whose parent is `ppid`, from /proc/PID/stat. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === ppid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** The HOLDERS table of a rendered report: institution id → status. */
function holdersTable(stdout: string): Record<string, string> {
  const lines = stdout.split("\n");
  const start = lines.indexOf("INSTITUTIONS ASKED");
  expect(start, stdout).toBeGreaterThan(-1);
  const rows: Record<string, string> = {};
  // Past the column headings: "  Name (id)  Outcome  N ms ..."
  for (const line of lines.slice(start + 2)) {
    const m = /^ {2}.*?\(([a-z0-9-]+)\)\s+([A-Z][a-z]+(?:, no data)?)\s+\d+ ms\s/.exec(line);
    if (!m) break;
    rows[m[1]!] = m[2]!;
  }
  return rows;
}

describe("creditmesh testnet up / down (CLI)", () => {
  const tmp = tempDir("cm-testnet-cli-");
  const dir = path.join(tmp.dir, "net");
  let contract: Contract | undefined;

  afterAll(async () => {
    for (const c of children) c.kill("SIGKILL");
    // Whatever a failed test left behind: the recorded pids, and any process started with this directory.
    const pids = new Set([...(contract?.nodes.map((n) => n.pid) ?? []), ...processesUnder(tmp.dir).map((p) => p.pid)]);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    tmp.remove();
  });

  it("up: exits 0 once every node is ready, prints a report with three OK holders and writes testnet.json", { timeout: 120_000 }, async () => {
    const up = await run(["testnet", "up", "--nodes", "3", "--dir", dir], 110_000);
    const file = path.join(dir, "testnet.json");
    if (existsSync(file)) contract = JSON.parse(readFileSync(file, "utf8")) as Contract;
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
    expect(contract).toBeDefined();
    const c = contract!;

    expect(c.nodes).toHaveLength(3);
    for (const n of c.nodes) {
      expect(Object.keys(n)).toEqual(expect.arrayContaining(["institution_id", "grpc_addr", "http_addr", "api_key", "pid"]));
      expect(n.http_addr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(n.institution_id).toMatch(/^[a-z0-9][a-z0-9-]+$/);
      expect(n.grpc_addr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(Number.isInteger(n.pid)).toBe(true);
      expect(isAlive(n.pid), `pid ${n.pid} of ${n.institution_id}`).toBe(true);
    }
    const ids = c.nodes.map((n) => n.institution_id);
    expect(new Set(ids).size).toBe(3);
    // Subject tokens come from a 2-of-3 committee: no member's secrets hold a token key of the whole network.
    expect({ committee: c.committee, threshold: c.committee_threshold }).toEqual({ committee: ids, threshold: 2 });
    for (const id of ids) {
      const secrets = readSecrets(path.join(dir, id, "secrets.json"));
      expect({ tokenKey: secrets.tokenKey, localTokenKey: secrets.localTokenKey, share: typeof secrets.tokenKeyShare }).toEqual({ tokenKey: undefined, localTokenKey: undefined, share: "string" });
    }

    expect(holdersTable(up.stdout)).toEqual(Object.fromEntries(ids.map((id) => [id, "Answered"])));
    expect(up.stdout).toContain("3/3 holders answered.");

    // The operator key `verify` needs is printed, and each "query more" command runs as printed, at its node.
    const printedKey = /Operator public key.*:\n {2}([0-9a-f]{64})$/m.exec(up.stdout)?.[1];
    const queries = up.stdout.split("\n").filter((l) => l.startsWith("  npx creditmesh report "));
    expect(queries.map((l) => /--addr (\S+)/.exec(l)?.[1]).sort()).toEqual(c.nodes.map((n) => n.grpc_addr).sort());
    for (const line of queries) {
      const args = [...line.trim().matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(2);
      const res = await cli(args);
      expect(res.code, `${line}\n${res.stderr}`).toBe(0);
      expect(res.stdout).toContain("SCORE");
    }

    // The manifest is the operator-signed one listing exactly these institutions.
    const operator = NodeKey.fromSeed(Buffer.from(readFileSync(path.join(dir, "operator.key"), "utf8").trim(), "hex"));
    const manifest = verifyManifest(await readManifestFile(c.manifest), operator.publicKey);
    expect(printedKey).toBe(Buffer.from(operator.publicKey).toString("hex"));
    expect(manifest.members.map((m) => m.institutionId).sort()).toEqual([...ids].sort());

    // Each api_key works on its node's gRPC address, and each node sees all three members connected.
    for (const n of c.nodes) {
      const client = new TestClient(n.grpc_addr, n.api_key);
      try {
        const s = await client.unary("getNodeStatus", {}, 5_000);
        expect(s.institutionId).toBe(n.institution_id);
        expect(s.peerId).toBe(manifest.members.find((m) => m.institutionId === n.institution_id)!.peerId);
        expect(Number(s.accounts), `${n.institution_id} was seeded`).toBeGreaterThan(0);
        // The seeded records are in the node's transparency log, whose checkpoint its HTTP port serves.
        const note = await eventually(`${n.institution_id} serves a checkpoint`, async () => {
          const res = await fetch(`http://${n.http_addr}/checkpoint`);
          return res.status === 200 ? await res.text() : undefined;
        });
        const [origin, size] = note.split("\n");
        expect(origin).toBe(n.institution_id);
        expect(Number(size)).toBeGreaterThan(0);
        expect((s.members as { institutionId: string; connected: boolean }[]).map((m) => [m.institutionId, m.connected]).sort()).toEqual(
          ids.map((id) => [id, true]).sort(),
        );
      } finally {
        client.close();
      }
    }

    // `testnet status`: a line per node, each routing to both other members by their filters once they are fetched.
    const status = await eventually("every node routes by both other members' filters", async () => {
      const res = await run(["testnet", "status", "--dir", dir], 20_000);
      const lines = res.stdout.split("\n").filter((l) => / pid \d+ /.test(l));
      return lines.length === 3 && lines.every((l) => l.includes("members connected 3/3  filters route 2/2")) ? lines : undefined;
    }, 30_000, 1_000);
    expect(status.map((l) => l.split(" ")[0]).sort()).toEqual([...ids].sort());
    // `status --format text` at one node: a row per other member, routed by its filter.
    const first = c.nodes[0]!;
    const text = await run(["status", "--addr", first.grpc_addr, "--api-key", first.api_key, "--format", "text"], 20_000);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${first.institution_id}  peer 12D3KooW\\w+  version `));
    const rows = text.stdout.split("\n").filter((l) => ids.some((id) => id !== first.institution_id && l.startsWith(`${id} `)));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatch(/ yes +\d+ +\d+ +\d+ (s|min) ago +by filter/);
  });

  it("an exited node that init has not reaped yet counts as stopped", { timeout: 15_000 }, async () => {
    // `sleep 0.2` becomes a zombie: its parent execs into a sleep that never waits for it.
    const parent = spawn("/bin/sh", ["-c", "sleep 0.2 & exec sleep 30"], { stdio: "ignore" });
    children.add(parent);
    try {
      let zombie: number | undefined;
      for (let i = 0; i < 100 && zombie === undefined; i++) {
        await new Promise((r) => setTimeout(r, 50));
        zombie = childrenOf(parent.pid!).find((pid) => processState(pid) === "Z");
      }
      expect(zombie, "no zombie child appeared").toBeDefined();
      expect(() => process.kill(zombie!, 0)).not.toThrow();
      expect(isAlive(zombie!)).toBe(false);
      expect(isAlive(parent.pid!)).toBe(true);
      // Returns although the pid still exists (a stopped node must not be waited for forever).
      await stopProcesses([zombie!], 1_000);
    } finally {
      parent.kill("SIGKILL");
      children.delete(parent);
    }
  });

  it("down: exits 0 and leaves no process of that network behind", { timeout: 60_000 }, async () => {
    expect(contract, "testnet up must have written testnet.json").toBeDefined();
    const pids = contract!.nodes.map((n) => n.pid);
    expect(processesUnder(dir).map((p) => p.pid).sort()).toEqual([...pids].sort());

    const down = await run(["testnet", "down", "--dir", dir], 50_000);
    expect(down.code, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(down.stdout).toContain("stopped 3 node process(es)");
    for (const pid of pids) {
      // Gone, or exited and waiting for init to reap it (the nodes are detached: init is their parent now).
      if (processState(pid) === "Z") continue;
      expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow(expect.objectContaining({ code: "ESRCH" }));
    }
    expect(processesUnder(dir)).toEqual([]);
  });
});
