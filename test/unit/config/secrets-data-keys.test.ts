import { statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addDataKey, generateSecrets, readSecrets, retireDataKeys, writeSecrets } from "../../../src/config/secrets.js";
import { tempDir } from "../../helpers/temp.js";

let tmp: ReturnType<typeof tempDir>;
let file: string;

beforeEach(() => {
  tmp = tempDir("cm-secrets-");
  file = join(tmp.dir, "secrets.json");
  writeSecrets(file, generateSecrets());
});

afterEach(() => tmp.remove());

describe("data keys in the secrets file", () => {
  it("adds a new key first, keeping the old ones and everything else in the file", () => {
    const before = readSecrets(file);
    const added = addDataKey(file);
    expect(added.id).toBe("k2");
    expect(added.key).toMatch(/^[0-9a-f]{64}$/);
    const after = readSecrets(file);
    expect(after.dataKeys).toEqual([added, ...before.dataKeys]);
    expect({ ...after, dataKeys: [] }).toEqual({ ...before, dataKeys: [] });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(addDataKey(file).id).toBe("k3");
  });

  it("retires older keys but never the current one", () => {
    const k2 = addDataKey(file);
    const k3 = addDataKey(file);
    retireDataKeys(file, ["k1", "k2"]);
    expect(readSecrets(file).dataKeys).toEqual([k3]);
    expect(() => retireDataKeys(file, ["k3"])).toThrow(expect.objectContaining({ code: "INTERNAL" }));
    expect(readSecrets(file).dataKeys).toEqual([k3]);
    expect(k2.id).toBe("k2");
  });
});
