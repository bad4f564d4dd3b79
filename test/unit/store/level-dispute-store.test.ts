import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DisputeOutcome, DisputeStatus } from "../../../src/gen/creditmesh/v1/common.js";
import type { Dispute } from "../../../src/gen/creditmesh/v1/dispute.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelDisputeStore } from "../../../src/store/level-dispute-store.js";

let dir: string;
let db: NodeDatabase;
let store: LevelDisputeStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-dispute-"));
  db = await NodeDatabase.open(dir);
  store = new LevelDisputeStore(db);
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const dispute = (id: string, accountRef: string, over: Partial<Dispute> = {}): Dispute => ({
  disputeId: id,
  subjectToken: "tok-1",
  institutionId: "bank-a",
  accountRef,
  reason: "never late",
  status: DisputeStatus.OPEN,
  outcome: DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED,
  note: "",
  filedAt: new Date("2026-01-10T09:00:00.000Z"),
  respondBy: new Date("2026-02-09T09:00:00.000Z"),
  resolvedAt: undefined,
  filedViaInstitutionId: "bank-b",
  ...over,
});

const ids = (ds: Dispute[]) => ds.map((d) => d.disputeId).sort();

describe("LevelDisputeStore", () => {
  it("round-trips a dispute, surviving a reopen", async () => {
    const d = dispute("d-1", "ref-a");
    await store.put(d);
    await db.close();
    db = await NodeDatabase.open(dir);
    store = new LevelDisputeStore(db);
    expect(await store.get("d-1")).toEqual(d);
    expect(await store.get("d-2")).toBeUndefined();
  });

  it("finds the disputes of an account whatever was read before, and after a reopen", async () => {
    // The first read learns which accounts have disputes; later puts must still show.
    expect(await store.listForAccount("ref-a")).toEqual([]);
    await store.put(dispute("d-1", "ref-a"));
    expect(ids(await store.listForAccount("ref-a"))).toEqual(["d-1"]);
    await store.put(dispute("d-1", "ref-b"));
    expect(await store.listForAccount("ref-a")).toEqual([]);
    expect(ids(await store.listForAccount("ref-b"))).toEqual(["d-1"]);
    await db.close();
    db = await NodeDatabase.open(dir);
    store = new LevelDisputeStore(db);
    expect(ids(await store.listForAccount("ref-b"))).toEqual(["d-1"]);
    expect(await store.listForAccount("ref-a")).toEqual([]);
  });

  it("lists by account and keeps the open set in step with the status", async () => {
    await store.put(dispute("d-1", "ref-a"));
    await store.put(dispute("d-2", "ref-a"));
    await store.put(dispute("d-3", "ref-ab"));
    expect(ids(await store.listForAccount("ref-a"))).toEqual(["d-1", "d-2"]);
    expect(ids(await store.listForAccount("ref-ab"))).toEqual(["d-3"]);
    expect(ids(await store.listOpen())).toEqual(["d-1", "d-2", "d-3"]);

    const resolved = dispute("d-2", "ref-a", {
      status: DisputeStatus.RESOLVED,
      outcome: DisputeOutcome.CORRECTED,
      note: "late fee reversed",
      resolvedAt: new Date("2026-01-20T00:00:00.000Z"),
    });
    await store.put(resolved);
    expect(ids(await store.listOpen())).toEqual(["d-1", "d-3"]);
    expect(await store.get("d-2")).toEqual(resolved);
    expect(ids(await store.listForAccount("ref-a"))).toEqual(["d-1", "d-2"]);
  });

  it("moves the account index when a dispute's account changes", async () => {
    await store.put(dispute("d-1", "ref-a"));
    await store.put(dispute("d-1", "ref-b"));
    expect(await store.listForAccount("ref-a")).toEqual([]);
    expect(ids(await store.listForAccount("ref-b"))).toEqual(["d-1"]);
  });

  it("rejects ids that would corrupt the key layout", async () => {
    await expect(store.put(dispute("d!1", "ref-a"))).rejects.toMatchObject({ field: "dispute_id" });
    await expect(store.put(dispute("d-1", ""))).rejects.toMatchObject({ field: "account_ref" });
    expect(await store.listOpen()).toEqual([]);
  });
});
