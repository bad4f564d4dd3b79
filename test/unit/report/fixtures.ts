import { generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { AccountStatus, DisputeFlag, HolderStatus, ProductType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { HolderAnswer, type HolderOutcome, type Inquiry, type Tradeline } from "../../../src/gen/creditmesh/v1/report.js";
import type { HolderResult } from "../../../src/report/assemble.js";

export const AS_OF = "2026-03-31";

export function history(newestFirst: string, fill = "B"): string {
  return newestFirst.padEnd(24, fill);
}

export function tradeline(fields: Partial<Tradeline> & Pick<Tradeline, "institutionId" | "accountRef">): Tradeline {
  return {
    productType: ProductType.INSTALLMENT_LOAN,
    openedOn: "2020-01-01",
    closedOn: "",
    creditLimit: "0",
    balance: "0",
    amountPastDue: "0",
    status: AccountStatus.CURRENT,
    paymentHistory: "0".repeat(24),
    maxDaysPastDue: 0,
    firstDelinquencyOn: "",
    lastPaymentOn: "",
    reportedOn: AS_OF,
    dispute: DisputeFlag.NONE,
    currency: "CNY",
    termMonths: 0,
    ...fields,
  };
}

export function inquiry(id: string, requester: string, at: string, purpose = Purpose.LOAN_ORIGINATION): Inquiry {
  return { inquiryId: id, requesterInstitutionId: requester, requesterName: "", purpose, inquiredAt: new Date(at) };
}

/** Long, clean, mixed file: card at 15 % utilization, a mortgage and an installment loan. */
export function cleanLongHistory(): Tradeline[] {
  return [
    tradeline({
      institutionId: "bank-a",
      accountRef: "a1",
      productType: ProductType.CREDIT_CARD,
      openedOn: "2017-05-10",
      creditLimit: "2000000",
      balance: "300000",
    }),
    tradeline({
      institutionId: "bank-b",
      accountRef: "b1",
      productType: ProductType.MORTGAGE,
      openedOn: "2019-08-01",
      creditLimit: "80000000",
      balance: "50000000",
      termMonths: 240,
    }),
    tradeline({
      institutionId: "bank-c",
      accountRef: "c1",
      productType: ProductType.INSTALLMENT_LOAN,
      openedOn: "2022-02-15",
      creditLimit: "3000000",
      balance: "1000000",
      termMonths: 60,
    }),
  ];
}

/** The clean file with one episode that reached 90 days late eight months ago and was cured. */
export function oneNinetyDayDelinquency(): Tradeline[] {
  return cleanLongHistory().map((tl) =>
    tl.accountRef === "c1" ? { ...tl, paymentHistory: history("00000000321", "0"), maxDaysPastDue: 95 } : tl,
  );
}

/** One seasoned card, then cash loans at four institutions in the last 90 days. */
export function multiLending(): { tradelines: Tradeline[]; inquiries: Inquiry[] } {
  const loan = (inst: string, openedOn: string, hist: string): Tradeline =>
    tradeline({
      institutionId: inst,
      accountRef: `${inst}-loan`,
      productType: ProductType.CASH_LOAN,
      openedOn,
      creditLimit: "300000",
      balance: "300000",
      termMonths: 3,
      paymentHistory: history(hist),
    });
  return {
    tradelines: [
      tradeline({
        institutionId: "bank-a",
        accountRef: "a-card",
        productType: ProductType.CREDIT_CARD,
        openedOn: "2021-03-01",
        creditLimit: "1000000",
        balance: "200000",
      }),
      loan("lender-b", "2026-01-10", "000"),
      loan("lender-c", "2026-02-05", "00"),
      loan("lender-d", "2026-02-20", "0D"),
      loan("lender-e", "2026-03-15", "D"),
    ],
    inquiries: [
      inquiry("q-b", "lender-b", "2026-03-05T09:00:00Z"),
      inquiry("q-c", "lender-c", "2026-03-12T09:00:00Z"),
      inquiry("q-d", "lender-d", "2026-03-20T09:00:00Z"),
      inquiry("q-e", "lender-e", "2026-03-26T09:00:00Z"),
      inquiry("q-f", "lender-f", "2026-03-31T08:00:00Z"),
    ],
  };
}

/** Only a two-month-old loan. */
export function thinFile(): Tradeline[] {
  return [
    tradeline({
      institutionId: "lender-b",
      accountRef: "new",
      productType: ProductType.CASH_LOAN,
      openedOn: "2026-02-01",
      creditLimit: "50000",
      balance: "50000",
      paymentHistory: history("00"),
    }),
  ];
}

export interface Member {
  institutionId: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
  publicKeyBytes: Uint8Array;
}

export function member(institutionId: string): Member {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const publicKeyBytes = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  return { institutionId, publicKey, privateKey, publicKeyBytes };
}

/** What the report service hands to assembleReport for a holder that answered. */
export function signedResult(m: Member, answer: HolderAnswer, latencyMs = 12): HolderResult {
  const signedAnswer = HolderAnswer.encode(answer).finish();
  const signature = sign(null, signedAnswer, m.privateKey);
  const outcome: HolderOutcome = {
    institutionId: m.institutionId,
    status: answer.status,
    reason: answer.reason,
    latencyMs,
    tradelines: answer.tradelines.length,
    tradelinesTotal: 0,
    peerId: `peer-${m.institutionId}`,
    signedAnswer: Buffer.from(signedAnswer),
    signature: Buffer.from(signature),
  };
  return { outcome, answer };
}

export function unansweredResult(institutionId: string, status: HolderStatus, reason: string, latencyMs = 2000): HolderResult {
  return {
    outcome: {
      institutionId,
      status,
      reason,
      latencyMs,
      tradelines: 0,
      tradelinesTotal: 0,
      peerId: `peer-${institutionId}`,
      signedAnswer: Buffer.alloc(0),
      signature: Buffer.alloc(0),
    },
  };
}

export function answer(fields: Partial<HolderAnswer> & Pick<HolderAnswer, "holderInstitutionId">): HolderAnswer {
  return {
    requestId: "req-0001",
    requesterInstitutionId: "bank-a",
    subjectToken: "tok-subject",
    asOf: AS_OF,
    status: fields.tradelines?.length ? HolderStatus.OK : HolderStatus.NO_DATA,
    reason: "",
    tradelines: [],
    inquiries: [],
    nameTags: [],
    answeredAt: new Date("2026-03-31T08:00:01Z"),
    ...fields,
    inquiriesTotal: fields.inquiriesTotal ?? fields.inquiries?.length ?? 0,
    tradelinesTotal: fields.tradelinesTotal ?? fields.tradelines?.length ?? 0,
  };
}

/** Ed25519 over node:crypto with SPKI-encoded public keys, as the verifier is handed them. */
export function ed25519Verify(publicKey: Uint8Array, data: Uint8Array, sig: Uint8Array): boolean {
  return verify(null, data, { key: Buffer.from(publicKey), format: "der", type: "spki" }, sig);
}

/**
 * A report request from bank-a: bank-a and lender-b hold accounts, lender-c
 * has none, lender-d timed out. Every holder logged the same two inquiries.
 */
export function scenario() {
  const members = { a: member("bank-a"), b: member("lender-b"), c: member("lender-c") };
  const sharedInquiries = [
    inquiry("req-0001", "bank-a", "2026-03-31T08:00:00Z"),
    inquiry("req-0000", "lender-b", "2026-03-20T10:30:00Z", Purpose.CREDIT_LIMIT_REVIEW),
  ];
  const aCard = tradeline({
    institutionId: "bank-a",
    accountRef: "a-card",
    productType: ProductType.CREDIT_CARD,
    openedOn: "2019-04-01",
    creditLimit: "2000000",
    balance: "123456",
  });
  const aLoan = tradeline({
    institutionId: "bank-a",
    accountRef: "a-loan",
    openedOn: "2024-09-15",
    creditLimit: "600000",
    balance: "240000",
    termMonths: 24,
    paymentHistory: history("000000000000000000E", "B"),
  });
  const bLoan = tradeline({
    institutionId: "lender-b",
    accountRef: "b-loan",
    productType: ProductType.CASH_LOAN,
    openedOn: "2025-06-01",
    creditLimit: "500000",
    balance: "350000",
    amountPastDue: "60000",
    status: AccountStatus.PAST_DUE_60,
    paymentHistory: history("2100000000"),
    maxDaysPastDue: 45,
  });
  const holders: HolderResult[] = [
    signedResult(members.b, answer({ holderInstitutionId: "lender-b", tradelines: [bLoan], inquiries: [...sharedInquiries].reverse() }), 31),
    unansweredResult("lender-d", HolderStatus.TIMEOUT, "no answer within 2000 ms"),
    signedResult(members.c, answer({ holderInstitutionId: "lender-c", inquiries: sharedInquiries }), 18),
    signedResult(members.a, answer({ holderInstitutionId: "bank-a", tradelines: [aLoan, aCard], inquiries: sharedInquiries }), 4),
  ];
  const memberNames = new Map([
    ["bank-a", "Bank A"],
    ["lender-b", "Lender B Consumer Finance"],
    ["lender-c", "Lender C"],
    ["lender-d", "Lender D"],
  ]);
  const input = {
    reportId: "req-0001",
    requesterInstitutionId: "bank-a",
    purpose: Purpose.LOAN_ORIGINATION,
    subjectToken: "tok-subject",
    asOf: AS_OF,
    generatedAt: new Date("2026-03-31T08:00:02Z"),
    holders,
    memberNames,
    audience: "LENDER" as const,
  };
  const publicKeys = new Map(Object.values(members).map((m) => [m.institutionId, m.publicKeyBytes]));
  return { members, input, tradelines: { aCard, aLoan, bLoan }, publicKeys };
}
