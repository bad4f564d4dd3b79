import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConsentStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { Revocation, type Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import { Signed } from "../../../src/gen/creditmesh/v1/peer.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelConsentStore } from "../../../src/store/level-consent-store.js";

let dir: string;
let db: NodeDatabase;
let store: LevelConsentStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-revlog-"));
  db = await NodeDatabase.open(dir);
  store = new LevelConsentStore(db);
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

function consent(id: string, over: Partial<Consent> = {}): Consent {
  return {
    consentId: id,
    subjectToken: "t".repeat(64),
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

/** A stand-in for the signed envelope: the encoded revocation, so tests can read it back. */
const seal = (r: Revocation): Uint8Array => Revocation.encode(r).finish();
const revoke = (c: Consent, at: string) =>
  store.putIssuedRevocation({ ...c, status: ConsentStatus.REVOKED, revokedAt: new Date(at) }, seal);

describe("LevelConsentStore: the log of revocations this node issued", () => {
  it("numbers revocations 1, 2, … and stores the consent, its revocation and the sealed entry together", async () => {
    const a = consent("c-1");
    const b = consent("c-2");
    await store.put(a);
    await store.put(b);
    expect(await store.lastIssuedSequence()).toBe(0);

    const first = await revoke(a, "2026-02-01T10:00:00.000Z");
    const second = await revoke(b, "2026-02-01T11:00:00.000Z");
    expect([first.sequence, second.sequence]).toEqual([1, 2]);
    expect(first.revocation).toEqual({ consentId: "c-1", granteeInstitutionId: "bank-a", revokedAt: new Date("2026-02-01T10:00:00.000Z") });

    expect((await store.get("c-1"))?.status).toBe(ConsentStatus.REVOKED);
    expect(await store.getRevocation("bank-a", "c-1")).toEqual(new Date("2026-02-01T10:00:00.000Z"));
    expect((await store.listForSubject(a.subjectToken)).map((c) => c.consentId).sort()).toEqual(["c-1", "c-2"]);

    const log = await store.listIssuedRevocations(0, 10);
    expect(log.map((e) => [e.sequence, Revocation.decode(e.signed).consentId])).toEqual([[1, "c-1"], [2, "c-2"]]);
    expect((await store.listIssuedRevocations(1, 10)).map((e) => e.sequence)).toEqual([2]);
    expect((await store.listIssuedRevocations(0, 1)).map((e) => e.sequence)).toEqual([1]);
    expect(await store.listIssuedRevocations(2, 10)).toEqual([]);
    expect(await store.lastIssuedSequence()).toBe(2);
  });

  it("keeps positions unique under concurrent revocations, past 9 and 10 in key order", async () => {
    const consents = Array.from({ length: 12 }, (_, i) => consent(`c-${i}`));
    for (const c of consents) await store.put(c);
    const results = await Promise.all(consents.map((c, i) => revoke(c, `2026-02-01T10:00:${String(i).padStart(2, "0")}.000Z`)));
    expect(results.map((r) => r.sequence).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect((await store.listIssuedRevocations(0, 100)).map((e) => e.sequence)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(await store.lastIssuedSequence()).toBe(12);
  });

  it("does not mistake the log or the cursors for revoked consents", async () => {
    await revoke(consent("c-1"), "2026-02-01T10:00:00.000Z");
    await store.putRevocationCursor("cfc-b", 7);
    await store.putRevocation("bank-a", "c-9", new Date("2026-02-02T00:00:00.000Z"));
    expect(await store.getRevocation("bank-a", "c-2")).toBeUndefined();
    expect(await store.getRevocation("bank-a", "i")).toBeUndefined();
    expect(await store.getRevocation("bank-a", "p")).toBeUndefined();
    expect((await store.listIssuedRevocations(0, 10)).map((e) => e.sequence)).toEqual([1]);
  });

  it("remembers per member how far it has pulled, across a restart", async () => {
    expect(await store.getRevocationCursor("cfc-b")).toBe(0);
    await store.putRevocationCursor("cfc-b", 3);
    await store.putRevocationCursor("ecom-c", 12);
    await revoke(consent("c-1"), "2026-02-01T10:00:00.000Z");
    await db.close();
    db = await NodeDatabase.open(dir);
    store = new LevelConsentStore(db);
    expect(await store.getRevocationCursor("cfc-b")).toBe(3);
    expect(await store.getRevocationCursor("ecom-c")).toBe(12);
    expect(await store.getRevocation("bank-a", "c-1")).toEqual(new Date("2026-02-01T10:00:00.000Z"));
    expect(await store.lastIssuedSequence()).toBe(1);
    await expect(store.putRevocationCursor("cfc-b", -1)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});

describe("LevelConsentStore: revocations keyed by (grantee, consent id)", () => {
  it("a revocation stored under one grantee never matches the same consent id granted to another", async () => {
    await store.put(consent("c-1", { granteeInstitutionId: "bank-y" }));
    await store.putRevocation("bank-x", "c-1", new Date("2026-02-01T00:00:00.000Z"));
    expect(await store.getRevocation("bank-y", "c-1")).toBeUndefined();
    expect(await store.getRevocation("bank-x", "c-1")).toEqual(new Date("2026-02-01T00:00:00.000Z"));
  });

  it("answers undefined for ids nothing can be stored under", async () => {
    expect(await store.getRevocation("", "c-1")).toBeUndefined();
    expect(await store.getRevocation("bank-a", "c!1")).toBeUndefined();
    await expect(store.putRevocation("bank!a", "c-1", new Date("2026-02-01T00:00:00.000Z"))).rejects.toMatchObject({ field: "grantee_institution_id" });
  });

  it("drops revocations stored by consent id alone, resets pull cursors and re-keys its own issued ones", async () => {
    await store.putIssuedRevocation({ ...consent("own-1"), status: ConsentStatus.REVOKED, revokedAt: new Date("2026-02-01T10:00:00.000Z") }, (r) =>
      Signed.encode({ body: Buffer.from(Revocation.encode(r).finish()), signature: Buffer.from([1, 2, 3]) }).finish(),
    );
    await store.putRevocationCursor("cfc-b", 9);
    await db.write([
      { type: "put", sublevel: db.levels.revoked, key: "c-forged", value: "2026-02-02T00:00:00.000Z" },
      { type: "put", sublevel: db.levels.revoked, key: "own-1", value: "2026-02-01T10:00:00.000Z" },
    ]);
    // What a database written before the grantee was in the key holds for its own revocations.
    await db.write([{ type: "del", sublevel: db.levels.revoked, key: "g!bank-a!own-1" }]);

    expect(await store.rekeyLegacyRevocations()).toBe(2);
    expect(await db.levels.revoked.get("c-forged")).toBeUndefined();
    expect(await db.levels.revoked.get("own-1")).toBeUndefined();
    expect(await store.getRevocationCursor("cfc-b")).toBe(0);
    expect(await store.getRevocation("bank-a", "own-1")).toEqual(new Date("2026-02-01T10:00:00.000Z"));
    expect(await store.lastIssuedSequence()).toBe(1);
    expect(await store.rekeyLegacyRevocations()).toBe(0);
  });
});
