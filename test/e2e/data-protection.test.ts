import { status } from "@grpc/grpc-js";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databasePath, parseConfig } from "../../src/config/load.js";
import { readSecrets } from "../../src/config/secrets.js";
import { HolderStatus, IdType, Purpose, type SubjectId } from "../../src/gen/creditmesh/v1/common.js";
import type { PurgeSubjectResponse, RotateDataKeyResponse } from "../../src/gen/creditmesh/v1/node.js";
import type { Record as WireRecord } from "../../src/gen/creditmesh/v1/records.js";
import { createLogger } from "../../src/logger.js";
import { CreditNode } from "../../src/node/credit-node.js";
import { accountRefFor } from "../../src/records/ingest.js";
import { openStores } from "../../src/store/index.js";
import { normalizeSubject } from "../../src/subject/normalize.js";
import { LocalTokenKey } from "../../src/subject/local-token-key.js";
import { TestClient } from "../helpers/grpc-client.js";
import { LogCapture } from "../helpers/in-process-node.js";
import { startInProcessNetwork, type InProcessNetwork } from "../helpers/in-process-network.js";
import { findInDatabase, scanLevelDb } from "../helpers/leveldb-scan.js";
import { cli } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

const DAY = 24 * 3600 * 1000;
const SURNAMES = ["欧阳", "司马", "上官", "诸葛", "东方", "慕容", "令狐", "皇甫", "尉迟", "公孙"];
const GIVEN = ["晓岚", "若曦", "靖宇", "梓涵", "沐晨", "思远", "雨桐", "浩然", "芷若", "天佑"];

interface Borrower {
  subject: SubjectId;
  accountIds: string[];
}

/** Borrower n: a valid resident ID, a distinctive name, phone and account ids (all sealed at rest). */
function borrower(n: number, accounts = 1): Borrower {
  return {
    subject: {
      idType: IdType.CN_RESIDENT_ID,
      idNumber: residentId("19880412", n % 1000, n < 1000 ? "310104" : "440305"),
      name: SURNAMES[n % 10]! + GIVEN[Math.floor(n / 10) % 10]! + (n >= 100 ? String.fromCharCode(0x4e00 + (n % 500)) : ""),
      phone: `139${String(10_000_000 + n).slice(-8)}`,
    },
    accountIds: Array.from({ length: accounts }, (_, k) => `PROTECT-${n}-${k}`),
  };
}

function records(b: Borrower): WireRecord[] {
  return b.accountIds.flatMap((accountId) => [
    account({ accountId, subject: b.subject }),
    repayment({ accountId, installment: 1 }),
    repayment({ accountId, installment: 2, dueOn: "2026-03-05", paidOn: "2026-03-05", balanceAfter: "100000" }),
  ]);
}

/** A node on a data directory that outlives it, so that its files can be read after it stops and it can start again. */
class NodeOnDisk {
  node?: CreditNode;
  client?: TestClient;
  readonly logs = new LogCapture();
  constructor(readonly dataDir: string) {}

  get config() {
    return parseConfig({
      institution: { id: "protect-bank", name: "Protect Bank" },
      storage: { dataDir: this.dataDir },
      grpc: { host: "127.0.0.1", port: 0 },
      metrics: { enabled: false },
      log: { level: "debug" },
    });
  }
  get dbDir(): string {
    return databasePath(this.config);
  }
  get secrets() {
    return readSecrets(path.join(this.dataDir, "secrets.json"));
  }
  token(subject: SubjectId): string {
    return new LocalTokenKey(this.secrets.localTokenKey!).token(normalizeSubject(subject));
  }
  async start(): Promise<TestClient> {
    this.node = CreditNode.create({ config: this.config, logger: createLogger({ level: "debug", destination: this.logs }) });
    await this.node.start();
    this.client = new TestClient(this.node.grpcAddress, this.node.localApiKey);
    return this.client;
  }
  async stop(): Promise<void> {
    this.client?.close();
    await this.node?.stop();
    this.client = undefined;
    this.node = undefined;
  }
}

