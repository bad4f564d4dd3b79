import { afterEach, describe, expect, it, vi } from "vitest";
import type { DisputeRouter } from "../../../src/disputes/service.js";
import { signConsent } from "../../../src/consent/artefact.js";
import { DisputeFlag, DisputeOutcome, DisputeStatus, ProductType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Dispute } from "../../../src/gen/creditmesh/v1/dispute.js";
import type { AccountRecord } from "../../../src/gen/creditmesh/v1/records.js";
import { account } from "../../helpers/records.js";
import { DAY_MS, disputeFixture, expectCode, loan, X, Y, type DisputeFixture } from "./fixture.js";

let fx: DisputeFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

const notAsked = async (): Promise<never> => {
  throw new Error("not asked in this test");
};

/** A holder of X's loans `ids`, with X's consent to it recorded (its own filings need one). */
async function holderWithLoans(...ids: string[]): Promise<DisputeFixture> {
  fx = await disputeFixture();
  await fx.furnish(...ids.map((id) => loan(id)));
  await fx.grant(X);
  return fx;
}

function accountValue(id: string, over: Partial<AccountRecord> = {}): AccountRecord {
  const r = loan(id, over);
  if (r.kind?.$case !== "account") throw new Error("not an account");
  return r.kind.value;
}

/**
 * A dispute of X's loan L-1 at cfc-b as a filing member routes it (OPEN, filed now), with the filer's consent
 * of X unless `over` gives a consent (or none).
 */
function routedDispute(f: DisputeFixture, over: Partial<Dispute> = {}): Dispute {
  const filer = over.filedViaInstitutionId ?? "bank-a";
  return {
    disputeId: "5b0f3c1e-2f7d-4c55-9d0a-1f2e3d4c5b6a",
    subjectToken: f.token(X),
    institutionId: "cfc-b",
    accountRef: f.refOf("L-1"),
    reason: "never late",
    status: DisputeStatus.OPEN,
    outcome: DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED,
    note: "",
    filedAt: f.clock.now(),
    respondBy: undefined,
    resolvedAt: undefined,
    filedViaInstitutionId: filer,
    consent: "consent" in over ? over.consent : f.consentOf(filer, X),
    ...over,
  };
}

describe("DisputeService at the holder", () => {
  it("files a dispute of its own account OPEN with respond_by = filed_at + 30 days, lists it and audits it", async () => {
    const f = await holderWithLoans("L-1");
    const filedAt = f.clock.now();
    const [consent] = await f.consents.listForSubject(f.token(X));
    const d = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "  I repaid this loan in full  ", "apikey:k1");
    expect(d.status).toBe(DisputeStatus.OPEN);
    expect(d.institutionId).toBe("cfc-b");
    expect(d.filedViaInstitutionId).toBe("cfc-b");
    expect(d.reason).toBe("I repaid this loan in full");
    expect(d.filedAt).toEqual(filedAt);
    expect(d.respondBy).toEqual(new Date(filedAt.getTime() + 30 * DAY_MS));
    expect(d.consent?.consentId).toBe(consent!.consentId);
    expect(await f.service.list(false)).toEqual([d]);
    expect(await f.stores.disputes.get(d.disputeId)).toEqual(d);
    expect(f.audit).toEqual([
      {
        action: "DISPUTE_FILED",
        actor: "apikey:k1",
        details: { disputeId: d.disputeId, subjectToken: f.token(X), institutionId: "cfc-b", accountRef: f.refOf("L-1"), consentId: consent!.consentId },
      },
    ]);
  });

  it("refuses an account that is not the named subject's, or unknown, with NOT_FOUND on account_ref, storing nothing", async () => {
    const f = await holderWithLoans("L-1");
    await f.furnish(account({ accountId: "L-Y", idNumber: Y }));
    await expectCode(f.service.file(f.token(X), "cfc-b", f.refOf("L-Y"), "not mine", "a"), "NOT_FOUND", "account_ref");
    await expectCode(f.service.file(f.token(X), "cfc-b", f.refOf("NO-SUCH"), "not mine", "a"), "NOT_FOUND", "account_ref");
    expect(await f.service.list(true)).toEqual([]);
    expect(f.audit).toEqual([]);
  });

  it("names the bad field of a filing", async () => {
    const f = await holderWithLoans("L-1");
    const ref = f.refOf("L-1");
    await expectCode(f.service.file(f.token(X), "cfc-b", ref, "", "a"), "VALIDATION_FAILED", "reason");
    await expectCode(f.service.file(f.token(X), "cfc-b", ref, "   ", "a"), "VALIDATION_FAILED", "reason");
    await expectCode(f.service.file(f.token(X), "cfc-b", ref, "x".repeat(501), "a"), "VALIDATION_FAILED", "reason");
    await expectCode(f.service.file(f.token(X), "cfc-b", ref, "bad\u0000byte", "a"), "VALIDATION_FAILED", "reason");
    await expectCode(f.service.file(f.token(X), "", ref, "why", "a"), "VALIDATION_FAILED", "institution_id");
    await expectCode(f.service.file(f.token(X), "cfc-b", "", "why", "a"), "VALIDATION_FAILED", "account_ref");
    await expectCode(f.service.file(f.token(X), "cfc-b", "ACC-1!x", "why", "a"), "VALIDATION_FAILED", "account_ref");
    // 500 characters (not bytes) is the limit: Chinese text counts per character.
    const d = await f.service.file(f.token(X), "cfc-b", ref, "错".repeat(500), "a");
    expect([...d.reason].length).toBe(500);
  });

  it("without peers, a dispute for another institution is NOT_FOUND on institution_id", async () => {
    const f = await holderWithLoans("L-1");
    await expectCode(f.service.file(f.token(X), "bank-a", f.refOf("L-1"), "why", "a"), "NOT_FOUND", "institution_id");
  });
});

