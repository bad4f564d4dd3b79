import { randomBytes } from "node:crypto";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { credentials, Metadata } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { newLocalTokenKey, readSecrets, writeSecrets, type Secrets } from "../../src/config/secrets.js";
import { isCreditMeshError } from "../../src/errors.js";
import { CreditNodeClient, type RotateDataKeyResponse } from "../../src/gen/creditmesh/v1/node.js";
import { silentLogger } from "../../src/logger.js";
import { CreditNode } from "../../src/node/credit-node.js";
import { TestClient } from "../helpers/grpc-client.js";
import { account } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

const tmp = tempDir("cm-hostile-secrets-");
afterAll(() => tmp.remove());

const config = parseConfig({
  institution: { id: "bound-bank", name: "Bound Bank" },
  storage: { dataDir: tmp.dir },
  grpc: { host: "127.0.0.1", port: 0 },
  metrics: { enabled: false },
  retention: { enabled: false },
});
const secretsFile = path.join(tmp.dir, "secrets.json");

async function startNode(): Promise<CreditNode> {
  const node = CreditNode.create({ config, logger: silentLogger() });
  await node.start();
  return node;
}

/** The error a start with the current secrets file ends with (undefined if it started). */
async function startError(): Promise<unknown> {
  try {
    const node = await startNode();
    await node.stop();
    return undefined;
  } catch (err) {
    return err;
  }
}

async function withAlteredSecrets(alter: (s: Secrets) => void): Promise<unknown> {
  const original = readSecrets(secretsFile);
  const altered = structuredClone(original);
  alter(altered);
  writeSecrets(secretsFile, altered);
  try {
    return await startError();
  } finally {
    writeSecrets(secretsFile, original);
  }
}

const otherKey = () => randomBytes(32).toString("hex");

function rotate(node: CreditNode): Promise<RotateDataKeyResponse> {
  const raw = new CreditNodeClient(node.grpcAddress, credentials.createInsecure());
  const md = new Metadata();
  md.set("authorization", `Bearer ${node.localApiKey}`);
  return new Promise((resolve, reject) => raw.rotateDataKey({}, md, (err, res) => (raw.close(), err ? reject(err) : resolve(res))));
}

describe("secrets are bound to the database they were first used with", () => {
  it("first start records the keys; a normal restart works", async () => {
    const node = await startNode();
    const client = new TestClient(node.grpcAddress, node.localApiKey);
    const [ack] = await client.submit([{ records: [account()] }]);
    client.close();
    expect(ack!.accepted).toBe(1);
    await node.stop();
    expect(await startError()).toBeUndefined();
  });

  it.each([
    ["tokenKey", (s: Secrets) => void (s.tokenKey = otherKey())],
    ["localTokenKey", (s: Secrets) => void (s.localTokenKey = newLocalTokenKey())],
    ["localTokenKey", (s: Secrets) => void delete s.localTokenKey],
    ["accountRefKey", (s: Secrets) => void (s.accountRefKey = otherKey())],
    ["dataKeys.k1", (s: Secrets) => void (s.dataKeys[0]!.key = otherKey())],
    ["dataKeys.k1", (s: Secrets) => void (s.dataKeys = [{ id: "k7", key: otherKey() }])],
  ])("a different %s is refused by name, and nothing is recorded", async (field, alter) => {
    const err = await withAlteredSecrets(alter);
    expect(isCreditMeshError(err, "CONFIG_INVALID")).toBe(true);
    expect((err as { field?: string }).field).toBe(field);
    expect((err as Error).message).toContain(field);
    // The original secrets still start: the refused start changed nothing.
    expect(await startError()).toBeUndefined();
  });

  it("a missing secrets file next to the database is refused, not regenerated", async () => {
    const original = readSecrets(secretsFile);
    rmSync(secretsFile);
    let err: unknown;
    try {
      CreditNode.create({ config, logger: silentLogger() });
    } catch (e) {
      err = e;
    }
    expect(isCreditMeshError(err, "CONFIG_INVALID")).toBe(true);
    expect((err as { field?: string }).field).toBe("storage.secretsFile");
    expect(existsSync(secretsFile)).toBe(false);
    writeSecrets(secretsFile, original);
  });

  it("a data key rotation updates the record: the rotated secrets start, the old ones no longer do", async () => {
    const before = readSecrets(secretsFile);
    const node = await startNode();
    const rotated = await rotate(node);
    await node.stop();
    const after = readSecrets(secretsFile);
    expect(after.dataKeys.map((k) => k.id)).toEqual([rotated.keyId]);
    expect(await startError()).toBeUndefined();

    writeSecrets(secretsFile, before);
    const err = await startError();
    expect((err as { field?: string }).field).toBe(`dataKeys.${rotated.keyId}`);
    writeSecrets(secretsFile, after);
    // A secrets file written by hand in place of the real one is refused too.
    writeFileSync(secretsFile, JSON.stringify({ ...after, tokenKey: otherKey() }), { mode: 0o600 });
    expect((await startError() as { field?: string }).field).toBe("tokenKey");
    writeSecrets(secretsFile, after);
    expect(await startError()).toBeUndefined();
  });
});
