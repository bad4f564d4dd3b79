import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LevelAuditLog } from "../../../src/audit/level-audit-log.js";
import { isoDate, ManualClock } from "../../../src/clock.js";
import { HolderStatus, ProductType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import type { QueryRequest } from "../../../src/gen/creditmesh/v1/peer.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { QueryQuota } from "../../../src/report/query-quota.js";
import { HolderService, type AnswerLog } from "../../../src/report/holder.js";
import { openStores, type Stores } from "../../../src/store/index.js";
import { tempDir } from "../../helpers/temp.js";
import { activeConsent } from "../../helpers/consent.js";

const lender = generateNodeKey();
const holderKey = generateNodeKey();
const TOKEN = "ab".repeat(32);

let tmp: ReturnType<typeof tempDir>;
let stores: Stores;
let audit: LevelAuditLog;
let clock: ManualClock;

beforeEach(async () => {
  tmp = tempDir("cm-holder-");
  stores = await openStores(tmp.dir, { dataKeys: [{ id: "k1", key: randomBytes(32) }] });
  clock = new ManualClock("2026-03-01T00:00:00Z");
  audit = await LevelAuditLog.open(stores.db, { clock });
});

afterEach(async () => {
  await stores.close();
  tmp.remove();
});

function holder(institutionId = "cfc-b", trail: ConstructorParameters<typeof HolderService>[1]["audit"] = audit, quota?: QueryQuota, answerLog?: AnswerLog) {
  return new HolderService(
    { institutionId },
    {
      subjects: stores.subjects,
      records: stores.records,
      consents: stores.consents,
      inquiries: stores.inquiries,
      disputes: stores.disputes,
      sign: (d) => holderKey.sign(d),
      verifyGranteeSignature: (_id, data, sig) => lender.verify(data, sig),
      inquirerPseudonym: (_token, id) => `p-${id}`,
      audit: trail,
      clock,
      logger: silentLogger(),
      quota,
      answerLog,
    },
  );
}

function query(over: Partial<Consent> = {}): QueryRequest {
  const now = clock.now();
  const consent = activeConsent({ subjectToken: TOKEN, grantee: "bank-a", signer: lender, now }, over);
  return {
    requestId: randomUUID(),
    requesterInstitutionId: "bank-a",
    subjectToken: TOKEN,
    purpose: Purpose.LOAN_ORIGINATION,
    consent,
    issuedAt: now,
    nonce: randomBytes(16),
    asOf: isoDate(now),
    inquiryProof: 0,
  };
}

/** A nonce claim's writes, as the query handler hands them over. */
function nonceOps() {
  const claim = stores.nonces.claim("bank-a", randomBytes(8).toString("hex"), new Date(clock.now().getTime() + 60_000))!;
  return claim.batch;
}

async function trail() {
  const entries = [];
  for await (const e of audit.export()) entries.push(e);
  return entries;
}

describe("HolderService", () => {
  it("commits the inquiry, its QUERY_ANSWERED entry and the request's nonce in one synced batch", async () => {
    const write = vi.spyOn(stores.db, "write");
    const q = query();
    const quota = await QueryQuota.open(5, stores.queryQuota, clock.now());
    const signed = await holder("cfc-b", audit, quota).answer(q, { also: nonceOps() });
    expect(signed.answer.status).toBe(HolderStatus.NO_DATA);
    expect(signed.answer.inquiries.map((i) => i.inquiryId)).toEqual([q.requestId]);
    expect(write).toHaveBeenCalledTimes(1);
    const ops = write.mock.calls[0][0];
    // The inquiry (log and window index), the audit entry and head, the nonce, and the requester's count for the subject.
    const { levels } = stores.db;
    expect(ops.map((op) => op.sublevel.prefix).sort()).toEqual(
      [levels.audit, levels.subj, levels.subj, levels.meta, levels.nonce, levels.nonce, levels.qquota].map((l) => l.prefix).sort(),
    );
    expect(quota.used("bank-a", TOKEN)).toBe(1);
    expect((await trail()).map((e) => e.action)).toEqual(["QUERY_ANSWERED"]);
    expect(await stores.nonces.prune(new Date(clock.now().getTime() + 120_000))).toBe(1);
  });

  it("commits a refusal's entry with the nonce too", async () => {
    const write = vi.spyOn(stores.db, "write");
    const signed = await holder().answer(query({ purpose: Purpose.POST_LOAN_MANAGEMENT }), { also: nonceOps() });
    expect(signed.answer.status).toBe(HolderStatus.DENIED);
    expect(write).toHaveBeenCalledTimes(1);
    expect((await trail()).map((e) => e.action)).toEqual(["QUERY_REFUSED"]);
    expect(await stores.nonces.prune(new Date(clock.now().getTime() + 120_000))).toBe(1);
  });

  it("records the lender's own QUERY_SENT entry with its own inquiry, and with a refusal", async () => {
    const own = holder("bank-a");
    const sent = { action: "QUERY_SENT" as const, actor: "key-1", details: { requestId: "r-1" } };
    const write = vi.spyOn(stores.db, "write");
    expect((await own.answer(query(), { entry: sent })).answer.status).toBe(HolderStatus.NO_DATA);
    expect(write).toHaveBeenCalledTimes(1);
    expect(await stores.inquiries.listForSubject(TOKEN)).toHaveLength(1);
    expect((await own.answer(query({ validUntil: clock.now() }), { entry: sent })).answer.status).toBe(HolderStatus.DENIED);
    expect((await trail()).map((e) => e.action)).toEqual(["QUERY_SENT", "QUERY_SENT", "QUERY_REFUSED"]);
    expect((await audit.verify()).ok).toBe(true);
  });

  it("refuses to drop writes it was handed when its trail cannot batch them", async () => {
    const appendOnly = { append: async () => undefined };
    await expect(holder("cfc-b", appendOnly).answer(query({ purpose: Purpose.POST_LOAN_MANAGEMENT }), { also: nonceOps() })).rejects.toMatchObject({
      code: "INTERNAL",
    });
  });

  it("answers a consent that a lender whose clock runs 2 s ahead has just issued (the allowed skew), not one from beyond it", async () => {
    const justIssued = query({ validFrom: new Date(clock.now().getTime() + 2_000) });
    expect((await holder().answer(justIssued)).answer.status).toBe(HolderStatus.NO_DATA);
    const tooEarly = query({ validFrom: new Date(clock.now().getTime() + 60_001) });
    const refused = await holder().answer(tooEarly);
    expect(refused.answer).toMatchObject({ status: HolderStatus.DENIED, reason: "consent is not yet valid" });
  });

  it("starts reading its proof's record leaves before the inquiry is durable, and hands them to the proof", async () => {
    const ref = "c0".repeat(32);
    await stores.records.writeRecords(
      [
        {
          accountRef: ref,
          subjectToken: TOKEN,
          pii: stores.cipher.sealPii({ idType: "CN_RESIDENT_ID", idNumber: "110101198501010016", name: "Li Wei", phone: "", accountId: "ACC-1" }, ref),
          productType: ProductType.INSTALLMENT_LOAN,
          openedOn: "2026-01-05",
          closedOn: "",
          creditLimit: 50_000,
          termMonths: 3,
          currency: "CNY",
          chargedOff: false,
          furnishingConsentRef: "consent-1",
          updatedAt: "2026-01-05T00:00:00.000Z",
        },
      ],
      [undefined],
      [],
    );
    const steps: string[] = [];
    let leavesAsked!: () => void;
    const asked = new Promise<void>((resolve) => (leavesAsked = resolve));
    // The inquiry's write stays on its way to disk until the leaves are asked for: asked only after it, the answer never comes.
    const logged = await LevelAuditLog.open(stores.db, {
      clock,
      logCarrier: async (ops) => {
        await asked;
        await stores.db.write(ops);
        steps.push("inquiry durable");
        return 41;
      },
    });
    const reads = { read: "ahead" };
    const proofs: Parameters<AnswerLog["prove"]>[0][] = [];
    const answerLog: AnswerLog = {
      inquiryLeaf: () => ({ leaf: new Uint8Array([7]), queryHash: new Uint8Array(32) }),
      readRecordLeaves: (refs) => {
        steps.push(`leaves of ${refs.join(",")}`);
        leavesAsked();
        return reads;
      },
      prove: async (input) => {
        steps.push("prove");
        proofs.push(input);
        return undefined;
      },
    };
    const signed = await holder("cfc-b", logged, undefined, answerLog).answer(query(), { signedQuery: new Uint8Array([1, 2, 3]) });
    expect(signed.answer.status).toBe(HolderStatus.OK);
    expect(steps).toEqual([`leaves of ${ref}`, "inquiry durable", "prove"]);
    expect(proofs).toEqual([{ inquiryIndex: 41, signedQueryHash: new Uint8Array(32), accountRefs: [ref], recordsUnprovable: undefined, reads }]);
  });

  it("refuse(): one signed DENIED answer and one QUERY_REFUSED entry, against the actor given", async () => {
    const q = query();
    const signed = await holder().refuse(q, "rate limit exceeded", { actor: "bank-a" });
    expect(signed.answer).toMatchObject({ status: HolderStatus.DENIED, reason: "rate limit exceeded", requestId: q.requestId, holderInstitutionId: "cfc-b" });
    expect(holderKey.verify(signed.signedAnswer, signed.signature)).toBe(true);
    const entries = await trail();
    expect(entries.map((e) => [e.action, e.actor])).toEqual([["QUERY_REFUSED", "bank-a"]]);
    expect(await stores.inquiries.listForSubject(TOKEN)).toEqual([]);
  });
});