describe("the 30-day rule and the tradeline flag", () => {
  it("shows DISPUTED until respond_by, withholds the tradeline after it, and shows it again once resolved", async () => {
    const f = await holderWithLoans("L-1", "L-2");
    const ref = f.refOf("L-1");
    const before = await f.tradelines(X);
    expect(before.map((t) => [t.accountRef, t.dispute])).toContainEqual([ref, DisputeFlag.NONE]);

    const d = await f.service.file(f.token(X), "cfc-b", ref, "never late", "a");
    const flags = async () => new Map((await f.tradelines(X)).map((t) => [t.accountRef, t.dispute]));
    expect((await flags()).get(ref)).toBe(DisputeFlag.DISPUTED);
    expect((await flags()).get(f.refOf("L-2"))).toBe(DisputeFlag.NONE);

    f.clock.set(d.respondBy!); // the last moment of the holder's 30 days
    expect((await flags()).get(ref)).toBe(DisputeFlag.DISPUTED);

    f.clock.advance(1);
    const late = await flags();
    expect(late.has(ref)).toBe(false);
    expect(late.get(f.refOf("L-2"))).toBe(DisputeFlag.NONE);
    const [listed] = await f.service.list(false);
    expect(listed!.disputeId).toBe(d.disputeId);

    await f.service.resolve(d.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "records checked", undefined, "a");
    expect((await flags()).get(ref)).toBe(DisputeFlag.RESOLVED_DISAGREES);
  });

  it("uses the configured response period", async () => {
    fx = await disputeFixture({ responseDays: 10 });
    await fx.furnish(loan("L-1"));
    await fx.grant(X);
    const d = await fx.service.file(fx.token(X), "cfc-b", fx.refOf("L-1"), "why", "a");
    expect(d.respondBy!.getTime() - d.filedAt!.getTime()).toBe(10 * DAY_MS);
    fx.clock.advance(10 * DAY_MS + 1);
    expect(await fx.tradelines(X)).toEqual([]);
  });
});

