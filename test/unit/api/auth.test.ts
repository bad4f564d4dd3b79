import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClientAuth } from "../../../src/api/auth.js";
import { ManualClock } from "../../../src/clock.js";
import { addApiKey, generateSecrets, writeSecrets } from "../../../src/config/secrets.js";
import { isCreditMeshError } from "../../../src/errors.js";

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-auth-"));
  file = join(dir, "secrets.json");
  writeSecrets(file, generateSecrets());
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const call = (key?: string) => {
  const metadata = new Metadata();
  if (key) metadata.set("authorization", `Bearer ${key}`);
  return { metadata };
};

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isCreditMeshError(err)) return err.code;
    throw err;
  }
  return "OK";
}

describe("ClientAuth", () => {
  it("accepts a key until its expiry and refuses it from then on, also once remembered", () => {
    const clock = new ManualClock("2026-06-01T00:00:00Z");
    const expiring = addApiKey(file, ["LENDER"], { expiresAt: new Date("2026-06-01T01:00:00Z") });
    const lasting = addApiKey(file, ["FURNISHER"]);
    const auth = new ClientAuth(file, {}, clock);

    expect([...auth.authenticate(call(expiring)).roles]).toEqual(["LENDER"]);
    clock.set("2026-06-01T00:59:59.999Z");
    expect(codeOf(() => auth.authenticate(call(expiring)))).toBe("OK");
    clock.set("2026-06-01T01:00:00Z");
    expect(codeOf(() => auth.authenticate(call(expiring)))).toBe("AUTH_EXPIRED_KEY");
    // A fresh instance (nothing remembered) refuses it the same way.
    expect(codeOf(() => new ClientAuth(file, {}, clock).authenticate(call(expiring)))).toBe("AUTH_EXPIRED_KEY");
    clock.set("2036-01-01T00:00:00Z");
    expect([...auth.authenticate(call(lasting)).roles]).toEqual(["FURNISHER"]);
  });

  it("tells a missing, a malformed and an unknown key apart", () => {
    const auth = new ClientAuth(file);
    expect(codeOf(() => auth.authenticate(call()))).toBe("AUTH_MISSING_KEY");
    const metadata = new Metadata();
    metadata.set("authorization", "Basic abc");
    expect(codeOf(() => auth.authenticate({ metadata }))).toBe("AUTH_MISSING_KEY");
    expect(codeOf(() => auth.authenticate(call("cmk_00000000_not-a-key-of-this-node")))).toBe("AUTH_UNKNOWN_KEY");
  });
});
