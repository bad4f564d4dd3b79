import { INQUIRY_PROOF_V1 } from "../../../src/report/inquiry-proof.js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { AccountStatus, HolderStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { Timestamp } from "../../../src/gen/google/protobuf/timestamp.js";
import { QueryAnswer, type QueryRequest } from "../../../src/gen/creditmesh/v1/peer.js";
import { CreditReport, HolderAnswer, Inquiry, type Tradeline } from "../../../src/gen/creditmesh/v1/report.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, verifySignature, type NodeKey } from "../../../src/identity/node-key.js";
import { assembleReport, type HolderResult } from "../../../src/report/assemble.js";
import { verifyReport } from "../../../src/report/verify.js";
import { requesterQueryProtocol } from "../../helpers/query-requester.js";
import { inquiry, tradeline } from "../report/fixtures.js";
import { manifestFor } from "./net-fixture.js";

const operator = generateNodeKey();
const [lender, honest, hostile] = [generateNodeKey(), generateNodeKey(), generateNodeKey()];
const membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: lender }, { key: honest }, { key: hostile }], 1));
const idOf = (key: NodeKey) => membership.byPeerId(key.peerId)!.institutionId;
const AS_OF = "2026-03-31";

const query: QueryRequest = {
  requestId: "req-hostile-1",
  requesterInstitutionId: idOf(lender),
  subjectToken: "ab".repeat(32),
  purpose: Purpose.LOAN_ORIGINATION,
  consent: undefined,
  issuedAt: new Date(),
  nonce: Buffer.alloc(16, 1),
  asOf: AS_OF,
  inquiryProof: INQUIRY_PROOF_V1,
};

function holderAnswer(holder: NodeKey, over: Partial<HolderAnswer> = {}): HolderAnswer {
  return HolderAnswer.fromPartial({
    requestId: query.requestId,
    holderInstitutionId: idOf(holder),
    requesterInstitutionId: query.requesterInstitutionId,
    subjectToken: query.subjectToken,
    asOf: query.asOf,
    status: over.tradelines?.length ? HolderStatus.OK : HolderStatus.NO_DATA,
    answeredAt: new Date("2026-03-31T08:00:01Z"),
    inquiriesTotal: over.inquiries?.length ?? 0,
    ...over,
  });
}

function wire(signer: NodeKey, signedAnswer: Uint8Array): Uint8Array {
  return QueryAnswer.encode({ signedAnswer: Buffer.from(signedAnswer), signature: Buffer.from(signer.sign(signedAnswer)) }).finish();
}

function loan(holder: NodeKey, over: Partial<Tradeline> = {}): Tradeline {
  return tradeline({ institutionId: idOf(holder), accountRef: `${idOf(holder)}-loan`, creditLimit: "500000", balance: "350000", ...over });
}

/** The lender's side of /creditmesh/query, each holder answering with the bytes given. */
async function ask(answers: Map<NodeKey, Uint8Array>): Promise<Map<string, HolderResult>> {
  const protocol = requesterQueryProtocol({
    membership,
    signer: lender,
    request: async (peerId) => {
      const [, bytes] = [...answers].find(([k]) => k.peerId === peerId)!;
      return bytes;
    },
  });
  const results = await protocol.ask(query, new AbortController().signal, [...answers.keys()].map(idOf));
  return new Map(results.map((r) => [r.outcome.institutionId, r]));
}

/** The lender's own holder answer, as the report service adds it. */
function own(answer: HolderAnswer): HolderResult {
  const signedAnswer = HolderAnswer.encode(answer).finish();
  return {
    outcome: {
      institutionId: idOf(lender),
      status: answer.status,
      reason: "",
      latencyMs: 1,
      tradelines: answer.tradelines.length,
      tradelinesTotal: 0,
      peerId: lender.peerId,
      signedAnswer: Buffer.from(signedAnswer),
      signature: Buffer.from(lender.sign(signedAnswer)),
    },
    answer,
  };
}

