import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataCipher } from "../../../src/store/cipher.js";
import { dataKey, openFixture, pii, repayment, sealedAccount, type StoreFixture } from "./data-protection-fixture.js";

let f: StoreFixture;

beforeEach(async () => {
  f = await openFixture();
});

afterEach(async () => {
  await f.close();
});

describe("LevelRecordStore: what purges and rotations rely on", () => {
  it("seals again, as it writes, an account sealed under a key that is no longer current", async () => {
    const { records, cipher } = f.stores;
    const before = sealedAccount(f, "ref-1", "tok-1", {}, 1);
    expect(cipher.keyIdOf(before.pii)).toBe("k1");
    cipher.useNewKey(dataKey("k2"));
    await records.writeRecords([before], [undefined], []);
    const [stored] = await records.getAccounts(["ref-1"]);
    expect(cipher.keyIdOf(stored!.pii)).toBe("k2");
    expect(cipher.openPii(stored!.pii, "ref-1")).toEqual(pii(1));
  });

  it("resealPii re-seals only what is under an older key, and only accounts that exist", async () => {
    const { records, cipher } = f.stores;
    const accounts = [sealedAccount(f, "ref-1", "tok-1", {}, 1), sealedAccount(f, "ref-2", "tok-1", {}, 2)];
    await records.writeRecords(accounts, [undefined, undefined], []);
    cipher.useNewKey(dataKey("k2"));
    expect(await records.resealPii(["ref-1", "ref-missing"])).toBe(1);
    expect(await records.resealPii(["ref-1", "ref-2"])).toBe(1);
    expect(await records.resealPii(["ref-1", "ref-2"])).toBe(0);
    const stored = await records.getAccounts(["ref-1", "ref-2"]);
    expect(stored.map((a) => cipher.keyIdOf(a!.pii))).toEqual(["k2", "k2"]);
    expect(stored.map((a) => a!.subjectToken)).toEqual(["tok-1", "tok-1"]);
    expect(await records.counts()).toEqual({ accounts: 2, subjects: 1 });
  });

  it("pages accounts and their repayments in ref order", async () => {
    const { records } = f.stores;
    const accounts = ["ref-c", "ref-a", "ref-b"].map((r, i) => sealedAccount(f, r, "tok", {}, i));
    await records.writeRecords(accounts, accounts.map(() => undefined), [repayment("ref-a", 2), repayment("ref-a", 1), repayment("ref-c", 1)]);
    expect(await records.refsAfter("", 2)).toEqual(["ref-a", "ref-b"]);
    expect(await records.refsAfter("ref-b", 2)).toEqual(["ref-c"]);
    expect((await records.accountsAfter("ref-a", 10)).map((a) => a.accountRef)).toEqual(["ref-b", "ref-c"]);
    const reps = await records.repaymentsForAccounts(["ref-a", "ref-b", "ref-c"]);
    expect([...reps.entries()].map(([r, list]) => [r, list.map((x) => x.installment)])).toEqual([
      ["ref-a", [1, 2]],
      ["ref-b", []],
      ["ref-c", [1]],
    ]);
  });

  it("destroy() with a subject token clears the whole index, even entries naming missing accounts", async () => {
    const { records, db } = f.stores;
    const accounts = [sealedAccount(f, "ref-1", "tok-a", {}, 1), sealedAccount(f, "ref-2", "tok-b", {}, 2)];
    await records.writeRecords(accounts, [undefined, undefined], [repayment("ref-1", 1)]);
    // A stray index entry (as damage outside the store could leave).
    await db.write([{ type: "put", sublevel: db.levels.subj, key: "tok-a!ref-gone", value: "" }]);
    const gone = await records.destroy([], { subjectToken: "tok-a" });
    expect(gone.accounts.map((a) => a.accountRef)).toEqual(["ref-1"]);
    expect(gone.repayments).toBe(1);
    expect(await db.levels.subj.keys().all()).toEqual(["tok-b", "tok-b!ref-2"]);
    expect(await records.counts()).toEqual({ accounts: 1, subjects: 1 });
  });

  it("deleteAccounts keeps its contract", async () => {
    const { records } = f.stores;
    const accounts = [sealedAccount(f, "ref-1", "tok-a", {}, 1), sealedAccount(f, "ref-2", "tok-a", {}, 2)];
    await records.writeRecords(accounts, [undefined, undefined], []);
    expect(await records.deleteAccounts(["ref-1", "ref-x"])).toBe(1);
    expect(await records.counts()).toEqual({ accounts: 1, subjects: 1 });
  });
});

describe("DataCipher rotation steps", () => {
  it("seals with a new key, still opens with the old one, then forgets the old one", () => {
    const k1 = dataKey("k1");
    const cipher = new DataCipher([k1]);
    const old = cipher.seal(Buffer.from("before"));
    cipher.useNewKey(dataKey("k2"));
    expect(cipher.keyIds).toEqual(["k1", "k2"]);
    expect(cipher.currentKeyId).toBe("k2");
    const fresh = cipher.seal(Buffer.from("after"));
    expect(cipher.keyIdOf(fresh)).toBe("k2");
    expect(cipher.needsReseal(old)).toBe(true);
    expect(Buffer.from(cipher.open(old)).toString()).toBe("before");
    const resealed = cipher.reseal(old);
    cipher.retireKeys(["k1"]);
    expect(cipher.keyIds).toEqual(["k2"]);
    expect(Buffer.from(cipher.open(resealed)).toString()).toBe("before");
    expect(() => cipher.open(old)).toThrow(expect.objectContaining({ code: "CRYPTO_DECRYPT_FAILED" }));
    // The caller's buffer is untouched by retirement (the cipher zeroes its own copy).
    expect(k1.key.some((b) => b !== 0)).toBe(true);
  });

  it("refuses to retire the current key or to add a key id twice", () => {
    const cipher = new DataCipher([dataKey("k1")]);
    expect(() => cipher.retireKeys(["k1"])).toThrow(expect.objectContaining({ code: "INTERNAL" }));
    expect(() => cipher.useNewKey(dataKey("k1"))).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
    expect(() => cipher.useNewKey({ id: "k9", key: new Uint8Array(16) })).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
    expect(cipher.currentKeyId).toBe("k1");
  });
});
