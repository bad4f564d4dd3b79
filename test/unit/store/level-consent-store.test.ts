import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConsentStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelConsentStore } from "../../../src/store/level-consent-store.js";

let dir: string;
let db: NodeDatabase;
let store: LevelConsentStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-consent-"));
  db = await NodeDatabase.open(dir);
  store = new LevelConsentStore(db);
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

function consent(id: string, subjectToken: string, over: Partial<Consent> = {}): Consent {
  return {
    consentId: id,
    subjectToken,
    granteeInstitutionId: "bank-a",
    purpose: Purpose.LOAN_ORIGINATION,
    validFrom: new Date("2026-01-01T00:00:00.000Z"),
    validUntil: new Date("2026-04-01T00:00:00.000Z"),
    evidenceRef: "sha256:abcd",
    status: ConsentStatus.ACTIVE,
    issuedAt: new Date("2026-01-01T00:00:01.250Z"),
    signature: Buffer.from([9, 8, 7, 6]),
    revokedAt: undefined,
    ...over,
  };
}

describe("LevelConsentStore", () => {
  it("round-trips a consent exactly, surviving a reopen", async () => {
    const c = consent("c-1", "tok-1");
    await store.put(c);
    await db.close();
    db = await NodeDatabase.open(dir);
    store = new LevelConsentStore(db);
    expect(await store.get("c-1")).toEqual(c);
    expect(await store.get("c-unknown")).toBeUndefined();
  });

  it("lists a subject's consents and no one else's", async () => {
    await store.put(consent("c-1", "tok-1"));
    await store.put(consent("c-2", "tok-1", { purpose: Purpose.POST_LOAN_MANAGEMENT }));
    await store.put(consent("c-3", "tok-10"));
    const ids = (await store.listForSubject("tok-1")).map((c) => c.consentId).sort();
    expect(ids).toEqual(["c-1", "c-2"]);
    expect((await store.listForSubject("tok-10")).map((c) => c.consentId)).toEqual(["c-3"]);
    expect(await store.listForSubject("tok-2")).toEqual([]);
  });

  it("replaces a consent on a second put and moves its subject index", async () => {
    await store.put(consent("c-1", "tok-1"));
    await store.put(consent("c-1", "tok-2", { status: ConsentStatus.EXPIRED }));
    expect((await store.get("c-1"))?.status).toBe(ConsentStatus.EXPIRED);
    expect(await store.listForSubject("tok-1")).toEqual([]);
    expect((await store.listForSubject("tok-2")).map((c) => c.consentId)).toEqual(["c-1"]);
  });

  it("stores revocations apart from consents, keeping the earliest", async () => {
    expect(await store.getRevocation("bank-a", "c-9")).toBeUndefined();
    await store.putRevocation("bank-a", "c-9", new Date("2026-02-02T10:00:00.000Z"));
    await store.putRevocation("bank-a", "c-9", new Date("2026-02-03T10:00:00.000Z"));
    expect((await store.getRevocation("bank-a", "c-9"))?.toISOString()).toBe("2026-02-02T10:00:00.000Z");
    await store.putRevocation("bank-a", "c-9", new Date("2026-02-01T08:00:00.000Z"));
    expect((await store.getRevocation("bank-a", "c-9"))?.toISOString()).toBe("2026-02-01T08:00:00.000Z");
    expect(await store.get("c-9")).toBeUndefined();
  });

  it("rejects ids that would corrupt the key layout", async () => {
    await expect(store.put(consent("c!1", "tok-1"))).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: "consent_id" });
    await expect(store.put(consent("c-1", "tok!1"))).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: "subject_token" });
    await expect(store.putRevocation("bank-a", "c-1", new Date("nope"))).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    expect(await store.get("c-1")).toBeUndefined();
  });

  it("reports an undecodable consent as STORE_CORRUPT", async () => {
    await db.write([{ type: "put", sublevel: db.levels.consent, key: "c!bad", value: new Uint8Array([0xff, 0xff, 0xff]) }]);
    await expect(store.get("bad")).rejects.toMatchObject({ code: "STORE_CORRUPT" });
  });
});