describe("resolving", () => {
  it("VERIFIED_ACCURATE closes the dispute with the note and the tradeline shows RESOLVED_DISAGREES", async () => {
    const f = await holderWithLoans("L-1");
    const d = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "never late", "a");
    f.clock.advance(DAY_MS);
    const r = await f.service.resolve(d.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "statements confirm the late payment", undefined, "apikey:k2");
    expect(r).toMatchObject({ status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.VERIFIED_ACCURATE, note: "statements confirm the late payment" });
    expect(r.resolvedAt).toEqual(f.clock.now());
    expect(await f.service.list(false)).toEqual([]);
    expect(await f.service.list(true)).toEqual([r]);
    const [t] = await f.tradelines(X);
    expect(t!.dispute).toBe(DisputeFlag.RESOLVED_DISAGREES);
    expect(f.audit.map((e) => [e.action, e.actor])).toEqual([
      ["DISPUTE_FILED", "a"],
      ["DISPUTE_RESOLVED", "apikey:k2"],
    ]);
    expect(f.audit[1]!.details).toMatchObject({ disputeId: d.disputeId, outcome: "VERIFIED_ACCURATE" });
  });

  it("CORRECTED applies the corrected account through ingest and the tradeline shows the new data with NONE", async () => {
    const f = await holderWithLoans("L-1");
    expect((await f.tradelines(X))[0]!.balance).toBe("300000");
    const d = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "the principal was 2,000 yuan", "a");
    const r = await f.service.resolve(d.disputeId, DisputeOutcome.CORRECTED, "principal corrected", accountValue("L-1", { creditLimit: "200000" }), "a");
    expect(r.outcome).toBe(DisputeOutcome.CORRECTED);
    const [t] = await f.tradelines(X);
    expect(t).toMatchObject({ accountRef: f.refOf("L-1"), balance: "200000", creditLimit: "200000", dispute: DisputeFlag.NONE });
  });

  it("CORRECTED checks the corrected record: required, same account, valid — and a refusal changes nothing", async () => {
    const f = await holderWithLoans("L-1", "L-2");
    const d = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "why", "a");
    await expectCode(f.service.resolve(d.disputeId, DisputeOutcome.CORRECTED, "", undefined, "a"), "VALIDATION_FAILED", "corrected");
    await expectCode(
      f.service.resolve(d.disputeId, DisputeOutcome.CORRECTED, "", accountValue("L-2", { creditLimit: "1" }), "a"),
      "VALIDATION_FAILED",
      "corrected.account_id",
    );
    await expectCode(
      f.service.resolve(d.disputeId, DisputeOutcome.CORRECTED, "", accountValue("L-1", { termMonths: 0 }), "a"),
      "VALIDATION_FAILED",
      "corrected.term_months",
    );
    await expectCode(
      f.service.resolve(d.disputeId, DisputeOutcome.CORRECTED, "", accountValue("L-1", { productType: ProductType.PRODUCT_TYPE_UNSPECIFIED }), "a"),
      "VALIDATION_FAILED",
      "corrected.product_type",
    );
    await expectCode(
      f.service.resolve(d.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "", accountValue("L-1"), "a"),
      "VALIDATION_FAILED",
      "corrected",
    );
    expect((await f.stores.disputes.get(d.disputeId))!.status).toBe(DisputeStatus.OPEN);
    const byRef = new Map((await f.tradelines(X)).map((t) => [t.accountRef, t]));
    expect(byRef.get(f.refOf("L-1"))).toMatchObject({ balance: "300000", dispute: DisputeFlag.DISPUTED });
    expect(byRef.get(f.refOf("L-2"))).toMatchObject({ balance: "300000", dispute: DisputeFlag.NONE });
  });

  it("DELETED destroys the account and closes every other open dispute of it", async () => {
    const f = await holderWithLoans("L-1", "L-2");
    const d1 = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "not my loan", "a");
    // Another open dispute of the account, filed through another member (one per filer).
    const d2 = await f.service.receive(
      {
        ...d1,
        disputeId: "0d6c3a52-7f1e-4a0b-9c55-2b8e1d4f6a70",
        reason: "also the dates are wrong",
        filedViaInstitutionId: "bank-a",
        consent: f.consentOf("bank-a", X),
      },
      "bank-a",
    );
    const other = await f.service.file(f.token(X), "cfc-b", f.refOf("L-2"), "another account", "a");
    await f.service.resolve(d1.disputeId, DisputeOutcome.DELETED, "opened by fraud", undefined, "a");
    expect((await f.tradelines(X)).map((t) => t.accountRef)).toEqual([f.refOf("L-2")]);
    expect(await f.stores.records.getAccounts([f.refOf("L-1")])).toEqual([undefined]);
    expect(await f.stores.records.repaymentsForAccount(f.refOf("L-1"))).toEqual([]);
    expect(await f.stores.disputes.get(d2.disputeId)).toMatchObject({ status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.DELETED });
    expect((await f.service.list(false)).map((d) => d.disputeId)).toEqual([other.disputeId]);
    // A correction cannot bring a deleted account back.
    await expectCode(f.service.resolve(other.disputeId, DisputeOutcome.CORRECTED, "", accountValue("L-1"), "a"), "VALIDATION_FAILED", "corrected.account_id");
  });

  it("refuses unknown, already resolved and foreign disputes, and unknown outcomes, each by its code", async () => {
    const router: DisputeRouter = { send: async (_id, d) => ({ ...d, respondBy: new Date(d.filedAt!.getTime() + 30 * DAY_MS) }), status: notAsked };
    fx = await disputeFixture({ router });
    const f = fx;
    await f.furnish(loan("L-1"));
    await f.grant(X);
    const d = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "why", "a");
    await expectCode(f.service.resolve(d.disputeId, DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED, "", undefined, "a"), "VALIDATION_FAILED", "outcome");
    await expectCode(f.service.resolve(d.disputeId, 99 as DisputeOutcome, "", undefined, "a"), "VALIDATION_FAILED", "outcome");
    await expectCode(f.service.resolve(d.disputeId, DisputeOutcome.DELETED, "n".repeat(1001), undefined, "a"), "VALIDATION_FAILED", "note");
    await expectCode(f.service.resolve("", DisputeOutcome.DELETED, "", undefined, "a"), "VALIDATION_FAILED", "dispute_id");
    await expectCode(f.service.resolve("00000000-0000-0000-0000-000000000000", DisputeOutcome.DELETED, "", undefined, "a"), "NOT_FOUND", "dispute_id");
    await f.service.resolve(d.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "", undefined, "a");
    await expectCode(f.service.resolve(d.disputeId, DisputeOutcome.DELETED, "", undefined, "a"), "CONFLICT");
    expect(await f.stores.records.getAccounts([f.refOf("L-1")])).not.toEqual([undefined]);

    // A copy of a dispute filed with another holder cannot be resolved here.
    const copy = await f.service.file(f.token(X), "bank-a", "abcdef0123456789", "why", "a");
    await expectCode(f.service.resolve(copy.disputeId, DisputeOutcome.DELETED, "", undefined, "a"), "NOT_FOUND", "dispute_id");
  });

  it("counts the open disputes it holds, pending and past their deadline, not copies nor resolved ones", async () => {
    const router: DisputeRouter = { send: async (_id, d) => ({ ...d, respondBy: new Date(d.filedAt!.getTime() + 30 * DAY_MS) }), status: notAsked };
    fx = await disputeFixture({ router });
    const f = fx;
    await f.furnish(loan("L-1"), loan("L-2"), loan("L-3"));
    await f.grant(X);
    expect(await f.service.openCounts()).toEqual({ pending: 0, overdue: 0 });
    const early = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "why", "a");
    f.clock.advance(10 * DAY_MS);
    await f.service.file(f.token(X), "cfc-b", f.refOf("L-2"), "why", "a");
    const answered = await f.service.file(f.token(X), "cfc-b", f.refOf("L-3"), "why", "a");
    await f.service.resolve(answered.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "", undefined, "a");
    await f.service.file(f.token(X), "bank-a", "abcdef0123456789", "a copy", "a");
    expect(await f.service.openCounts()).toEqual({ pending: 2, overdue: 0 });
    f.clock.set(new Date(early.respondBy!.getTime() + 1));
    expect(await f.service.openCounts()).toEqual({ pending: 1, overdue: 1 });
  });

  it("two concurrent resolutions of one dispute: exactly one wins", async () => {
    const f = await holderWithLoans("L-1");
    const d = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "why", "a");
    const results = await Promise.allSettled([
      f.service.resolve(d.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "", undefined, "a"),
      f.service.resolve(d.disputeId, DisputeOutcome.DELETED, "", undefined, "a"),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    // The first queued one won; the account is still there.
    expect(results[0]!.status).toBe("fulfilled");
    expect((await f.tradelines(X))[0]!.dispute).toBe(DisputeFlag.RESOLVED_DISAGREES);
  });
});