function rpc<Res>(client: TestClient, method: "purgeSubject" | "rotateDataKey", req: object, timeoutMs = 120_000): Promise<Res> {
  return client.unary(method, req as never, timeoutMs);
}

async function grant(client: TestClient, subject: SubjectId): Promise<string> {
  const consent = await client.unary("grantConsent", {
    subject,
    purpose: Purpose.LOAN_ORIGINATION,
    validFrom: new Date(Date.now() - DAY),
    validUntil: new Date(Date.now() + 30 * DAY),
    evidenceRef: "sha256:5e1f0c9a",
  });
  return consent.consentId;
}

function report(client: TestClient, subject: SubjectId, consentId: string) {
  return client.unary("getCreditReport", { subject, purpose: Purpose.LOAN_ORIGINATION, consentId, asOf: "2026-04-20", deadlineMs: 0 });
}

/** Every string of a borrower that must never be on disk in clear. */
function personal(b: Borrower): string[] {
  return [b.subject.idNumber, b.subject.name, b.subject.phone, ...b.accountIds];
}

describe("data protection at rest (in-process node, LevelDB files read back as bytes)", () => {
  const tmp = tempDir("cm-protect-e2e-");
  afterAll(() => tmp.remove());

  it("(a) raw ID numbers, names, phones and account ids appear in no database file, in the log or in the tables", async () => {
    const n = new NodeOnDisk(path.join(tmp.dir, "a"));
    const people = Array.from({ length: 20 }, (_, i) => borrower(i));
    const client = await n.start();
    const acks = await client.submit(people.map((b) => ({ records: records(b) })));
    expect(acks.every((a) => a.rejected.length === 0)).toBe(true);
    await n.stop();

    // First with everything still in the write-ahead log, then after a restart has turned it into a table.
    for (const phase of ["write-ahead log", "table files"]) {
      if (phase === "table files") {
        await n.start();
        await n.stop();
      }
      const scan = scanLevelDb(n.dbDir);
      for (const b of people) {
        for (const secret of personal(b)) expect(findInDatabase(scan, secret, { alsoRawEverywhere: true }), `${phase}: ${secret}`).toEqual([]);
        // Positive control: the subject token is found by the same scan.
        const hits = findInDatabase(scan, n.token(b.subject));
        expect(hits.length, phase).toBeGreaterThan(0);
        if (phase === "table files") expect(hits.some((h) => h.file.endsWith(".ldb") || h.file.endsWith(".sst"))).toBe(true);
      }
      // Values are read in clear where they are not personal: the furnishing consent reference.
      expect(findInDatabase(scan, "auth-2026-0001").length).toBeGreaterThan(0);
      if (phase === "table files") expect(scan.stats.tables).toBeGreaterThan(0);
      else expect(scan.stats.wals).toBeGreaterThan(0);
    }
    for (const b of people) for (const secret of personal(b)) expect(n.logs.text).not.toContain(secret);
  });

  it("(b) rotates the data key while reports are served; every record stays readable and none is left under the old key", async () => {
    const n = new NodeOnDisk(path.join(tmp.dir, "b"));
    const people = Array.from({ length: 3000 }, (_, i) => borrower(i));
    const client = await n.start();
    for (let i = 0; i < people.length; i += 500) {
      const acks = await client.submit([{ records: people.slice(i, i + 500).flatMap(records) }]);
      expect(acks[0]!.rejected).toEqual([]);
    }
    const asked = people.slice(0, 10);
    const consents = await Promise.all(asked.map((b) => grant(client, b.subject)));

    // Each report served is marked with the phase of the rotation it finished in: events, not timestamps,
    // so a slow machine changes how many land in each phase, never the outcome.
    type Phase = "before" | "rotating" | "after";
    let phase = "before" as Phase;
    let stop = false;
    const served: Phase[] = [];
    const errors: unknown[] = [];
    let onServed = (): void => undefined;
    // Resolves once a report finished in `wanted` (or one failed: the expectations below then say how).
    const servedIn = (wanted: Phase) =>
      new Promise<void>((resolve) => {
        onServed = () => {
          if (served.includes(wanted) || errors.length > 0) resolve();
        };
        onServed();
      });
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await report(client, asked[i % asked.length]!.subject, consents[i % asked.length]!);
          if (r.tradelines.length !== 1 || r.holders[0]?.status !== HolderStatus.OK) errors.push(r.holders);
          served.push(phase);
        } catch (err) {
          errors.push(err);
        }
        onServed();
      }
    })();
    await servedIn("before");
    phase = "rotating";
    const rotated = await rpc<RotateDataKeyResponse>(client, "rotateDataKey", {});
    phase = "after";
    await servedIn("after");
    stop = true;
    await loop;
    expect(rotated).toEqual({ keyId: "k2", resealed: String(people.length), retiredKeyIds: ["k1"] });
    expect(errors).toEqual([]);
    expect(served).toContain("rotating");
    expect(n.secrets.dataKeys.map((k) => k.id)).toEqual(["k2"]);

    // The operator command does the same.
    const run = await cli(["keys", "rotate", "--addr", n.node!.grpcAddress, "--api-key", n.node!.localApiKey]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ keyId: "k3", resealed: people.length, retiredKeyIds: ["k2"] });
    expect((await report(client, asked[0]!.subject, consents[0]!)).tradelines).toHaveLength(1);
    await n.stop();

    // Read every account back through the store with the key set now in the secrets file.
    const secrets = n.secrets;
    expect(secrets.dataKeys.map((k) => k.id)).toEqual(["k3"]);
    const stores = await openStores(n.dbDir, { dataKeys: secrets.dataKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, "hex") })) });
    try {
      const refKey = Buffer.from(secrets.accountRefKey, "hex");
      const refs = people.map((b) => accountRefFor(refKey, b.accountIds[0]!));
      const stored = await stores.records.getAccounts(refs);
      stored.forEach((a, i) => {
        expect(a, people[i]!.accountIds[0]).toBeDefined();
        expect(stores.cipher.keyIdOf(a!.pii)).toBe("k3");
        const opened = stores.cipher.openPii(a!.pii, a!.accountRef);
        expect([opened.idNumber, opened.name, opened.accountId]).toEqual([people[i]!.subject.idNumber, people[i]!.subject.name, people[i]!.accountIds[0]]);
      });
      expect((await stores.records.accountsAfter("", 1_000_000)).filter((a) => stores.cipher.keyIdOf(a.pii) !== "k3")).toEqual([]);
    } finally {
      await stores.close();
    }
  }, 120_000);

  it("(c) after a purge the node answers NO_DATA, and no file holds the subject's ID number, name or token", async () => {
    const n = new NodeOnDisk(path.join(tmp.dir, "c"));
    const target = borrower(7, 2);
    const others = [borrower(8), borrower(9)];
    const client = await n.start();
    await client.submit([{ records: [target, ...others].flatMap(records) }]);
    const consentId = await grant(client, target.subject);
    expect((await report(client, target.subject, consentId)).tradelines).toHaveLength(2);
    const otherConsent = await grant(client, others[0]!.subject);
    // Some of it in table files too: a restart flushes the log into a table.
    await n.stop();
    const token = n.token(target.subject);
    expect(findInDatabase(scanLevelDb(n.dbDir), token).length).toBeGreaterThan(0);
    await n.start();

    const run = await cli([
      "subject",
      "purge",
      "--id-number",
      target.subject.idNumber,
      "--name",
      target.subject.name,
      "--request-ref",
      "ERASURE-2026-0007",
      "--addr",
      n.node!.grpcAddress,
      "--api-key",
      n.node!.localApiKey,
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ subjectToken: token, accounts: 2, repayments: 4, inquiries: 1, consents: 1, disputes: 0 });
    expect(await n.client!.unary("getNodeStatus", {})).toMatchObject({ accounts: "2", subjects: "2" });
    // The purged subject's consent went with it.
    await expect(report(n.client!, target.subject, consentId)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await n.stop();

    const scan = scanLevelDb(n.dbDir);
    for (const secret of personal(target)) expect(findInDatabase(scan, secret, { alsoRawEverywhere: true }), secret).toEqual([]);
    // The audit trail keeps the token in its SUBJECT_PURGED entry (and earlier query entries); nothing else does.
    expect(findInDatabase(scan, token, { exceptKeyPrefixes: ["!audit!"] })).toEqual([]);
    expect(findInDatabase(scan, token).length).toBeGreaterThan(0);
    expect(findInDatabase(scan, n.token(others[0]!.subject), { exceptKeyPrefixes: ["!audit!"] }).length).toBeGreaterThan(0);

    // A new authorization after the purge: the node has nothing on the subject.
    const again = await n.start();
    const fresh = await grant(again, target.subject);
    const after = await report(again, target.subject, fresh);
    expect(after.tradelines).toEqual([]);
    expect(after.holders).toEqual([expect.objectContaining({ institutionId: "protect-bank", status: HolderStatus.NO_DATA })]);
    expect((await report(again, others[0]!.subject, otherConsent)).tradelines).toHaveLength(1);
    await n.stop();
  }, 120_000);
});

