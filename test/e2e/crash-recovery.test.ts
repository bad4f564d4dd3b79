import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { databasePath, parseConfig } from "../../src/config/load.js";
import { readSecrets } from "../../src/config/secrets.js";
import type { SubmitRecordsResponse } from "../../src/gen/creditmesh/v1/node.js";
import type { Record as WireRecord } from "../../src/gen/creditmesh/v1/records.js";
import { accountRefFor } from "../../src/records/ingest.js";
import { openStores } from "../../src/store/index.js";
import { normalizeSubject } from "../../src/subject/normalize.js";
import { LocalTokenKey } from "../../src/subject/local-token-key.js";
import { checkpointPath } from "../../src/cli/commands/ingest.js";
import { formatJsonlRecord } from "../../src/cli/record-file-write.js";
import { TestClient } from "../helpers/grpc-client.js";
import { cli, runCli, startNodeProcess, writeConfig, type NodeProcess } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

const REPAYMENTS_PER_BATCH = 49;
const REGIONS = ["110105", "310104", "440305"];

/** Batch i: one account of its own subject and its repayments, so that any partial batch is visible. */
function batch(i: number): WireRecord[] {
  const accountId = `CRASH-${i}`;
  const records: WireRecord[] = [account({ accountId, idNumber: residentId("19850101", i % 1000, REGIONS[Math.floor(i / 1000)]), termMonths: 60, creditLimit: "6000000" })];
  for (let k = 1; k <= REPAYMENTS_PER_BATCH; k++) {
    records.push(repayment({ accountId, installment: k, dueOn: "2026-02-05", balanceAfter: String(6000000 - k * 100000) }));
  }
  return records;
}

function nodeConfig(dir: string) {
  mkdirSync(dir, { recursive: true });
  return writeConfig(path.join(dir, "node.json"), {
    institution: { id: "crash-bank", name: "Crash Bank" },
    storage: { dataDir: path.join(dir, "data") },
    grpc: { host: "127.0.0.1", port: 0 },
    metrics: { enabled: false },
    log: { level: "warn" },
  });
}

/** Opens the dead node's LevelDB directly and checks every batch is whole or absent. */
async function inspect(dir: string, sent: number) {
  const config = parseConfig(JSON.parse(readFileSync(path.join(dir, "node.json"), "utf8")));
  const secrets = readSecrets(path.join(dir, "data", "secrets.json"));
  const stores = await openStores(databasePath(config), {
    dataKeys: secrets.dataKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, "hex") })),
  });
  const tokenizer = new LocalTokenKey(secrets.localTokenKey!);
  const refKey = Buffer.from(secrets.accountRefKey, "hex");
  const present = new Set<number>();
  const partial: number[] = [];
  const badIndex: number[] = [];
  try {
    for (let i = 0; i < sent; i++) {
      const ref = accountRefFor(refKey, `CRASH-${i}`);
      const [acct] = await stores.records.getAccounts([ref]);
      const reps = await stores.records.repaymentsForAccount(ref);
      const first = batch(i)[0]!.kind;
      if (first?.$case !== "account") throw new Error("batch starts with its account");
      const token = tokenizer.token(normalizeSubject(first.value.subject));
      const indexed = (await stores.records.accountsForSubject(token)).map((a) => a.accountRef);
      if (acct) present.add(i);
      if ((acct ? 1 : 0) + reps.length !== 0 && (!acct || reps.length !== REPAYMENTS_PER_BATCH)) partial.push(i);
      if (acct ? !indexed.includes(ref) : indexed.length !== 0) badIndex.push(i);
    }
    const counts = await stores.records.counts();
    return { present, partial, badIndex, counts };
  } finally {
    await stores.close();
  }
}