describe("filing through another node", () => {
  const holderRecord = (d: Dispute): Dispute => ({ ...d, filedAt: new Date("2026-03-01T00:00:05Z"), respondBy: new Date("2026-03-31T00:00:05Z") });

  it("routes to the holder, keeps the holder's record as a copy that does not affect its own tradelines or list", async () => {
    const send = vi.fn<DisputeRouter["send"]>(async (_id, d) => holderRecord(d));
    fx = await disputeFixture({ institutionId: "bank-a", router: { send, status: notAsked } });
    const f = fx;
    await f.furnish(loan("L-1"));
    const consent = await f.grant(X);
    const d = await f.service.file(f.token(X), "cfc-b", "0123456789abcdef0123456789abcdef", "not mine", "apikey:k1");
    expect(send).toHaveBeenCalledTimes(1);
    const [holderId, sent, signal] = send.mock.calls[0]!;
    expect(holderId).toBe("cfc-b");
    expect(sent).toMatchObject({ institutionId: "cfc-b", accountRef: "0123456789abcdef0123456789abcdef", subjectToken: f.token(X), filedViaInstitutionId: "bank-a", reason: "not mine" });
    // The borrower's consent to the filer goes with it, for the holder to check.
    expect(sent.consent).toEqual(consent);
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(d.respondBy).toEqual(new Date("2026-03-31T00:00:05Z"));
    expect(await f.service.get(d.disputeId)).toEqual(d);
    expect(await f.service.list(true)).toEqual([]);
    expect((await f.tradelines(X))[0]!.dispute).toBe(DisputeFlag.NONE);
    expect(f.audit.map((e) => e.action)).toEqual(["DISPUTE_FILED"]);
  });

  it("does not store anything when the holder refuses or answers with another dispute", async () => {
    const refusing: DisputeRouter = {
      send: async () => {
        throw new (await import("../../../src/errors.js")).CreditMeshError("NOT_FOUND", "account_ref: no such account", { field: "account_ref" });
      },
      status: notAsked,
    };
    fx = await disputeFixture({ institutionId: "bank-a", router: refusing });
    await fx.grant(X);
    await expectCode(fx.service.file(fx.token(X), "cfc-b", "0123456789abcdef", "why", "a"), "NOT_FOUND", "account_ref");
    expect(await fx.stores.disputes.listAll()).toEqual([]);
    await fx.close();

    fx = await disputeFixture({ institutionId: "bank-a", router: { send: async (_id, d) => ({ ...holderRecord(d), accountRef: "ffffffffffffffff" }), status: notAsked } });
    await fx.grant(X);
    await expectCode(fx.service.file(fx.token(X), "cfc-b", "0123456789abcdef", "why", "a"), "UNAVAILABLE");
    expect(await fx.stores.disputes.listAll()).toEqual([]);
    expect(fx.audit).toEqual([]);
  });
});

