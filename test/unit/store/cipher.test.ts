import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DataCipher } from "../../../src/store/cipher.js";
import type { AccountPii } from "../../../src/store/types.js";

const k = (id: string) => ({ id, key: new Uint8Array(randomBytes(32)) });
const text = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
const pii: AccountPii = {
  accountId: "LN-2024-000123",
  idType: "CN_RESIDENT_ID",
  idNumber: "11010519491231002X",
  name: "张三",
  phone: "+8613800138000",
};

function expectDecryptFailure(fn: () => unknown): void {
  expect(fn).toThrowError(expect.objectContaining({ code: "CRYPTO_DECRYPT_FAILED" }));
}

describe("DataCipher", () => {
  it("round-trips with and without AAD, using a fresh IV each time", () => {
    const c = new DataCipher([k("k1")]);
    const plain = text("hello 世界");
    const a = c.seal(plain, text("ref-1"));
    const b = c.seal(plain, text("ref-1"));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(c.open(a, text("ref-1"))).toString()).toBe("hello 世界");
    expect(Buffer.from(c.open(c.seal(plain))).toString()).toBe("hello 世界");
    expect(c.open(c.seal(new Uint8Array(0)))).toHaveLength(0);
  });

  it("writes the documented layout", () => {
    const c = new DataCipher([k("key-7")]);
    const sealed = c.seal(text("abc"));
    expect(sealed[0]).toBe(1);
    expect(sealed[1]).toBe(5);
    expect(Buffer.from(sealed.subarray(2, 7)).toString()).toBe("key-7");
    expect(sealed.length).toBe(2 + 5 + 12 + 3 + 16);
    expect(c.keyIdOf(sealed)).toBe("key-7");
  });

  it("rejects every single-byte tamper", () => {
    const c = new DataCipher([k("k1")]);
    const sealed = c.seal(text("secret"), text("ref"));
    for (let i = 0; i < sealed.length; i++) {
      const bad = Uint8Array.from(sealed);
      bad[i] ^= 0x01;
      expectDecryptFailure(() => c.open(bad, text("ref")));
    }
  });

  it("rejects the wrong AAD, the wrong key, truncation and an unknown format", () => {
    const c = new DataCipher([k("k1")]);
    const sealed = c.seal(text("secret"), text("ref-1"));
    expectDecryptFailure(() => c.open(sealed, text("ref-2")));
    expectDecryptFailure(() => c.open(sealed));
    const sameIdOtherKey = new DataCipher([k("k1")]);
    expectDecryptFailure(() => sameIdOtherKey.open(sealed, text("ref-1")));
    expectDecryptFailure(() => new DataCipher([k("k2")]).open(sealed, text("ref-1")));
    expectDecryptFailure(() => c.open(sealed.subarray(0, 20), text("ref-1")));
    expectDecryptFailure(() => c.open(new Uint8Array(0)));
  });

  it("keeps records sealed under a retired key readable, and re-seals them under the new one", () => {
    const old = k("2025-01");
    const next = k("2026-01");
    const before = new DataCipher([old]);
    const sealed = before.seal(text("kept"), text("ref"));

    const rotated = new DataCipher([next, old]);
    expect(rotated.currentKeyId).toBe("2026-01");
    expect(Buffer.from(rotated.open(sealed, text("ref"))).toString()).toBe("kept");
    expect(rotated.needsReseal(sealed)).toBe(true);

    const resealed = rotated.reseal(sealed, text("ref"));
    expect(rotated.keyIdOf(resealed)).toBe("2026-01");
    expect(rotated.needsReseal(resealed)).toBe(false);
    expect(Buffer.from(new DataCipher([next]).open(resealed, text("ref"))).toString()).toBe("kept");
    // Once the old key is dropped, what was not re-sealed no longer opens.
    expectDecryptFailure(() => new DataCipher([next]).open(sealed, text("ref")));
  });

  it("seals PII bound to its account ref", () => {
    const c = new DataCipher([k("k1")]);
    const sealed = c.sealPii(pii, "ref-a");
    expect(c.openPii(sealed, "ref-a")).toEqual(pii);
    expectDecryptFailure(() => c.openPii(sealed, "ref-b"));
    expect(Buffer.from(sealed).includes(Buffer.from(pii.idNumber))).toBe(false);
    expect(Buffer.from(sealed).includes(Buffer.from(pii.name))).toBe(false);
  });

  it("reports authentic but malformed PII as STORE_CORRUPT", () => {
    const c = new DataCipher([k("k1")]);
    expect(() => c.openPii(c.seal(text("not json"), text("r")), "r")).toThrowError(
      expect.objectContaining({ code: "STORE_CORRUPT" }),
    );
    expect(() => c.openPii(c.seal(text('{"name":1}'), text("r")), "r")).toThrowError(
      expect.objectContaining({ code: "STORE_CORRUPT" }),
    );
  });

  it("refuses bad key configuration with the field named", () => {
    const bad = (keys: { id: string; key: Uint8Array }[], field: string) =>
      expect(() => new DataCipher(keys)).toThrowError(expect.objectContaining({ code: "CONFIG_INVALID", field }));
    bad([], "data_keys");
    bad([{ id: "k1", key: new Uint8Array(16) }], "data_keys[0].key");
    bad([{ id: "", key: new Uint8Array(32) }], "data_keys[0].id");
    bad([{ id: "x".repeat(256), key: new Uint8Array(32) }], "data_keys[0].id");
    bad([k("a"), k("a")], "data_keys[1].id");
  });

  it("is not affected by the caller reusing its key buffer", () => {
    const key = k("k1");
    const c = new DataCipher([key]);
    const sealed = c.seal(text("x"));
    key.key.fill(0);
    expect(Buffer.from(c.open(sealed)).toString()).toBe("x");
  });
});
