import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecrets } from "../../src/config/secrets.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { NameCheck, type CreditReport, type Tradeline } from "../../src/gen/creditmesh/v1/report.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { isAlive } from "../../src/testnet/processes.js";
import { createLocalCommittee } from "../../src/testnet/token-committee.js";
import { cli, runCli } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";

/**
 * `creditmesh tokens migrate` on real node processes: a legacy network (one
 * shared HMAC token key, no committee) holds data and consents; the operator
 * makes its three members the token committee, and each node is migrated in
 * turn (the first one killed with SIGKILL mid-way and resumed). Every report
 * asked with the consents recorded before is the same report afterwards, and
 * a consent recorded now finds the same tradelines under the committee's token.
 */
const SUBJECTS = 14;
const ids = Array.from({ length: SUBJECTS }, (_, i) => residentId("19850101", 200 + i, "110105"));
const name = (i: number) => `王${"一二三四五六七八九十甲乙丙丁"[i]}`;
const subject = (i: number) => ({ idType: IdType.CN_RESIDENT_ID, idNumber: ids[i]!, name: name(i), phone: "" });
const SHOWN = [0, 5, 13];
const LENDER = "bank-a";

const comparable = (t: Tradeline[]) => t.map(({ institutionId, accountRef, status, balance, paymentHistory, productType, creditLimit }) => ({ institutionId, accountRef, status, balance, paymentHistory, productType, creditLimit }))
  .sort((a, b) => `${a.institutionId}${a.accountRef}`.localeCompare(`${b.institutionId}${b.accountRef}`));

