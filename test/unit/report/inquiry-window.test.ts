import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isoDate, ManualClock } from "../../../src/clock.js";
import { HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { HolderAnswer, type Inquiry } from "../../../src/gen/creditmesh/v1/report.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { createMetrics } from "../../../src/metrics.js";
import { HolderService, MEMBER_QUOTA_EXCEEDED, QUOTA_EXCEEDED } from "../../../src/report/holder.js";
import { QueryQuota } from "../../../src/report/query-quota.js";
import { activeConsent } from "../../helpers/consent.js";
import { inquiryWindow, MAX_INQUIRIES_PER_ANSWER } from "../../../src/report/inquiry-window.js";
import { openStores, type Stores } from "../../../src/store/index.js";
import { tempDir } from "../../helpers/temp.js";

const HOUR_MS = 3600 * 1000;
const inquiry = (at: string, requester = "bank-a", purpose = Purpose.LOAN_ORIGINATION): Inquiry => ({
  inquiryId: randomUUID(),
  requesterInstitutionId: requester,
  requesterName: "",
  purpose,
  inquiredAt: new Date(at),
});

describe("inquiryWindow", () => {
  it("keeps the last 24 months up to as_of, nothing after it", () => {
    const { shown, total } = inquiryWindow(
      [inquiry("2024-03-01T10:00:00Z"), inquiry("2024-03-02T10:00:00Z"), inquiry("2026-03-01T10:00:00Z"), inquiry("2026-03-02T10:00:00Z")],
      "2026-03-01",
    );
    expect(shown.map((i) => isoDate(i.inquiredAt!))).toEqual(["2024-03-02", "2026-03-01"]);
    expect(total).toBe(2);
  });

  it("keeps one per requester, purpose and day: the latest", () => {
    const latest = inquiry("2026-02-01T18:00:00Z");
    const { shown, total } = inquiryWindow(
      [inquiry("2026-02-01T08:00:00Z"), latest, inquiry("2026-02-01T09:00:00Z", "cfc-b"), inquiry("2026-02-01T09:30:00Z", "bank-a", Purpose.POST_LOAN_MANAGEMENT)],
      "2026-03-01",
    );
    expect(total).toBe(3);
    expect(shown.map((i) => [i.requesterInstitutionId, i.purpose])).toEqual([
      ["cfc-b", Purpose.LOAN_ORIGINATION],
      ["bank-a", Purpose.POST_LOAN_MANAGEMENT],
      ["bank-a", Purpose.LOAN_ORIGINATION],
    ]);
    expect(shown[2]!.inquiryId).toBe(latest.inquiryId);
  });

  it("never sends on a logged inquiry whose id is not a request id's shape (a log written before holders refused them)", () => {
    const kept = inquiry("2026-02-01T08:00:00Z");
    const { shown, total } = inquiryWindow([{ ...inquiry("2026-02-02T08:00:00Z"), inquiryId: "x".repeat(500_000) }, kept], "2026-03-01");
    expect(shown).toEqual([kept]);
    expect(total).toBe(1);
  });

  it("caps the count to the newest, in time order, and carries the total", () => {
    const days = Array.from({ length: 10 }, (_, i) => inquiry(`2026-02-${String(i + 10).padStart(2, "0")}T10:00:00Z`));
    const { shown, total } = inquiryWindow(days.reverse(), "2026-03-01", 3);
    expect(total).toBe(10);
    expect(shown.map((i) => isoDate(i.inquiredAt!))).toEqual(["2026-02-17", "2026-02-18", "2026-02-19"]);
  });
});

describe("HolderService with 10,000 logged inquiries", () => {
  const lender = generateNodeKey();
  const TOKEN = "cd".repeat(32);
  let tmp: ReturnType<typeof tempDir>;
  let stores: Stores;

  beforeEach(async () => {
    tmp = tempDir("cm-inqflood-");
    stores = await openStores(tmp.dir, { dataKeys: [{ id: "k1", key: randomBytes(32) }] });
  });

  afterEach(async () => {
    await stores.close();
    tmp.remove();
  });

  /** bank-a's query answered by cfc-b over the real stores, counting the inquiries the holder read. */
  async function answerAsHolder(clock: ManualClock) {
    const read = { inquiries: 0 };
    const subjects = {
      read: async (token: string, after: string) => {
        const r = await stores.subjects.read(token, after);
        read.inquiries += r.inquiries.length;
        return r;
      },
    };
    const holder = new HolderService(
      { institutionId: "cfc-b", subjectQueriesPerDay: 0 },
      {
        subjects,
        records: stores.records,
        consents: stores.consents,
        inquiries: stores.inquiries,
        disputes: stores.disputes,
        sign: () => new Uint8Array(64),
        verifyGranteeSignature: (_id, data, sig) => lender.verify(data, sig),
        inquirerPseudonym: (_token, id) => `p-${id}`,
        clock,
        logger: silentLogger(),
      },
    );
    const now = clock.now();
    const consent = activeConsent({ subjectToken: TOKEN, grantee: "bank-a", signer: lender, now });
    const requestId = randomUUID();
    const { answer, signedAnswer } = await holder.answer({
      requestId,
      requesterInstitutionId: "bank-a",
      subjectToken: TOKEN,
      purpose: Purpose.LOAN_ORIGINATION,
      consent,
      issuedAt: now,
      nonce: randomBytes(16),
      asOf: isoDate(now),
      inquiryProof: 0,
    });
    return { answer, signedAnswer, requestId, read };
  }

  it("answers with a bounded number of inquiries and the total, far below the frame limit", async () => {
    const clock = new ManualClock("2026-03-01T12:00:00Z");
    const start = clock.now().getTime() - 10_000 * HOUR_MS;
    // One lender, hourly for ~14 months, and one other lender on the same days: 10,000 entries in the log.
    for (let i = 0; i < 10_000; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) =>
          stores.inquiries.add(TOKEN, inquiry(new Date(start + (i + j) * HOUR_MS).toISOString(), (i + j) % 2 === 0 ? "bank-a" : "ecom-c")),
        ),
      );
    }
    expect(await stores.inquiries.listForSubject(TOKEN)).toHaveLength(10_000);
    const { answer, signedAnswer, requestId, read } = await answerAsHolder(clock);
    // The holder read one window entry per requester, purpose and day of the last 24 months, not the log.
    expect(read.inquiries).toBeLessThan(1_000);
    expect(answer.inquiries).toHaveLength(MAX_INQUIRIES_PER_ANSWER);
    // 10,000 hours span 418 days, two requesters on each: far more distinct (requester, purpose, day) than shown.
    expect(answer.inquiriesTotal).toBeGreaterThan(800);
    expect(answer.inquiries.at(-1)!.inquiryId).toBe(requestId);
    expect(HolderAnswer.decode(signedAnswer).inquiriesTotal).toBe(answer.inquiriesTotal);
    expect(signedAnswer.length).toBeLessThan(64 * 1024);
  });

  it("reads one entry for 10,000 queries by one lender on one day, and shows one", async () => {
    const clock = new ManualClock("2026-03-01T20:00:00Z");
    const start = Date.parse("2026-03-01T00:00:00Z");
    for (let i = 0; i < 10_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => stores.inquiries.add(TOKEN, inquiry(new Date(start + (i + j) * 1000).toISOString(), "bank-a"))));
    }
    expect(await stores.inquiries.listForSubject(TOKEN)).toHaveLength(10_000);
    const { answer, requestId, read } = await answerAsHolder(clock);
    expect(read.inquiries).toBeLessThanOrEqual(1);
    expect(answer.inquiries.map((i) => i.inquiryId)).toEqual([requestId]);
    expect(answer.inquiriesTotal).toBe(1);
  });
});