function report(results: Iterable<HolderResult>): CreditReport {
  return assembleReport({
    reportId: query.requestId,
    requesterInstitutionId: query.requesterInstitutionId,
    purpose: query.purpose,
    subjectToken: query.subjectToken,
    asOf: AS_OF,
    generatedAt: new Date("2026-03-31T08:00:02Z"),
    holders: [own(holderAnswer(lender)), ...results],
    memberNames: new Map(),
    audience: "LENDER",
  });
}

const verifyOpts = {
  memberPublicKey: (id: string) => {
    const m = membership.members().find((x) => x.institutionId === id);
    return m && [lender, honest, hostile].find((k) => k.peerId === m.peerId)!.publicKey;
  },
  verify: verifySignature,
};

function expectDropped(result: HolderResult | undefined, reason: string | RegExp): void {
  expect(result?.outcome).toMatchObject({ status: HolderStatus.ERROR, reason: typeof reason === "string" ? `${reason}; data dropped` : expect.stringMatching(reason) });
  expect(result?.answer).toBeUndefined();
  expect(result?.outcome.signedAnswer.length).toBe(0);
  expect(result?.outcome.signature.length).toBe(0);
}

/** An answer whose one inquiry's inquired_at has `seconds` (as no Date could be encoded). */
function withInquiryAtSeconds(holder: NodeKey, seconds: string): Uint8Array {
  const base = HolderAnswer.encode(holderAnswer(holder, { inquiriesTotal: 1 })).finish();
  const time = Timestamp.encode({ seconds, nanos: 0 }).finish();
  const q = Inquiry.encode({ inquiryId: "q-x", requesterInstitutionId: "anon:x", requesterName: "", purpose: Purpose.LOAN_ORIGINATION }).finish();
  const inq = Buffer.concat([q, new BinaryWriter().uint32((5 << 3) | 2).bytes(time).finish()]);
  return Buffer.concat([base, new BinaryWriter().uint32((9 << 3) | 2).bytes(inq).finish()]);
}