describe("following a dispute filed through another node", () => {
  const holderRecord = (d: Dispute): Dispute => ({ ...d, filedAt: new Date("2026-03-01T00:00:05Z"), respondBy: new Date("2026-03-31T00:00:05Z") });
  const resolved = (d: Dispute): Dispute => ({
    ...holderRecord(d),
    status: DisputeStatus.RESOLVED,
    outcome: DisputeOutcome.VERIFIED_ACCURATE,
    note: "checked against the contract",
    resolvedAt: new Date("2026-03-05T00:00:00Z"),
  });

  it("asks the holder while the copy is open, keeps the resolution, and stops asking once resolved", async () => {
    let holder: Dispute | undefined;
    const status = vi.fn<DisputeRouter["status"]>(async (_id, disputeId) => {
      if (!holder || holder.disputeId !== disputeId) throw new Error("unknown");
      return holder;
    });
    fx = await disputeFixture({ institutionId: "bank-a", router: { send: async (_id, d) => (holder = holderRecord(d)), status } });
    await fx.grant(X);
    const d = await fx.service.file(fx.token(X), "cfc-b", "0123456789abcdef0123456789abcdef", "not mine", "a");

    expect(await fx.service.current(d.disputeId)).toEqual({ dispute: d, current: true });
    expect(status).toHaveBeenCalledTimes(1);
    expect(status.mock.calls[0]!.slice(0, 2)).toEqual(["cfc-b", d.disputeId]);
    expect(status.mock.calls[0]![2]).toBeInstanceOf(AbortSignal);

    holder = resolved(holder!);
    const now = await fx.service.current(d.disputeId);
    expect(now).toEqual({ dispute: holder, current: true });
    // The copy keeps what the holder said, and a resolved dispute is not asked about again.
    expect(await fx.service.get(d.disputeId)).toEqual(holder);
    expect(await fx.service.current(d.disputeId)).toEqual({ dispute: holder, current: true });
    expect(status).toHaveBeenCalledTimes(2);
    // Still not this node's dispute: its own list stays empty.
    expect(await fx.service.list(true)).toEqual([]);
  });

  it("answers the last known copy, not current, when the holder fails or answers with another dispute", async () => {
    let answer: (d: Dispute) => Promise<Dispute> = async () => {
      throw new (await import("../../../src/errors.js")).CreditMeshError("P2P_UNREACHABLE", "no connection");
    };
    let filed: Dispute | undefined;
    fx = await disputeFixture({ institutionId: "bank-a", router: { send: async (_id, d) => holderRecord(d), status: async () => answer(filed!) } });
    await fx.grant(X);
    filed = await fx.service.file(fx.token(X), "cfc-b", "0123456789abcdef0123456789abcdef", "not mine", "a");
    expect(await fx.service.current(filed.disputeId)).toEqual({ dispute: filed, current: false });

    answer = async (d) => ({ ...resolved(d), accountRef: "ffffffffffffffff" });
    expect(await fx.service.current(filed.disputeId)).toEqual({ dispute: filed, current: false });
    expect(await fx.service.get(filed.disputeId)).toEqual(filed);
  });

  it("a holder's own dispute is current without asking anyone; unknown and malformed ids are refused by field", async () => {
    const f = await holderWithLoans("L-1");
    const d = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "why", "a");
    expect(await f.service.current(d.disputeId)).toEqual({ dispute: d, current: true });
    await expectCode(f.service.current(""), "VALIDATION_FAILED", "dispute_id");
    await expectCode(f.service.current("bad id!"), "VALIDATION_FAILED", "dispute_id");
    await expectCode(f.service.current("00000000-0000-4000-8000-000000000000"), "NOT_FOUND", "dispute_id");
  });

  it("lists one subject's disputes held or filed here, open copies refreshed, in list order, naming those not current", async () => {
    const answers = new Map<string, Dispute | "down">();
    const status = vi.fn<DisputeRouter["status"]>(async (_id, disputeId) => {
      const a = answers.get(disputeId);
      if (a === undefined || a === "down") throw new Error("holder down");
      return a;
    });
    fx = await disputeFixture({ institutionId: "cfc-b", router: { send: async (_id, d) => holderRecord(d), status } });
    const f = fx;
    await f.furnish(loan("L-1"));
    await f.grant(X);
    await f.grant(Y);
    const own = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "held here", "a");
    f.clock.advance(DAY_MS);
    const routedA = await f.service.file(f.token(X), "bank-a", "0123456789abcdef0123456789abcdef", "routed, resolved since", "a");
    const routedB = await f.service.file(f.token(X), "ecom-c", "fedcba9876543210fedcba9876543210", "routed, holder down", "a");
    await f.service.file(f.token(Y), "bank-a", "00112233445566778899aabbccddeeff", "another borrower", "a");
    answers.set(routedA.disputeId, resolved(routedA));
    answers.set(routedB.disputeId, "down");

    const open = await f.service.listForSubject(f.token(X), false);
    // Open ones soonest deadline first: the copy carries the holder's deadline, later than this node's own.
    expect(own.respondBy!.getTime()).toBeLessThan(routedB.respondBy!.getTime());
    expect(open.disputes.map((d) => d.disputeId)).toEqual([own.disputeId, routedB.disputeId]);
    expect(open.notCurrent).toEqual([routedB.disputeId]);
    // The resolution was kept: asked once, not again.
    expect(await f.service.get(routedA.disputeId)).toEqual(resolved(routedA));

    const all = await f.service.listForSubject(f.token(X), true);
    expect(all.disputes.map((d) => d.disputeId)).toEqual([...open.disputes.map((d) => d.disputeId), routedA.disputeId]);
    expect(status.mock.calls.filter(([, id]) => id === routedA.disputeId)).toHaveLength(1);
    expect((await f.service.listForSubject(f.token(Y), true)).disputes.map((d) => d.reason)).toEqual(["another borrower"]);
    await expectCode(f.service.listForSubject("not a token", true), "VALIDATION_FAILED", "subject");
  });

  it("the holder shows a dispute only to the member it was filed through", async () => {
    const f = await holderWithLoans("L-1");
    const routed = routedDispute(f);
    const stored = await f.service.receive(routed, "bank-a");
    expect(await f.service.statusFor(routed.disputeId, "bank-a")).toEqual(stored);
    await expectCode(f.service.statusFor(routed.disputeId, "ecom-c"), "NOT_FOUND", "dispute_id");
    // Its own dispute, filed here: not filed through any other member.
    const own = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "why", "a");
    await expectCode(f.service.statusFor(own.disputeId, "bank-a"), "NOT_FOUND", "dispute_id");
    await expectCode(f.service.statusFor("00000000-0000-4000-8000-000000000000", "bank-a"), "NOT_FOUND", "dispute_id");
    const resolvedHere = await f.service.resolve(routed.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "ok", undefined, "a");
    expect(await f.service.statusFor(routed.disputeId, "bank-a")).toEqual(resolvedHere);
  });
});