describe("crash safety (child process, SIGKILL)", () => {
  const tmp = tempDir("cm-crash-");
  let node: NodeProcess | undefined;
  afterAll(async () => {
    await node?.kill();
    tmp.remove();
  });

  it("keeps every acknowledged batch, no partial batch, and indexes that agree after SIGKILL mid-ingest", { timeout: 180_000 }, async () => {
    const dir = path.join(tmp.dir, "a");
    node = await startNodeProcess(nodeConfig(dir));
    const apiKey = readSecrets(path.join(dir, "data", "secrets.json")).localApiKey;
    const client = new TestClient(node.address, apiKey);
    const acked = new Set<number>();
    const TOTAL = 1500;
    let sent = 0;
    const stream = client.raw.submitRecords(client.metadata);
    const done = new Promise<void>((resolve) => {
      stream.on("data", (r: SubmitRecordsResponse) => {
        expect(r.rejected).toEqual([]);
        acked.add(Number(r.batch));
        if (acked.size === 200) void node!.kill("SIGKILL");
      });
      stream.on("error", () => resolve());
      stream.on("end", () => resolve());
    });
    for (let i = 0; i < TOTAL && node.child.exitCode === null && node.child.signalCode === null; i++) {
      sent = i + 1;
      // After the kill the stream never drains again: stop waiting when it has ended.
      if (!stream.write({ records: batch(i) })) await Promise.race([new Promise((r) => stream.once("drain", r)), done]);
    }
    await done;
    await node.exited;
    client.close();
    expect(acked.size).toBeGreaterThanOrEqual(200);
    expect(acked.size).toBeLessThan(TOTAL);

    const { present, partial, badIndex, counts } = await inspect(dir, sent);
    for (const i of acked) expect(present.has(i), `acknowledged batch ${i} is missing`).toBe(true);
    expect(partial).toEqual([]);
    expect(badIndex).toEqual([]);
    expect(counts.accounts).toBe(present.size);
    expect(counts.subjects).toBe(present.size);

    // The restarted node serves the same counts.
    node = await startNodeProcess(path.join(dir, "node.json"));
    const again = new TestClient(node.address, apiKey);
    expect(await again.unary("getNodeStatus", {})).toMatchObject({ accounts: String(present.size) });
    again.close();
    await node.stop();
    node = undefined;
  });

  it("`creditmesh ingest --resume` continues after the last acknowledged batch", { timeout: 180_000 }, async () => {
    const dir = path.join(tmp.dir, "b");
    const configFile = nodeConfig(dir);
    const file = path.join(dir, "records.jsonl");
    const BATCHES = 2500;
    const lines: string[] = [];
    for (let i = 0; i < BATCHES; i++) {
      for (const r of batch(i)) lines.push(formatJsonlRecord(r));
    }
    writeFileSync(file, lines.join("\n") + "\n");
    node = await startNodeProcess(configFile);
    const first = runCli(["ingest", file, "--config", configFile, "--batch-size", "100", "--quiet"]);
    first.stdout!.resume();
    first.stderr!.resume();
    // Kill the node once part of the file is acknowledged.
    const cp = checkpointPath(file);
    for (let t = 0; t < 3000; t++) {
      if (existsSync(cp) && JSON.parse(readFileSync(cp, "utf8")).ackedThroughLine > 10_000) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await node.kill("SIGKILL");
    const firstCode = await new Promise<number | null>((r) => (first.exitCode !== null ? r(first.exitCode) : first.on("exit", (c) => r(c))));
    expect(firstCode).not.toBe(0);
    const ackedThrough = JSON.parse(readFileSync(cp, "utf8")).ackedThroughLine as number;
    expect(ackedThrough).toBeGreaterThan(10_000);
    expect(ackedThrough).toBeLessThan(lines.length);

    node = await startNodeProcess(configFile);
    const second = await cli(["ingest", file, "--config", configFile, "--batch-size", "100", "--resume", "--quiet"]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain(`resumed after line ${ackedThrough}`);
    const accepted = Number(/accepted (\d+)/.exec(second.stdout)![1]);
    expect(accepted).toBe(lines.length - ackedThrough);
    const apiKey = readSecrets(path.join(dir, "data", "secrets.json")).localApiKey;
    const client = new TestClient(node.address, apiKey);
    expect(await client.unary("getNodeStatus", {})).toMatchObject({ accounts: String(BATCHES), subjects: String(BATCHES) });
    client.close();
    expect(existsSync(cp)).toBe(false);
    await node.stop();
    node = undefined;
  });
});