describe("query protocol, requester side: hostile answers", () => {
  it("refuses amounts beyond int64 totals; the report still encodes", async () => {
    const max = "9223372036854775807";
    const results = await ask(
      new Map([
        [honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { tradelines: [loan(honest, { balance: max })] })).finish())],
        [hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { tradelines: [loan(hostile), loan(hostile, { accountRef: "b", creditLimit: "1000000000000001" })] })).finish())],
      ]),
    );
    expectDropped(results.get(idOf(honest)), "tradelines[0].balance is not an amount in 0..1000000000000000 minor units");
    expectDropped(results.get(idOf(hostile)), "tradelines[1].credit_limit is not an amount in 0..1000000000000000 minor units");
    const r = report(results.values());
    expect(() => CreditReport.encode(r).finish()).not.toThrow();
    expect(r.tradelines).toEqual([]);
  });

  it("refuses a tradeline no holder derives (a date that is not one, a status no holder sends, an escape in its reference), naming the field; the other holder's data stands", async () => {
    const garbage: [Partial<Tradeline>, string][] = [
      [{ openedOn: "garbage" }, "tradelines[1].opened_on is not a date"],
      [{ status: 42 as AccountStatus }, "tradelines[1].status is not a known account status"],
      [{ accountRef: "x\u001b]0;owned\u0007" }, "tradelines[1].account_ref is not an account reference"],
      [{ paymentHistory: "Z".repeat(24) }, "tradelines[1].payment_history is not up to 24 payment-history codes"],
    ];
    for (const [change, reason] of garbage) {
      const results = await ask(
        new Map([
          [honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { tradelines: [loan(honest)] })).finish())],
          [hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { tradelines: [loan(hostile), loan(hostile, { accountRef: "b", ...change })] })).finish())],
        ]),
      );
      expectDropped(results.get(idOf(hostile)), reason);
      expect(results.get(idOf(honest))?.outcome.status).toBe(HolderStatus.OK);
      expect(report(results.values()).tradelines.map((t) => t.institutionId)).toEqual([idOf(honest)]);
    }
  });

  it("takes an amount of exactly 10^15", async () => {
    const results = await ask(new Map([[honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { tradelines: [loan(honest, { balance: "1000000000000000" })] })).finish())]]));
    expect(results.get(idOf(honest))?.outcome.status).toBe(HolderStatus.OK);
  });

  it("refuses a negative past due, which would cancel another holder's", async () => {
    const results = await ask(
      new Map([
        [honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { tradelines: [loan(honest, { amountPastDue: "60000" })] })).finish())],
        [hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { tradelines: [loan(hostile, { amountPastDue: "-60000" })] })).finish())],
      ]),
    );
    expectDropped(results.get(idOf(hostile)), "tradelines[0].amount_past_due is not an amount in 0..1000000000000000 minor units");
    expect(report(results.values()).summary?.totalPastDue).toBe("60000");
  });

  it("refuses an inquiry whose time is missing or beyond what a Timestamp holds; the report still encodes", async () => {
    const noTime = holderAnswer(hostile, { inquiries: [{ ...inquiry("q-x", "anon:x", "2026-03-30T00:00:00Z"), inquiredAt: undefined }] });
    const results = await ask(
      new Map([
        [honest, wire(honest, withInquiryAtSeconds(honest, "10000000000000000"))],
        [hostile, wire(hostile, HolderAnswer.encode(noTime).finish())],
      ]),
    );
    expect(HolderAnswer.decode(withInquiryAtSeconds(honest, "10000000000000000")).inquiries[0]!.inquiredAt!.getTime()).toBeNaN();
    expectDropped(results.get(idOf(honest)), "inquiries[0].inquired_at is missing or not a valid time");
    expectDropped(results.get(idOf(hostile)), "inquiries[0].inquired_at is missing or not a valid time");
    expect(() => CreditReport.encode(report(results.values())).finish()).not.toThrow();
    // Past year 9999 a Date is valid but no Timestamp is.
    const late = await ask(new Map([[honest, wire(honest, withInquiryAtSeconds(honest, "253402300800"))]]));
    expectDropped(late.get(idOf(honest)), "inquiries[0].inquired_at is missing or not a valid time");
  });

  it("refuses an inquiry whose id is not a request id's shape (a holder stores and sends on only those)", async () => {
    const huge = holderAnswer(hostile, { inquiries: [inquiry("i".repeat(100_000), "anon:x", "2026-03-30T00:00:00Z")], inquiriesTotal: 1 });
    const results = await ask(new Map([[hostile, wire(hostile, HolderAnswer.encode(huge).finish())]]));
    expectDropped(results.get(idOf(hostile)), "inquiries[0].inquiry_id is not 8-64 letters, digits or '-'");
  });

  it("refuses an inquiry naming an inquirer no manifest or pseudonym could be (empty, 129+ characters, controls, not ASCII)", async () => {
    for (const requester of ["", "x".repeat(129), "bank-a\u001b[2J", "银行甲"]) {
      const odd = holderAnswer(hostile, { inquiries: [inquiry("inquiry-odd-1", requester, "2026-03-30T00:00:00Z")], inquiriesTotal: 1 });
      const results = await ask(new Map([[hostile, wire(hostile, HolderAnswer.encode(odd).finish())]]));
      expectDropped(results.get(idOf(hostile)), "inquiries[0].requester_institution_id is not an institution id or pseudonym");
    }
    // A pseudonym as honest holders send it is taken.
    const anon = holderAnswer(hostile, { inquiries: [inquiry("inquiry-anon-1", `anon:${"ab".repeat(32)}`, "2026-03-30T00:00:00Z")], inquiriesTotal: 1 });
    const taken = await ask(new Map([[hostile, wire(hostile, HolderAnswer.encode(anon).finish())]]));
    expect(taken.get(idOf(hostile))?.outcome.status).toBe(HolderStatus.NO_DATA);
  });

  it("refuses an answer as of another date or for another requester, which verify would reject", async () => {
    const results = await ask(
      new Map([
        [honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { asOf: "2026-03-01" })).finish())],
        [hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { requesterInstitutionId: idOf(hostile) })).finish())],
      ]),
    );
    expectDropped(results.get(idOf(honest)), "answer is as of another date");
    expectDropped(results.get(idOf(hostile)), "answer names another requester");
    expect(verifyReport(report(results.values()), verifyOpts).ok).toBe(true);
  });

  it("turns a status a holder does not send into ERROR without its signed bytes, so the report verifies", async () => {
    const results = await ask(
      new Map([
        [honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { tradelines: [loan(honest)] })).finish())],
        [hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { status: HolderStatus.TIMEOUT })).finish())],
      ]),
    );
    expectDropped(results.get(idOf(hostile)), "answer has status TIMEOUT, which a holder does not send");
    const r = report(results.values());
    const verified = verifyReport(r, verifyOpts);
    expect(verified.failures).toEqual([]);
    expect(verified.ok).toBe(true);
  });

  it("refuses more inquiries than a holder sends or than its own total, and more tradelines than any borrower has", async () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => inquiry(`inquiry-${i}`, "anon:x", "2026-03-30T00:00:00Z"));
    const tradelines = Array.from({ length: 1_001 }, (_, i) => loan(hostile, { accountRef: `r-${i}` }));
    const results = await ask(
      new Map([
        [honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { inquiries: many(201) })).finish())],
        [hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { inquiries: many(3), inquiriesTotal: 2 })).finish())],
      ]),
    );
    expectDropped(results.get(idOf(honest)), "answer carries 201 inquiries, more than 200 and this query's own");
    expectDropped(results.get(idOf(hostile)), "answer carries 3 inquiries, more than its inquiries_total 2");
    const more = await ask(
      new Map([
        [honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { inquiries: many(200), inquiriesTotal: 5_000 })).finish())],
        [hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { tradelines })).finish())],
      ]),
    );
    expect(more.get(idOf(honest))?.outcome.status).toBe(HolderStatus.NO_DATA);
    // As of a past day, a holder adds this query's own inquiry after the 200 of its window.
    const own = inquiry(query.requestId, query.requesterInstitutionId, "2026-04-02T00:00:00Z");
    const past = await ask(new Map([[honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { inquiries: [...many(200), own], inquiriesTotal: 5_001 })).finish())]]));
    expect(past.get(idOf(honest))?.outcome.status).toBe(HolderStatus.NO_DATA);
    const twice = await ask(new Map([[honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { inquiries: [...many(201), own] })).finish())]]));
    expectDropped(twice.get(idOf(honest)), "answer carries 202 inquiries, more than 200 and this query's own");
    expectDropped(more.get(idOf(hostile)), "answer carries 1001 tradelines, more than 1000");
  });

  it("refuses more tradelines than the holder's own tradelines_total, and takes a total above them (a capped listing) or none (an older holder)", async () => {
    const three = Array.from({ length: 3 }, (_, i) => loan(hostile, { accountRef: `r-${i}` }));
    const results = await ask(
      new Map([
        [hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { tradelines: three, tradelinesTotal: 2 })).finish())],
        [honest, wire(honest, HolderAnswer.encode(holderAnswer(honest, { tradelines: [loan(honest, { accountRef: "h-1" })], tradelinesTotal: 1_200 })).finish())],
      ]),
    );
    expectDropped(results.get(idOf(hostile)), "answer carries 3 tradelines, more than its tradelines_total 2");
    expect(results.get(idOf(honest))?.outcome.status).toBe(HolderStatus.OK);
    const older = await ask(new Map([[hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { tradelines: three, tradelinesTotal: 0 })).finish())]]));
    expect(older.get(idOf(hostile))?.outcome.status).toBe(HolderStatus.OK);
  });

  it("refuses an answered_at no Timestamp holds", async () => {
    const results = await ask(new Map([[hostile, wire(hostile, HolderAnswer.encode(holderAnswer(hostile, { answeredAt: new Date(253402300800000) })).finish())]]));
    expectDropped(results.get(idOf(hostile)), "answer's answered_at is not a valid time");
  });
});