describe("receiving a routed dispute", () => {
  const routed = (f: DisputeFixture, over: Partial<Dispute> = {}): Dispute =>
    routedDispute(f, {
      status: DisputeStatus.DISPUTE_STATUS_UNSPECIFIED,
      outcome: DisputeOutcome.CORRECTED,
      note: "set by the filer, ignored",
      filedAt: new Date("2020-01-01T00:00:00Z"),
      respondBy: new Date("2099-01-01T00:00:00Z"),
      ...over,
    });

  it("stores it OPEN with the holder's own clock and deadline, whatever the filer claimed", async () => {
    const f = await holderWithLoans("L-1");
    const sent = routed(f);
    const d = await f.service.receive(sent, "bank-a");
    expect(d).toMatchObject({ status: DisputeStatus.OPEN, outcome: DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED, note: "", filedViaInstitutionId: "bank-a" });
    expect(d.filedAt).toEqual(f.clock.now());
    expect(d.respondBy).toEqual(new Date(f.clock.now().getTime() + 30 * DAY_MS));
    expect(f.audit).toEqual([
      {
        action: "DISPUTE_RECEIVED",
        actor: "institution:bank-a",
        details: { disputeId: d.disputeId, subjectToken: f.token(X), institutionId: "cfc-b", accountRef: f.refOf("L-1"), consentId: sent.consent!.consentId },
      },
    ]);
    // Kept with the dispute: what entitled the filer to it.
    expect((await f.stores.disputes.get(d.disputeId))!.consent).toEqual(sent.consent);
    expect((await f.tradelines(X))[0]!.dispute).toBe(DisputeFlag.DISPUTED);
  });

  it("answers a repeated delivery with the stored dispute and changes nothing; a reused id with other content is CONFLICT", async () => {
    const f = await holderWithLoans("L-1");
    const first = await f.service.receive(routed(f), "bank-a");
    f.clock.advance(DAY_MS);
    expect(await f.service.receive(routed(f), "bank-a")).toEqual(first);
    await f.service.resolve(first.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "", undefined, "a");
    // A replay after the resolution does not reopen it.
    expect((await f.service.receive(routed(f), "bank-a")).status).toBe(DisputeStatus.RESOLVED);
    await expectCode(f.service.receive(routed(f, { reason: "something else" }), "bank-a"), "CONFLICT");
    expect(f.audit.filter((e) => e.action === "DISPUTE_RECEIVED")).toHaveLength(1);
  });

  it("refuses another holder's dispute, a filer that is not the sender, an account of another subject and bad fields", async () => {
    const f = await holderWithLoans("L-1");
    await f.furnish(account({ accountId: "L-Y", idNumber: Y }));
    await expectCode(f.service.receive(routed(f, { institutionId: "ecom-c" }), "bank-a"), "NOT_FOUND", "institution_id");
    await expectCode(f.service.receive(routed(f), "ecom-c"), "MEMBERSHIP_DENIED");
    await expectCode(f.service.receive(routed(f, { accountRef: f.refOf("L-Y") }), "bank-a"), "NOT_FOUND", "account_ref");
    await expectCode(f.service.receive(routed(f, { subjectToken: f.token(Y), consent: f.consentOf("bank-a", Y) }), "bank-a"), "NOT_FOUND", "account_ref");
    await expectCode(f.service.receive(routed(f, { reason: "" }), "bank-a"), "VALIDATION_FAILED", "reason");
    await expectCode(f.service.receive(routed(f, { disputeId: "a!b" }), "bank-a"), "VALIDATION_FAILED", "dispute_id");
    await expectCode(f.service.receive(routed(f, { subjectToken: "not-a-token" }), "bank-a"), "VALIDATION_FAILED", "subject_token");
    expect(await f.stores.disputes.listAll()).toEqual([]);
  });
});