describe("HolderService query quota", () => {
  const lender = generateNodeKey();
  const TOKEN = "ef".repeat(32);
  let tmp: ReturnType<typeof tempDir>;
  let stores: Stores;

  beforeEach(async () => {
    tmp = tempDir("cm-quota-");
    stores = await openStores(tmp.dir, { dataKeys: [{ id: "k1", key: randomBytes(32) }] });
  });

  afterEach(async () => {
    await stores.close();
    tmp.remove();
  });

  /** A holder with this quota (the per-subject one of 2 by default), and a query by bank-a about `token` with a valid consent. */
  function holderWith(quota?: QueryQuota) {
    const clock = new ManualClock("2026-03-01T12:00:00Z");
    const metrics = createMetrics({ processMetrics: false });
    const holder = new HolderService(
      { institutionId: "cfc-b", subjectQueriesPerDay: 2 },
      {
        subjects: stores.subjects,
        records: stores.records,
        consents: stores.consents,
        inquiries: stores.inquiries,
        sign: () => new Uint8Array(64),
        verifyGranteeSignature: (_id, data, sig) => lender.verify(data, sig),
        inquirerPseudonym: (_token, id) => `p-${id}`,
        clock,
        logger: silentLogger(),
        metrics,
        ...(quota ? { quota } : {}),
      },
    );
    const now = clock.now();
    const ask = async (token = TOKEN) => {
      const consent = activeConsent({ subjectToken: token, grantee: "bank-a", signer: lender, now });
      const query = { requestId: randomUUID(), requesterInstitutionId: "bank-a", subjectToken: token, purpose: Purpose.LOAN_ORIGINATION, consent, issuedAt: now, nonce: randomBytes(16), asOf: isoDate(now), inquiryProof: 0 };
      return (await holder.answer(query)).answer;
    };
    return { ask, metrics };
  }

  it("refuses a member past its quota for the subject without logging the query, and counts it", async () => {
    const { ask, metrics } = holderWith();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await ask());
    expect(statuses.map((a) => [HolderStatus[a.status], a.reason])).toEqual([
      ["NO_DATA", ""],
      ["NO_DATA", ""],
      ["DENIED", QUOTA_EXCEEDED],
      ["DENIED", QUOTA_EXCEEDED],
    ]);
    expect(await stores.inquiries.listForSubject(TOKEN)).toHaveLength(2);
    expect((await metrics.queriesOverQuota.get()).values).toEqual([expect.objectContaining({ labels: { member: "bank-a", quota: "subject" }, value: 2 })]);
  });

  it("refuses a member past its daily quota across subjects (made-up tokens each time) without logging the query, and counts it", async () => {
    const { ask, metrics } = holderWith(new QueryQuota({ subjectPerDay: 2, memberPerDay: 3 }));
    const tokens = ["a1", "a2", "a3", "a4", "a5"].map((t) => t.repeat(32));
    const statuses = [];
    for (const token of tokens) statuses.push(await ask(token));
    expect(statuses.map((a) => [HolderStatus[a.status], a.reason])).toEqual([
      ["NO_DATA", ""],
      ["NO_DATA", ""],
      ["NO_DATA", ""],
      ["DENIED", MEMBER_QUOTA_EXCEEDED],
      ["DENIED", MEMBER_QUOTA_EXCEEDED],
    ]);
    const logged = await Promise.all(tokens.map(async (t) => (await stores.inquiries.listForSubject(t)).length));
    expect(logged).toEqual([1, 1, 1, 0, 0]);
    expect((await metrics.queriesOverQuota.get()).values).toEqual([expect.objectContaining({ labels: { member: "bank-a", quota: "member" }, value: 2 })]);
  });
});

