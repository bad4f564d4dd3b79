import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { ConsentService } from "../../../src/consent/service.js";
import { ConsentStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelConsentStore } from "../../../src/store/level-consent-store.js";

const DAY_MS = 86_400_000;
const X = "ab".repeat(32);
const Y = "cd".repeat(32);

let dir: string;
let db: NodeDatabase;
let store: LevelConsentStore;
let clock: ManualClock;
let service: ConsentService;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-consents-"));
  db = await NodeDatabase.open(join(dir, "db"));
  store = new LevelConsentStore(db);
  clock = new ManualClock("2026-03-01T00:00:00Z");
  service = new ConsentService({ institutionId: "bank-a" }, { store, signer: generateNodeKey(), clock, logger: silentLogger() });
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const grant = (subjectToken: string, purpose: Purpose, days: number): Promise<Consent> =>
  service.grant({ subjectToken, purpose, validUntil: new Date(clock.now().getTime() + days * DAY_MS), evidenceRef: `sha256:${subjectToken.slice(0, 8)}-${days}` });

describe("ConsentService.grant: the evidence reference", () => {
  const withRef = (evidenceRef: string) => service.grant({ subjectToken: X, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(clock.now().getTime() + DAY_MS), evidenceRef });

  it("says which part of the rule a reference breaks, without repeating it, and stores nothing", async () => {
    const refused = async (ref: string) => {
      const err = await withRef(ref).then(() => undefined, (e: unknown) => e as { code: string; field: string; message: string });
      expect(err).toMatchObject({ code: "VALIDATION_FAILED", field: "evidence_ref" });
      return err!.message;
    };
    expect(await refused("   ")).toMatch(/^evidence_ref: required: 8 to 128 printable ASCII/);
    expect(await refused("short")).toMatch(/, got 5$/);
    expect(await refused("x".repeat(129))).toMatch(/, got 129$/);
    expect(await refused("signed form 2026-03")).toMatch(/^evidence_ref: found a space at position 7;/);
    const message = await refused("授权书-陈思远-20260301");
    expect(message).toMatch(/^evidence_ref: found a character outside printable ASCII at position 1;/);
    expect(message).not.toContain("陈思远");
    expect(await service.listForSubject(X)).toEqual([]);
    expect((await withRef("  sha256:9f2c1e0a7b  ")).evidenceRef).toBe("sha256:9f2c1e0a7b");
  });
});

describe("ConsentService.listForSubject", () => {
  it("lists the subject's consents newest first, each with its status now: ACTIVE, REVOKED, EXPIRED", async () => {
    const shortLived = await grant(X, Purpose.LOAN_ORIGINATION, 10);
    clock.advance(DAY_MS);
    const revoked = await grant(X, Purpose.CREDIT_LIMIT_REVIEW, 90);
    clock.advance(DAY_MS);
    const active = await grant(X, Purpose.POST_LOAN_MANAGEMENT, 90);
    await grant(Y, Purpose.LOAN_ORIGINATION, 90);
    clock.advance(DAY_MS);
    await service.revoke(revoked.consentId, "apikey:k1");
    clock.advance(10 * DAY_MS);

    const listed = await service.listForSubject(X);
    expect(listed.map((c) => [c.consentId, c.status])).toEqual([
      [active.consentId, ConsentStatus.ACTIVE],
      [revoked.consentId, ConsentStatus.REVOKED],
      [shortLived.consentId, ConsentStatus.EXPIRED],
    ]);
    expect(listed[1]!.revokedAt).toEqual(new Date("2026-03-04T00:00:00Z"));
    // The artefact as signed, untouched apart from status and revocation.
    expect(listed[0]).toEqual(active);
    expect((await service.listForSubject(Y)).map((c) => c.subjectToken)).toEqual([Y]);
    expect(await service.listForSubject("ef".repeat(32))).toEqual([]);
  });

  it("a revocation known only from the revocation record still shows REVOKED with its time", async () => {
    const c = await grant(X, Purpose.LOAN_ORIGINATION, 30);
    await store.putRevocation(c.granteeInstitutionId, c.consentId, new Date("2026-03-02T00:00:00Z"));
    const [listed] = await service.listForSubject(X);
    expect(listed).toMatchObject({ consentId: c.consentId, status: ConsentStatus.REVOKED, revokedAt: new Date("2026-03-02T00:00:00Z") });
  });
});