describe("listing", () => {
  it("lists open disputes soonest deadline first, and resolved ones after them with --all", async () => {
    const f = await holderWithLoans("L-1", "L-2", "L-3");
    const a = await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "a", "x");
    f.clock.advance(DAY_MS);
    const b = await f.service.file(f.token(X), "cfc-b", f.refOf("L-2"), "b", "x");
    f.clock.advance(DAY_MS);
    const c = await f.service.file(f.token(X), "cfc-b", f.refOf("L-3"), "c", "x");
    const rb = await f.service.resolve(b.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "", undefined, "x");
    expect((await f.service.list(false)).map((d) => d.disputeId)).toEqual([a.disputeId, c.disputeId]);
    expect((await f.service.list(false)).map((d) => d.respondBy)).toEqual([a.respondBy, c.respondBy]);
    expect(await f.service.list(true)).toEqual([a, c, rb]);
  });
});

describe("a dispute is filed on the borrower's behalf: the filer must hold the borrower's consent", () => {
  const routed = (f: DisputeFixture, consent: Dispute["consent"]): Dispute =>
    routedDispute(f, { disputeId: "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", consent });

  /** A holder of X's loan L-1 (with no consent of its own recorded). */
  async function holder(): Promise<DisputeFixture> {
    fx = await disputeFixture();
    await fx.furnish(loan("L-1"));
    return fx;
  }

  const refusals: [string, (f: DisputeFixture) => Promise<Dispute["consent"]>][] = [
    ["no consent (a filer that predates the rule)", async () => undefined],
    ["a consent granted to another institution", async (f) => f.consentOf("ecom-c", X)],
    ["a consent for another subject", async (f) => f.consentOf("bank-a", Y)],
    [
      "an expired consent",
      async (f) => f.consentOf("bank-a", X, { validFrom: new Date(f.clock.now().getTime() - 10 * DAY_MS), validUntil: new Date(f.clock.now().getTime() - 1) }),
    ],
    [
      "a revoked consent",
      async (f) => {
        const c = f.consentOf("bank-a", X);
        await f.stores.consents.putRevocation("bank-a", c.consentId, f.clock.now());
        return c;
      },
    ],
    ["a consent whose grantee signature is forged (signed with another member's key)", async (f) => signConsent(f.consentOf("bank-a", X), f.keyOf("ecom-c"))],
    ["a consent altered after signing", async (f) => ({ ...f.consentOf("bank-a", X), validUntil: new Date("2099-01-01T00:00:00Z") })],
  ];

  it.each(refusals)("the holder refuses %s with CONSENT_DENIED on consent, storing nothing and leaving the flag", async (_what, consentFor) => {
    const f = await holder();
    const consent = await consentFor(f);
    await expectCode(f.service.receive(routed(f, consent), "bank-a"), "CONSENT_DENIED", "consent");
    expect(await f.stores.disputes.listAll()).toEqual([]);
    expect(f.audit).toEqual([]);
    expect((await f.tradelines(X))[0]!.dispute).toBe(DisputeFlag.NONE);
  });

  it("the holder accepts the filer's consent whatever its purpose, and from valid_from minus the clock skew", async () => {
    const f = await holder();
    const consent = f.consentOf("bank-a", X, { purpose: Purpose.FURNISHING, validFrom: new Date(f.clock.now().getTime() + 30_000) });
    const d = await f.service.receive(routed(f, consent), "bank-a");
    expect(d.status).toBe(DisputeStatus.OPEN);
    expect((await f.tradelines(X))[0]!.dispute).toBe(DisputeFlag.DISPUTED);
  });

  it("a consent's evidence_ref holding an ID number is refused by the holder, which would store it", async () => {
    const f = await holder();
    const consent = f.consentOf("bank-a", X, { evidenceRef: `auth-${X}` });
    await expectCode(f.service.receive(routed(f, consent), "bank-a"), "VALIDATION_FAILED", "consent.evidence_ref");
    expect(await f.stores.disputes.listAll()).toEqual([]);
  });

  it("a filer without a usable consent of the borrower is refused on subject and sends nothing", async () => {
    const send = vi.fn<DisputeRouter["send"]>(notAsked);
    fx = await disputeFixture({ institutionId: "bank-a", router: { send, status: notAsked } });
    const f = fx;
    const file = () => f.service.file(f.token(X), "cfc-b", "0123456789abcdef0123456789abcdef", "not mine", "a");
    const err = await expectCode(file(), "CONSENT_DENIED", "subject");
    expect(err.message).toContain("record the borrower's consent");
    // Another borrower's consent, an expired one and a revoked one do not count either.
    await f.grant(Y);
    await f.grant(X, { validUntil: new Date(f.clock.now().getTime() + DAY_MS) });
    await f.consents.revoke((await f.grant(X)).consentId);
    f.clock.advance(DAY_MS);
    await expectCode(file(), "CONSENT_DENIED", "subject");
    expect(send).not.toHaveBeenCalled();
    expect(await f.stores.disputes.listAll()).toEqual([]);
    expect(f.audit).toEqual([]);
  });

  it("the holder's own dispute needs the same consent, checked locally", async () => {
    const f = await holder();
    await expectCode(f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "why", "a"), "CONSENT_DENIED", "subject");
    expect(await f.stores.disputes.listAll()).toEqual([]);
    expect((await f.tradelines(X))[0]!.dispute).toBe(DisputeFlag.NONE);
    await f.grant(X, { purpose: Purpose.POST_LOAN_MANAGEMENT });
    expect((await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "why", "a")).status).toBe(DisputeStatus.OPEN);
  });
});

