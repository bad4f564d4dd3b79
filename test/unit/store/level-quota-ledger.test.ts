import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelQuotaLedger } from "../../../src/store/level-quota-ledger.js";

let dir: string;
let db: NodeDatabase;
let ledger: LevelQuotaLedger;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-quota-"));
  db = await NodeDatabase.open(dir);
  ledger = new LevelQuotaLedger(db);
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe("LevelQuotaLedger", () => {
  it("consumes up to the limit, refuses past it without counting, and remembers across a reopen", async () => {
    expect(await ledger.consume("bank-a/ONBOARD/2026-12-03", 6, 10)).toBe(true);
    expect(await ledger.consume("bank-a/ONBOARD/2026-12-03", 5, 10)).toBe(false);
    expect(await ledger.used("bank-a/ONBOARD/2026-12-03")).toBe(6);
    expect(await ledger.consume("bank-a/ONBOARD/2026-12-03", 4, 10)).toBe(true);
    // Another requester, purpose or day has its own counter.
    expect(await ledger.consume("bank-b/ONBOARD/2026-12-03", 10, 10)).toBe(true);
    await db.close();
    db = await NodeDatabase.open(dir);
    ledger = new LevelQuotaLedger(db);
    expect(await ledger.used("bank-a/ONBOARD/2026-12-03")).toBe(10);
    expect(await ledger.consume("bank-a/ONBOARD/2026-12-03", 1, 10)).toBe(false);
  });

  it("lets concurrent consumes of one key through only while they fit", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => ledger.consume("k", 3, 30)));
    expect(results.filter(Boolean)).toHaveLength(10);
    expect(await ledger.used("k")).toBe(30);
  });

  it("refuses a negative or fractional count, naming the field", () => {
    expect(() => ledger.consume("k", -1, 10)).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED", field: "count" }));
    expect(() => ledger.consume("k", 1.5, 10)).toThrow(expect.objectContaining({ field: "count" }));
  });
});
