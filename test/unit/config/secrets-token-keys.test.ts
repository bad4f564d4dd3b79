import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureLocalTokenKey, generateSecrets, loadOrCreateSecrets, readSecrets, removeTokenKey, writeSecrets } from "../../../src/config/secrets.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { KeyBinding } from "../../../src/store/key-binding.js";
import { tempDir } from "../../helpers/temp.js";

let tmp: ReturnType<typeof tempDir>;
let file: string;

beforeEach(() => {
  tmp = tempDir("cm-secrets-tokens-");
  file = join(tmp.dir, "secrets.json");
});

afterEach(() => tmp.remove());

describe("token keys in the secrets file", () => {
  it("a new network member's secrets hold no token key; a node alone gets its committee-of-one key at first start, once", () => {
    expect(generateSecrets()).not.toHaveProperty("tokenKey");
    expect(generateSecrets()).not.toHaveProperty("localTokenKey");
    const alone = loadOrCreateSecrets(file, { localTokenKey: true });
    expect(alone.created).toBe(true);
    expect(alone.secrets.localTokenKey).toMatch(/^0101[0-9a-f]{64}$/);
    expect(loadOrCreateSecrets(file, { localTokenKey: true }).secrets.localTokenKey).toBe(alone.secrets.localTokenKey);
  });

  it("a legacy file keeps its shared key and gets no local key at start; ensureLocalTokenKey adds one, removeTokenKey drops the shared one", () => {
    const tokenKey = randomBytes(32).toString("hex");
    writeSecrets(file, generateSecrets({ tokenKey }));
    expect(loadOrCreateSecrets(file, { localTokenKey: true }).secrets).toMatchObject({ tokenKey });
    expect(readSecrets(file).localTokenKey).toBeUndefined();
    const local = ensureLocalTokenKey(file).localTokenKey;
    expect(local).toBeDefined();
    expect(ensureLocalTokenKey(file).localTokenKey).toBe(local);
    expect(removeTokenKey(file)).toBe(true);
    expect(readSecrets(file)).not.toHaveProperty("tokenKey");
    expect(removeTokenKey(file)).toBe(false);
  });
});

describe("KeyBinding and token keys", () => {
  const accountRefKey = "11".repeat(32);
  const dataKeys = [{ id: "k1", key: "22".repeat(32) }];

  it("binds a legacy token key until it is forgotten; refuses a token key on a database started without one; binds a committee-of-one key once it appears", async () => {
    const db = await NodeDatabase.open(join(tmp.dir, "db"));
    try {
      const binding = new KeyBinding(db, file);
      const tokenKey = "33".repeat(32);
      await binding.check({ tokenKey, accountRefKey, dataKeys });
      await expect(binding.check({ tokenKey: "44".repeat(32), accountRefKey, dataKeys })).rejects.toMatchObject({ code: "CONFIG_INVALID", field: "tokenKey" });
      await expect(binding.check({ accountRefKey, dataKeys })).rejects.toMatchObject({ field: "tokenKey", message: expect.stringContaining("missing from the file") });
      const localTokenKey = "0101" + "55".repeat(32);
      await binding.check({ tokenKey, localTokenKey, accountRefKey, dataKeys });
      await expect(binding.check({ tokenKey, localTokenKey: "0101" + "66".repeat(32), accountRefKey, dataKeys })).rejects.toMatchObject({ field: "localTokenKey" });
      await binding.forgetTokenKey();
      await binding.check({ localTokenKey, accountRefKey, dataKeys });
      await expect(binding.check({ tokenKey, localTokenKey, accountRefKey, dataKeys })).rejects.toMatchObject({ field: "tokenKey", message: expect.stringContaining("is not recorded") });
    } finally {
      await db.close();
    }
  });
});