describe("one open dispute per account and filing member", () => {
  const from = (f: DisputeFixture, filer: string, disputeId: string): Dispute =>
    routedDispute(f, { disputeId, filedViaInstitutionId: filer, consent: f.consentOf(filer, X) });
  const FIRST = "11111111-1111-4111-8111-111111111111";
  const SECOND = "22222222-2222-4222-8222-222222222222";
  const openOf = async (f: DisputeFixture) => (await f.stores.disputes.listOpen()).map((d) => [d.disputeId, d.filedViaInstitutionId]);

  it("a second filing by the same member is CONFLICT on account_ref naming the open one, and changes nothing", async () => {
    const f = await holderWithLoans("L-1");
    const first = await f.service.receive(from(f, "bank-a", FIRST), "bank-a");
    const err = await expectCode(f.service.receive(from(f, "bank-a", SECOND), "bank-a"), "CONFLICT", "account_ref");
    expect(err.message).toContain(first.disputeId);
    expect(await openOf(f)).toEqual([[FIRST, "bank-a"]]);
    expect(await f.stores.disputes.get(SECOND)).toBeUndefined();
    expect(f.audit.filter((e) => e.action === "DISPUTE_RECEIVED")).toHaveLength(1);
    // A replay of the open one is still answered with it.
    expect(await f.service.receive(from(f, "bank-a", FIRST), "bank-a")).toEqual(first);
    // The holder's own filings follow the same rule.
    await f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "why", "a");
    await expectCode(f.service.file(f.token(X), "cfc-b", f.refOf("L-1"), "again", "a"), "CONFLICT", "account_ref");
  });

  it("two concurrent filings by one member: exactly one is opened", async () => {
    const f = await holderWithLoans("L-1");
    const results = await Promise.allSettled([f.service.receive(from(f, "bank-a", FIRST), "bank-a"), f.service.receive(from(f, "bank-a", SECOND), "bank-a")]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(await f.stores.disputes.listOpen()).toHaveLength(1);
    expect(f.audit.filter((e) => e.action === "DISPUTE_RECEIVED")).toHaveLength(1);
  });

  it("another member's filing of the same account is accepted", async () => {
    const f = await holderWithLoans("L-1");
    await f.service.receive(from(f, "bank-a", FIRST), "bank-a");
    await f.service.receive(from(f, "ecom-c", SECOND), "ecom-c");
    expect((await openOf(f)).sort()).toEqual([
      [FIRST, "bank-a"],
      [SECOND, "ecom-c"],
    ]);
  });

  it("once the open one is resolved, the member may file again", async () => {
    const f = await holderWithLoans("L-1");
    await f.service.receive(from(f, "bank-a", FIRST), "bank-a");
    await f.service.resolve(FIRST, DisputeOutcome.VERIFIED_ACCURATE, "checked", undefined, "a");
    const again = await f.service.receive(from(f, "bank-a", SECOND), "bank-a");
    expect(again.status).toBe(DisputeStatus.OPEN);
    expect((await f.tradelines(X))[0]!.dispute).toBe(DisputeFlag.DISPUTED);
  });
});

describe("a holder's note is screened before the filer keeps it", () => {
  const holderRecord = (d: Dispute): Dispute => ({ ...d, filedAt: new Date("2026-03-01T00:00:05Z"), respondBy: new Date("2026-03-31T00:00:05Z") });
  const leaky = (d: Dispute): Dispute => ({
    ...holderRecord(d),
    status: DisputeStatus.RESOLVED,
    outcome: DisputeOutcome.VERIFIED_ACCURATE,
    note: `客户身份证 ${X} 已核实`,
    resolvedAt: new Date("2026-03-05T00:00:00Z"),
  });

  it("a status answer whose note holds a resident ID number leaves the copy as it was, not current", async () => {
    let filed: Dispute | undefined;
    fx = await disputeFixture({ institutionId: "bank-a", router: { send: async (_id, d) => holderRecord(d), status: async () => leaky(filed!) } });
    await fx.grant(X);
    filed = await fx.service.file(fx.token(X), "cfc-b", "0123456789abcdef0123456789abcdef", "not mine", "a");
    expect(await fx.service.current(filed.disputeId)).toEqual({ dispute: filed, current: false });
    expect(await fx.service.get(filed.disputeId)).toEqual(filed);
    expect(await fx.service.listForSubject(fx.token(X), true)).toEqual({ disputes: [filed], notCurrent: [filed.disputeId] });
  });

  it("a filing answered with such a note is refused UNAVAILABLE and nothing is kept", async () => {
    fx = await disputeFixture({ institutionId: "bank-a", router: { send: async (_id, d) => leaky(d), status: notAsked } });
    await fx.grant(X);
    const err = await expectCode(fx.service.file(fx.token(X), "cfc-b", "0123456789abcdef0123456789abcdef", "not mine", "a"), "UNAVAILABLE");
    expect(err.message).not.toContain(X);
    expect(await fx.stores.disputes.listAll()).toEqual([]);
    expect(fx.audit).toEqual([]);
  });
});