describe("ConsentService consent validity and the requester's check", () => {
  it("a consent without valid_from is valid from its issue minus the allowed clock skew", async () => {
    const c = await grant(X, Purpose.LOAN_ORIGINATION, 30);
    expect(c.validFrom).toEqual(new Date(clock.now().getTime() - 60_000));
  });

  it("requireForQuery: the consent when usable, CONSENT_DENIED on consent_id or purpose otherwise", async () => {
    const c = await grant(X, Purpose.LOAN_ORIGINATION, 30);
    expect((await service.requireForQuery(c.consentId, { subjectToken: X, purpose: Purpose.LOAN_ORIGINATION })).consentId).toBe(c.consentId);
    const refusal = (id: string, subjectToken: string, purpose: Purpose) =>
      service.requireForQuery(id, { subjectToken, purpose }).then(
        () => "ok",
        (err: { code: string; field?: string }) => `${err.code} ${err.field}`,
      );
    expect(await refusal("no-such-consent", X, Purpose.LOAN_ORIGINATION)).toBe("CONSENT_DENIED consent_id");
    expect(await refusal(c.consentId, Y, Purpose.LOAN_ORIGINATION)).toBe("CONSENT_DENIED consent_id");
    expect(await refusal(c.consentId, X, Purpose.CREDIT_LIMIT_REVIEW)).toBe("CONSENT_DENIED purpose");
    clock.advance(30 * DAY_MS);
    expect(await refusal(c.consentId, X, Purpose.LOAN_ORIGINATION)).toBe("CONSENT_DENIED consent_id");
    clock.advance(-30 * DAY_MS);
    await service.revoke(c.consentId);
    expect(await refusal(c.consentId, X, Purpose.LOAN_ORIGINATION)).toBe("CONSENT_DENIED consent_id");
  });
});

describe("ConsentService.requireForQuery during a token migration's transition", () => {
  it("takes a consent signed under the subject's earlier token only when this node aliases that token to the one asked for", async () => {
    const aliases = new Map<string, string>([[X, Y]]);
    const migrating = new ConsentService({ institutionId: "bank-a" }, { store, signer: generateNodeKey(), clock, logger: silentLogger(), currentTokenOf: async (t) => aliases.get(t) });
    const earlier = await migrating.grant({ subjectToken: X, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(clock.now().getTime() + DAY_MS), evidenceRef: "sha256:earlier" });
    const taken = await migrating.requireForQuery(earlier.consentId, { subjectToken: Y, purpose: Purpose.LOAN_ORIGINATION });
    // The artefact is unchanged: the query names the token it binds.
    expect(taken.subjectToken).toBe(X);
    await expect(migrating.requireForQuery(earlier.consentId, { subjectToken: "ef".repeat(32), purpose: Purpose.LOAN_ORIGINATION })).rejects.toMatchObject({ code: "CONSENT_DENIED" });
    await expect(service.requireForQuery(earlier.consentId, { subjectToken: Y, purpose: Purpose.LOAN_ORIGINATION })).rejects.toMatchObject({ code: "CONSENT_DENIED" });
  });
});

describe("ConsentService.usableFor", () => {
  it("finds the subject's consent to this institution usable now for any purpose, the one valid longest", async () => {
    expect(await service.usableFor(X)).toBeUndefined();
    await grant(X, Purpose.FURNISHING, 10);
    const revoked = await grant(X, Purpose.LOAN_ORIGINATION, 200);
    const longest = await grant(X, Purpose.POST_LOAN_MANAGEMENT, 90);
    await grant(Y, Purpose.LOAN_ORIGINATION, 300);
    await service.revoke(revoked.consentId);
    expect((await service.usableFor(X))?.consentId).toBe(longest.consentId);
    clock.advance(90 * DAY_MS);
    expect(await service.usableFor(X)).toBeUndefined();
  });

  it("ignores a consent of the subject granted to another institution", async () => {
    const other = new ConsentService({ institutionId: "ecom-c" }, { store, signer: generateNodeKey(), clock, logger: silentLogger() });
    await other.grant({ subjectToken: X, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(clock.now().getTime() + 30 * DAY_MS), evidenceRef: "sha256:other-grantee" });
    expect(await service.usableFor(X)).toBeUndefined();
    expect(await other.usableFor(X)).toBeDefined();
  });
});
