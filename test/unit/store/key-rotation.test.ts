import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/logger.js";
import { DataCipher, type DataKey } from "../../../src/store/cipher.js";
import { KeyRotation, type DataKeyFile } from "../../../src/store/key-rotation.js";
import type { StoredAccount } from "../../../src/store/types.js";
import { dataKey, openFixture, pii, RecordingAudit, sealedAccount, type StoreFixture } from "./data-protection-fixture.js";

/** The secrets file's data keys, in memory: what a restart would load. */
class MemoryKeyFile implements DataKeyFile {
  next = 2;
  constructor(public keys: DataKey[]) {}
  add(): DataKey {
    const key = { id: `k${this.next++}`, key: randomBytes(32) };
    this.keys = [key, ...this.keys];
    return key;
  }
  retire(ids: readonly string[]): void {
    this.keys = this.keys.filter((k) => !ids.includes(k.id));
  }
}

const ACCOUNTS = 600;
let f: StoreFixture;
let file: MemoryKeyFile;
let audit: RecordingAudit;

beforeEach(async () => {
  const k1 = dataKey("k1");
  f = await openFixture([k1]);
  file = new MemoryKeyFile([k1]);
  audit = new RecordingAudit();
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => sealedAccount(f, ref(i), `tok-${i % 50}`, {}, i));
  await f.stores.records.writeRecords(accounts, accounts.map(() => undefined), []);
});

afterEach(async () => {
  await f.close();
});

function ref(i: number): string {
  return `ref-${String(i).padStart(5, "0")}`;
}

function rotation(batchSize = 100): KeyRotation {
  return new KeyRotation({ batchSize }, { cipher: f.stores.cipher, records: f.stores.records, keyFile: file, audit, logger: silentLogger() });
}

async function allAccounts(): Promise<StoredAccount[]> {
  return f.stores.records.accountsAfter("", 1_000_000);
}

/** Opens every account's identity with `cipher` and checks it is the one written. */
async function expectAllReadable(cipher: DataCipher): Promise<void> {
  const accounts = await allAccounts();
  for (const a of accounts) {
    const n = Number(a.accountRef.slice(4));
    expect(cipher.openPii(a.pii, a.accountRef)).toEqual(pii(n));
  }
}

describe("KeyRotation", () => {
  it("re-seals every account under a new key, retires the old one, and records KEY_ROTATED", async () => {
    const k1 = f.keys[0]!;
    const result = await rotation().rotate("operator-key");
    expect(result).toEqual({ keyId: "k2", resealed: ACCOUNTS, retiredKeyIds: ["k1"] });
    expect(file.keys.map((k) => k.id)).toEqual(["k2"]);
    expect(f.stores.cipher.keyIds).toEqual(["k2"]);
    for (const a of await allAccounts()) expect(f.stores.cipher.keyIdOf(a.pii)).toBe("k2");
    expect(audit.entries).toEqual([{ action: "KEY_ROTATED", actor: "operator-key", details: { key_id: "k2", resealed: String(ACCOUNTS), retired_key_ids: "k1" } }]);

    // After a restart with only what the secrets file now holds, every record opens.
    await f.reopen(file.keys);
    await expectAllReadable(f.stores.cipher);
    // The retired key opens nothing any more.
    for (const a of await allAccounts()) {
      expect(() => new DataCipher([k1]).openPii(a.pii, a.accountRef)).toThrow(expect.objectContaining({ code: "CRYPTO_DECRYPT_FAILED" }));
    }
  });

  it("keeps serving reads and writes during the pass, and no write brings the old key back", async () => {
    // An ingest batch sealed before the rotation began, written while it runs.
    const oldCipher = new DataCipher([f.keys[0]!]);
    const late = Array.from({ length: 40 }, (_, i) => ({ ...sealedAccount(f, ref(ACCOUNTS + i), "tok-late", {}, ACCOUNTS + i), pii: oldCipher.sealPii(pii(ACCOUNTS + i), Buffer.from(ref(ACCOUNTS + i))) }));
    // Updates of existing accounts, also sealed under the old key.
    const updates = [ref(1), ref(599)].map((r) => ({ ...sealedAccount(f, r, "tok-1", { creditLimit: 99 }, Number(r.slice(4))), pii: oldCipher.sealPii(pii(Number(r.slice(4))), Buffer.from(r)) }));

    const rotating = rotation(50).rotate("op");
    let reads = 0;
    const reader = (async () => {
      for (let i = 0; i < 200; i++) {
        const [a] = await f.stores.records.getAccounts([ref((i * 37) % ACCOUNTS)]);
        expect(f.stores.cipher.openPii(a!.pii, a!.accountRef).accountId).toBe(`ACC-${(i * 37) % ACCOUNTS}`);
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    await new Promise((r) => setImmediate(r));
    await f.stores.records.writeRecords(late, late.map(() => undefined), []);
    await f.stores.records.writeRecords(updates, updates.map(() => undefined), []);
    const result = await rotating;
    await reader;
    expect(reads).toBe(200);
    expect(result.retiredKeyIds).toEqual(["k1"]);

    const accounts = await allAccounts();
    expect(accounts).toHaveLength(ACCOUNTS + 40);
    for (const a of accounts) expect(f.stores.cipher.keyIdOf(a.pii)).toBe("k2");
    expect(accounts.find((a) => a.accountRef === ref(599))?.creditLimit).toBe(99);
    await f.reopen(file.keys);
    await expectAllReadable(f.stores.cipher);
  });

  it("keeps every key in the file if the pass is interrupted, and a later rotation finishes the job", async () => {
    const records = f.stores.records;
    const original = records.resealPii.bind(records);
    let batches = 0;
    records.resealPii = async (refs) => {
      if (++batches === 3) throw new Error("killed");
      return original(refs);
    };
    await expect(rotation(100).rotate("op")).rejects.toThrow("killed");
    records.resealPii = original;
    expect(file.keys.map((k) => k.id)).toEqual(["k2", "k1"]);
    expect(audit.entries).toEqual([]);

    // A restart loads both keys; records under either open.
    await f.reopen(file.keys);
    const ids = new Set((await allAccounts()).map((a) => f.stores.cipher.keyIdOf(a.pii)));
    expect(ids).toEqual(new Set(["k1", "k2"]));
    await expectAllReadable(f.stores.cipher);

    const again = await new KeyRotation({}, { cipher: f.stores.cipher, records: f.stores.records, keyFile: file, audit, logger: silentLogger() }).rotate("op");
    expect(again).toEqual({ keyId: "k3", resealed: ACCOUNTS, retiredKeyIds: ["k2", "k1"] });
    expect(file.keys.map((k) => k.id)).toEqual(["k3"]);
    await f.reopen(file.keys);
    await expectAllReadable(f.stores.cipher);
  });

  it("refuses a second rotation while one runs", async () => {
    const r = rotation();
    const first = r.rotate("op");
    await expect(r.rotate("op")).rejects.toMatchObject({ code: "CONFLICT" });
    await first;
  });
});