describe("purge across a network: each holder answers NO_DATA after its own purge", () => {
  let net: InProcessNetwork;
  const person = borrower(42);
  beforeAll(async () => {
    net = await startInProcessNetwork({ nodes: 2 });
  }, 60_000);
  afterAll(async () => {
    await net?.stop();
  });

  it("answers OK from both holders, then NO_DATA from each one that purged", async () => {
    const [a, b] = net.running;
    for (const [m, k] of [[a!, 0], [b!, 1]] as const) {
      const acks = await m.client!.submit([{ records: records({ ...person, accountIds: [`NET-${k}`] }) }]);
      expect(acks[0]!.rejected).toEqual([]);
    }
    const statusOf = (r: { holders: { institutionId: string; status: HolderStatus }[] }) =>
      Object.fromEntries(r.holders.map((h) => [h.institutionId, h.status]));
    const idA = a!.layout.institutionId;
    const idB = b!.layout.institutionId;
    const consent = await grant(a!.client!, person.subject);
    expect(statusOf(await report(a!.client!, person.subject, consent))).toEqual({ [idA]: HolderStatus.OK, [idB]: HolderStatus.OK });

    const purgedAtB = await rpc<PurgeSubjectResponse>(b!.client!, "purgeSubject", { subject: person.subject, requestRef: "ERASURE-NET-1" });
    expect(purgedAtB).toMatchObject({ accounts: 1, repayments: 2 });
    const partly = await report(a!.client!, person.subject, consent);
    expect(statusOf(partly)).toEqual({ [idA]: HolderStatus.OK, [idB]: HolderStatus.NO_DATA });
    expect(partly.tradelines.map((t: { institutionId: string }) => t.institutionId)).toEqual([idA]);

    const purgedAtA = await rpc<PurgeSubjectResponse>(a!.client!, "purgeSubject", { subject: person.subject, requestRef: "ERASURE-NET-1" });
    expect(purgedAtA).toMatchObject({ accounts: 1, repayments: 2, consents: 1 });
    const fresh = await grant(a!.client!, person.subject);
    const none = await report(a!.client!, person.subject, fresh);
    expect(statusOf(none)).toEqual({ [idA]: HolderStatus.NO_DATA, [idB]: HolderStatus.NO_DATA });
    expect(none.tradelines).toEqual([]);
  }, 60_000);

  it("refuses a purge without a request reference, or by a key without the OPERATOR role", async () => {
    const [a] = net.running;
    await expect(rpc(a!.client!, "purgeSubject", { subject: person.subject, requestRef: " " })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    const { addApiKey } = await import("../../src/config/secrets.js");
    const lender = new TestClient(a!.node!.grpcAddress, addApiKey(a!.node!.secretsFile, ["LENDER", "FURNISHER"]));
    try {
      await expect(rpc(lender, "purgeSubject", { subject: person.subject, requestRef: "ERASURE-X" })).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
      });
      await expect(rpc(lender, "rotateDataKey", {})).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    } finally {
      lender.close();
    }
  });
});