describe("tokens migrate: HMAC-token data re-indexed to the committee's tokens, interrupted once", () => {
  const net = new TestNetwork({ nodes: 3, legacyTokenKey: true });
  const consents = new Map<number, string>();
  const before = new Map<number, CreditReport>();
  const asOf = new Date().toISOString().slice(0, 10);
  const children = new Set<ChildProcess>();

  const report = async (i: number, consentId: string): Promise<CreditReport> =>
    net.client(LENDER).unary("getCreditReport", { subject: subject(i), purpose: Purpose.LOAN_ORIGINATION, consentId, asOf, deadlineMs: 10_000 });
  const grant = async (i: number): Promise<string> =>
    (await net.client(LENDER).unary("grantConsent", {
      subject: subject(i), purpose: Purpose.LOAN_ORIGINATION, validFrom: new Date(Date.now() - 60_000), validUntil: new Date(Date.now() + 7 * 86_400_000), evidenceRef: `sha256:migrate-${i}`,
    })).consentId;
  const migrate = (id: string, extra: string[] = []) => cli(["tokens", "migrate", "--config", net.node(id).configFile, "--batch", "3", ...extra]);

  beforeAll(async () => {
    await net.start();
    // Every subject at bank-a; every other one also at cfc-b, every third at ecom-c.
    for (const [k, id] of ["bank-a", "cfc-b", "ecom-c"].entries()) {
      const records = ids.flatMap((idNumber, i) => (i % (k + 1) === 0 ? [account({ accountId: `${id}-${i}`, idNumber, name: name(i) }), repayment({ accountId: `${id}-${i}` })] : []));
      expect(await net.client(id).submitRecords(records)).toBe(records.length);
    }
    for (const i of SHOWN) {
      consents.set(i, await grant(i));
      before.set(i, await report(i, consents.get(i)!));
    }
  }, 180_000);

  afterAll(async () => {
    for (const c of children) if (c.pid && isAlive(c.pid)) c.kill("SIGKILL");
    await net.stop();
  });

  it("before: the reports are complete, the names match and every member holds the shared key", () => {
    for (const i of SHOWN) {
      const r = before.get(i)!;
      expect(r.complete).toBe(true);
      expect(r.nameCheck).toBe(NameCheck.NAME_MATCHES);
      expect(r.tradelines.length).toBe(1 + (i % 2 === 0 ? 1 : 0) + (i % 3 === 0 ? 1 : 0));
    }
    const keys = net.nodes.map((n) => readSecrets(path.join(n.dir, "secrets.json")).tokenKey);
    expect(new Set(keys).size).toBe(1);
  });

  it("refuses, naming the committee, when too few evaluators can be reached, and migrates nothing", { timeout: 120_000 }, async () => {
    for (const n of net.nodes) await net.stopNode(n.institutionId);
    await createLocalCommittee(net.dir, ["bank-a", "cfc-b", "ecom-c"], 2);
    const refused = await migrate(LENDER, ["--wait-ms", "500"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/token committee unreachable: 1 of the 2 evaluators needed connected .*committee bank-a, cfc-b, ecom-c; not connected: cfc-b, ecom-c\); nothing was migrated/);
    expect(refused.stdout).not.toMatch(/step:/);
  });

  it("migrates each node, the first one killed mid-way and resumed", { timeout: 300_000 }, async () => {
    await net.startNode("cfc-b");
    await net.startNode("ecom-c");
    // Killed once its first step is recorded.
    const first = runCli(["tokens", "migrate", "--config", net.node(LENDER).configFile, "--batch", "3"]);
    children.add(first);
    let out = "";
    await new Promise<void>((resolve, reject) => {
      first.stdout!.on("data", (d) => {
        out += d;
        if (/step:/.test(out)) {
          first.kill("SIGKILL");
          resolve();
        }
      });
      first.on("exit", (code) => reject(new Error(`migrate exited (${code}) before its first step: ${out}`)));
    });
    await new Promise((r) => first.once("exit", r));
    const resumed = await migrate(LENDER);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resuming the migration after [1-9]\d* accounts/);
    expect(resumed.stdout).toMatch(new RegExp(`migration finished: \\d+ accounts re-indexed, \\d+ already current, ${SUBJECTS} subjects aliased`));
    const total = /migration finished: (\d+) accounts re-indexed/.exec(resumed.stdout)!;
    expect(Number(total[1])).toBe(SUBJECTS);
    expect((await migrate(LENDER)).stdout).toMatch(/already migrated/);
    await net.startNode(LENDER);
    for (const id of ["cfc-b", "ecom-c"]) {
      await net.stopNode(id);
      const done = await migrate(id);
      expect(done.code, done.stderr).toBe(0);
      expect(done.stdout).toMatch(/migration finished/);
      await net.startNode(id);
    }
    await net.waitConnected();

    const audit = await cli(["audit", "export", "--config", net.node(LENDER).configFile]);
    const entries = audit.stdout.trim().split("\n").map((l) => JSON.parse(l) as { action: string; details: Record<string, string> });
    const actions = entries.map((e) => e.action).filter((a) => a.startsWith("TOKENS_MIGRATION"));
    expect(actions[0]).toBe("TOKENS_MIGRATION_STARTED");
    expect(actions.at(-1)).toBe("TOKENS_MIGRATION_FINISHED");
    expect(actions.filter((a) => a === "TOKENS_MIGRATION_PROGRESS").length).toBeGreaterThanOrEqual(Math.ceil(SUBJECTS / 3));
    expect(entries.find((e) => e.action === "TOKENS_MIGRATION_FINISHED")!.details).toMatchObject({ accounts: String(SUBJECTS), subjects: String(SUBJECTS) });
    for (const i of ids.keys()) expect(audit.stdout).not.toContain(ids[i]!);
  });

  it("every report asked with a consent recorded before is the same, and a new consent finds the same tradelines under the committee's token", { timeout: 120_000 }, async () => {
    for (const i of SHOWN) {
      const was = before.get(i)!;
      const now = await report(i, consents.get(i)!);
      expect(now.complete).toBe(true);
      expect(comparable(now.tradelines)).toEqual(comparable(was.tradelines));
      expect(now.nameCheck).toBe(NameCheck.NAME_MATCHES);

      const fresh = await report(i, await grant(i));
      expect(comparable(fresh.tradelines)).toEqual(comparable(was.tradelines));
      expect(fresh.subjectToken).not.toBe(was.subjectToken);
      expect(fresh.nameCheck).toBe(NameCheck.NAME_MATCHES);
    }
  });

  it("after --end-transition the node no longer answers under the earlier token, and no log holds an ID number", { timeout: 120_000 }, async () => {
    await net.stopNode("cfc-b");
    const ended = await migrate("cfc-b", ["--end-transition"]);
    expect(ended.stdout, ended.stderr).toMatch(/transition ended: \d+ earlier tokens no longer answered here; the legacy tokenKey was removed/);
    expect(readSecrets(path.join(net.node("cfc-b").dir, "secrets.json")).tokenKey).toBeUndefined();
    await net.startNode("cfc-b");
    await net.waitConnected();
    const r = await report(0, consents.get(0)!);
    const cfc = r.holders.find((h) => h.institutionId === "cfc-b")!;
    expect(r.tradelines.some((t) => t.institutionId === "cfc-b")).toBe(false);
    expect(cfc).toBeDefined();
    expect(r.tradelines.some((t) => t.institutionId === "bank-a")).toBe(true);
    for (const n of net.nodes) {
      const log = readFileSync(n.logFile, "utf8");
      for (const id of ids) expect(log).not.toContain(id);
    }
  });
});
