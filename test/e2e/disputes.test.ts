import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { CreditMeshError } from "../../src/errors.js";
import { DisputeFlag, DisputeOutcome, DisputeStatus, HolderStatus, IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import { Dispute } from "../../src/gen/creditmesh/v1/dispute.js";
import type { GetDisputeResponse, ListDisputesResponse } from "../../src/gen/creditmesh/v1/node.js";
import type { AccountRecord } from "../../src/gen/creditmesh/v1/records.js";
import type { CreditReport, Tradeline } from "../../src/gen/creditmesh/v1/report.js";
import { addApiKey } from "../../src/config/secrets.js";
import { TestClient } from "../helpers/grpc-client.js";
import { cli } from "../helpers/node-process.js";
import { account, residentId } from "../helpers/records.js";
import { startInProcessNetwork, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";
import { tempDir } from "../helpers/temp.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DAY_MS = 86_400_000;
const X = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19880512", 321, "440305"), name: "李娜", phone: "" };
const Y = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19770203", 88, "310104"), name: "王强", phone: "" };
const HOLDER = "cfc-b";
/**
 * Every node runs on this clock; it starts at the real time so that the CLI,
 * which shows deadlines against the machine's clock, agrees with the nodes.
 */
const START = new Date();
const OPENED_ON = new Date(START.getTime() - 60 * DAY_MS).toISOString().slice(0, 10);

/**
 * B (cfc-b) furnishes four loans for borrower X, told apart on the reports by
 * their principal (no repayments yet, so the balance is the principal).
 */
const LOANS = {
  verified: { accountId: "JX-LOAN-1001", creditLimit: "100000" },
  corrected: { accountId: "JX-LOAN-1002", creditLimit: "200000" },
  deleted: { accountId: "JX-LOAN-1003", creditLimit: "300000" },
  late: { accountId: "JX-LOAN-1004", creditLimit: "400000" },
} as const;
type Loan = keyof typeof LOANS;

const loanRecord = (loan: Loan, over: Partial<AccountRecord> = {}) =>
  account({ idNumber: X.idNumber, name: X.name, openedOn: OPENED_ON, termMonths: 6, ...LOANS[loan], ...over });

function grpcError(err: unknown): ServiceError {
  expect(err, "expected a gRPC error").toHaveProperty("code");
  return err as ServiceError;
}

async function rejects(p: Promise<unknown>, code: GrpcStatus, field?: string): Promise<ServiceError> {
  const err = grpcError(await p.then(() => undefined, (e: unknown) => e));
  expect(err.code, err.details).toBe(code);
  if (field !== undefined) expect(err.metadata.get("field")[0]).toBe(field);
  return err;
}

describe("disputes across a three-node network", () => {
  const clock = new ManualClock(START);
  let net: InProcessNetwork;
  let A: NetworkMember;
  let B: NetworkMember;
  let C: NetworkMember;
  /** account_ref of each loan, as lender A's report shows it. */
  const refs = {} as Record<Loan, string>;
  const consents = new Map<NetworkMember, string>();
  /** Lender A's consent of borrower Y (A also pulls Y's report). */
  let consentOfYAtA: Consent;

  const listDisputes = (m: NetworkMember, includeResolved = false): Promise<ListDisputesResponse> =>
    new Promise((resolve, reject) =>
      m.client!.raw.listDisputes({ includeResolved }, m.client!.metadata, { deadline: Date.now() + 30_000 }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );

  /** Each node asks with its own consent, recorded at that node. */
  async function report(m: NetworkMember): Promise<CreditReport> {
    const r: CreditReport = await m.client!.unary("getCreditReport", { subject: X, purpose: Purpose.LOAN_ORIGINATION, consentId: consents.get(m)!, asOf: "", deadlineMs: 0 });
    // B is asked over the network by A and C, and answers its own node locally.
    const outcome = r.holders.find((h) => h.institutionId === HOLDER);
    expect(outcome?.status, `${m.layout.institutionId}'s report: B's outcome ${outcome?.reason ?? ""}`).toBe(HolderStatus.OK);
    return r;
  }

  /** B's tradelines on `m`'s report, by loan. */
  async function holderLines(m: NetworkMember): Promise<Map<Loan, Tradeline>> {
    const lines = (await report(m)).tradelines.filter((t) => t.institutionId === HOLDER);
    const byLoan = new Map<Loan, Tradeline>();
    for (const t of lines) {
      const loan = (Object.keys(refs) as Loan[]).find((k) => refs[k] === t.accountRef);
      expect(loan, `unexpected tradeline ${t.accountRef}`).toBeDefined();
      byLoan.set(loan!, t);
    }
    return byLoan;
  }

  const fileDispute = (m: NetworkMember, loan: Loan, reason: string, subject = X): Promise<Dispute> =>
    m.client!.unary("fileDispute", { subject, institutionId: HOLDER, accountRef: refs[loan], reason });

  const getDispute = (m: NetworkMember, disputeId: string): Promise<GetDisputeResponse> => m.client!.unary("getDispute", { disputeId });

  const resolve = (disputeId: string, outcome: DisputeOutcome, note = "", corrected?: AccountRecord): Promise<Dispute> =>
    B.client!.unary("resolveDispute", { disputeId, outcome, note, corrected });

  beforeAll(async () => {
    net = await startInProcessNetwork({ nodes: 3, clock });
    [A, B, C] = net.running as [NetworkMember, NetworkMember, NetworkMember];
    expect(B.layout.institutionId).toBe(HOLDER);
    const acks = await B.client!.submit([
      { records: [...(Object.keys(LOANS) as Loan[]).map((l) => loanRecord(l)), account({ accountId: "JX-LOAN-2001", idNumber: Y.idNumber, name: Y.name })] },
    ]);
    expect(acks[0]!.rejected).toEqual([]);
    for (const m of [A, B, C]) {
      const consent = await m.client!.unary("grantConsent", {
        subject: X,
        purpose: Purpose.LOAN_ORIGINATION,
        validFrom: new Date(clock.now().getTime() - 60_000),
        validUntil: new Date(clock.now().getTime() + 365 * DAY_MS),
        evidenceRef: `sha256:authorization-of-x-at-${m.layout.institutionId}`,
      });
      consents.set(m, consent.consentId);
    }
    consentOfYAtA = await A.client!.unary("grantConsent", {
      subject: Y,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(clock.now().getTime() - 60_000),
      validUntil: new Date(clock.now().getTime() + 365 * DAY_MS),
      evidenceRef: "sha256:authorization-of-y-at-bank-a",
    });
    // Lender A learns the account_refs from its own report, as any lender would.
    const fromA = (await report(A)).tradelines.filter((t) => t.institutionId === HOLDER);
    expect(fromA).toHaveLength(4);
    for (const loan of Object.keys(LOANS) as Loan[]) {
      const t = fromA.find((line) => line.creditLimit === LOANS[loan].creditLimit);
      expect(t, loan).toBeDefined();
      expect(t!.dispute).toBe(DisputeFlag.NONE);
      refs[loan] = t!.accountRef;
    }
  });

  afterAll(async () => {
    await net?.stop();
  });

  it("a dispute filed at A is stored by B (OPEN, 30 days) and shows DISPUTED in reports pulled from A and from C", async () => {
    const filedAt = clock.now();
    const d = await fileDispute(A, "verified", "I was never 30 days late on this loan");
    expect(d).toMatchObject({
      institutionId: HOLDER,
      accountRef: refs.verified,
      filedViaInstitutionId: "bank-a",
      status: DisputeStatus.OPEN,
      reason: "I was never 30 days late on this loan",
    });
    expect(d.respondBy).toEqual(new Date(filedAt.getTime() + 30 * DAY_MS));

    for (const m of [A, C]) expect((await holderLines(m)).get("verified")!.dispute, m.layout.institutionId).toBe(DisputeFlag.DISPUTED);
    expect((await holderLines(A)).get("late")!.dispute).toBe(DisputeFlag.NONE);

    // B lists it with its deadline; A holds no dispute of its own.
    const listed = (await listDisputes(B)).disputes;
    expect(listed.map((x) => [x.disputeId, x.status, x.respondBy])).toEqual([[d.disputeId, DisputeStatus.OPEN, d.respondBy]]);
    expect((await listDisputes(A)).disputes).toEqual([]);

    // The borrower follows it where it was filed: A asks B and shows B's record.
    expect(await getDispute(A, d.disputeId)).toEqual({ dispute: d, current: true });
    // C neither filed nor holds it.
    await rejects(getDispute(C, d.disputeId), GrpcStatus.NOT_FOUND, "dispute_id");

    // Only the holder resolves it.
    await rejects(A.client!.unary("resolveDispute", { disputeId: d.disputeId, outcome: DisputeOutcome.DELETED, note: "" }), GrpcStatus.NOT_FOUND, "dispute_id");

    const r = await resolve(d.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "payment of 2026-02-05 arrived 31 days late");
    expect(r).toMatchObject({ status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.VERIFIED_ACCURATE });
    for (const m of [A, C]) {
      expect((await holderLines(m)).get("verified")!.dispute, m.layout.institutionId).toBe(DisputeFlag.RESOLVED_DISAGREES);
    }
    expect((await listDisputes(B)).disputes).toEqual([]);
    expect((await listDisputes(B, true)).disputes.map((x) => [x.disputeId, x.outcome])).toEqual([[d.disputeId, DisputeOutcome.VERIFIED_ACCURATE]]);
    await rejects(resolve(d.disputeId, DisputeOutcome.DELETED), GrpcStatus.FAILED_PRECONDITION);

    // Where it was filed, the borrower now sees B's outcome and note, and so does the holder.
    for (const m of [A, B]) {
      expect(await getDispute(m, d.disputeId), m.layout.institutionId).toEqual({ dispute: r, current: true });
    }
  });

  it("refusals are typed and name the field: wrong subject, unknown account or institution, bad reason", async () => {
    // X's account disputed in Y's name: B will not confirm the account exists for Y.
    await rejects(fileDispute(A, "late", "not mine", Y), GrpcStatus.NOT_FOUND, "account_ref");
    await rejects(
      A.client!.unary("fileDispute", { subject: X, institutionId: HOLDER, accountRef: "0123456789abcdef0123456789abcdef", reason: "why" }),
      GrpcStatus.NOT_FOUND,
      "account_ref",
    );
    await rejects(
      A.client!.unary("fileDispute", { subject: X, institutionId: "no-such-bank", accountRef: refs.late, reason: "why" }),
      GrpcStatus.NOT_FOUND,
      "institution_id",
    );
    await rejects(fileDispute(C, "late", ""), GrpcStatus.INVALID_ARGUMENT, "reason");
    await rejects(fileDispute(C, "late", "x".repeat(501)), GrpcStatus.INVALID_ARGUMENT, "reason");
    await rejects(
      C.client!.unary("fileDispute", { subject: { ...X, idNumber: "440305198805123219" }, institutionId: HOLDER, accountRef: refs.late, reason: "why" }),
      GrpcStatus.INVALID_ARGUMENT,
    );
    expect((await listDisputes(B)).disputes).toEqual([]);
    expect((await holderLines(C)).get("late")!.dispute).toBe(DisputeFlag.NONE);
  });

  it("a member with no consent of the borrower cannot get another member's tradeline disputed, through its node or by a hand-made filing", async () => {
    // Lender A pulled Y's report with Y's consent: Y's token and B's account_ref are what any such report shows.
    const reportOfY = async (): Promise<Tradeline> => {
      const r: CreditReport = await A.client!.unary("getCreditReport", { subject: Y, purpose: Purpose.LOAN_ORIGINATION, consentId: consentOfYAtA.consentId, asOf: "", deadlineMs: 0 });
      const line = r.tradelines.find((t) => t.institutionId === HOLDER);
      expect(line, "Y's tradeline at B").toBeDefined();
      return line!;
    };
    const target = await reportOfY();
    expect(target.dispute).toBe(DisputeFlag.NONE);

    // C holds no consent of Y: its node refuses to file, and sends nothing.
    const refused = await rejects(
      C.client!.unary("fileDispute", { subject: Y, institutionId: HOLDER, accountRef: target.accountRef, reason: "not mine" }),
      GrpcStatus.PERMISSION_DENIED,
      "subject",
    );
    expect(refused.details).toContain("consent");

    // C's node turned against the network sends the filing itself: B checks the consent, whatever the filer's node did.
    const cConsentOfX: Consent = (await C.client!.unary("listConsents", { subject: X })).consents[0];
    const handMade = (consent: Consent | undefined): Dispute => ({
      disputeId: randomUUID(),
      subjectToken: consentOfYAtA.subjectToken,
      institutionId: HOLDER,
      accountRef: target.accountRef,
      reason: "not mine",
      status: DisputeStatus.OPEN,
      outcome: DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED,
      note: "",
      filedAt: clock.now(),
      respondBy: undefined,
      resolvedAt: undefined,
      filedViaInstitutionId: "ecom-c",
      consent,
    });
    const sendFromC = (d: Dispute): Promise<Dispute> =>
      (C.node as unknown as { p2p: { disputes: { send(holder: string, d: Dispute): Promise<Dispute> } } }).p2p.disputes.send(HOLDER, d);
    const attempts: [Consent | undefined, string][] = [
      [undefined, "attached no consent"],
      [consentOfYAtA, "granted to another institution"],
      [cConsentOfX, "another subject"],
    ];
    for (const [consent, why] of attempts) {
      const err = await sendFromC(handMade(consent)).then(() => undefined, (e: unknown) => e);
      expect(err, why).toBeInstanceOf(CreditMeshError);
      expect((err as CreditMeshError).code, why).toBe("CONSENT_DENIED");
      expect((err as CreditMeshError).field, why).toBe("consent");
      expect((err as CreditMeshError).message).toContain(why);
    }

    // Nothing reached B's records: no dispute of the account, and the tradeline is not flagged anywhere.
    expect((await listDisputes(B, true)).disputes.filter((d) => d.accountRef === target.accountRef)).toEqual([]);
    expect((await reportOfY()).dispute).toBe(DisputeFlag.NONE);
  });

  it("CORRECTED with an updated record: reports show the corrected balance and no dispute flag", async () => {
    const d = await fileDispute(C, "corrected", "the loan was 1,500 yuan, not 2,000");
    expect(d.filedViaInstitutionId).toBe("ecom-c");
    expect((await holderLines(A)).get("corrected")!.dispute).toBe(DisputeFlag.DISPUTED);

    const corrected = loanRecord("corrected", { creditLimit: "150000" });
    if (corrected.kind?.$case !== "account") throw new Error("unreachable");
    const other = loanRecord("late", { creditLimit: "1" });
    if (other.kind?.$case !== "account") throw new Error("unreachable");
    await rejects(resolve(d.disputeId, DisputeOutcome.CORRECTED, "", other.kind.value), GrpcStatus.INVALID_ARGUMENT, "corrected.account_id");
    await rejects(resolve(d.disputeId, DisputeOutcome.CORRECTED, ""), GrpcStatus.INVALID_ARGUMENT, "corrected");

    await resolve(d.disputeId, DisputeOutcome.CORRECTED, "principal corrected", corrected.kind.value);
    for (const m of [A, C]) {
      const t = (await holderLines(m)).get("corrected")!;
      expect(t, m.layout.institutionId).toMatchObject({ balance: "150000", creditLimit: "150000", dispute: DisputeFlag.NONE });
    }
    // The refused correction changed nothing on the other loan.
    expect((await holderLines(A)).get("late")!.creditLimit).toBe("400000");
  });

  it("DELETED: the tradeline is gone from every report", async () => {
    const d = await fileDispute(A, "deleted", "this loan was opened in my name by someone else");
    expect((await holderLines(C)).get("deleted")!.dispute).toBe(DisputeFlag.DISPUTED);
    await resolve(d.disputeId, DisputeOutcome.DELETED, "identity fraud confirmed");
    for (const m of [A, C]) {
      const lines = await holderLines(m);
      expect(lines.has("deleted"), m.layout.institutionId).toBe(false);
      expect(lines.has("verified")).toBe(true);
    }
  });

  it("the CLI files, lists (with deadlines) and resolves disputes", async () => {
    const tmp = tempDir("cm-dispute-cli-");
    try {
      const cli = (m: NetworkMember, ...args: string[]) =>
        runCli([...args, "--config", path.join(tmp.dir, "none.json"), "--addr", m.node!.grpcAddress, "--api-key", m.node!.localApiKey]);
      // Re-open a dispute on the corrected loan via the CLI at C.
      const filed = await cli(C, "dispute", "file", "--id-number", X.idNumber, "--name", X.name, "--institution-id", HOLDER, "--account-ref", refs.corrected, "--reason", "still wrong");
      expect(filed.code, filed.stderr).toBe(0);
      const d = Dispute.fromJSON(JSON.parse(filed.stdout));
      expect(d).toMatchObject({ institutionId: HOLDER, accountRef: refs.corrected, status: DisputeStatus.OPEN, filedViaInstitutionId: "ecom-c" });

      const listed = await cli(B, "dispute", "list");
      expect(listed.code, listed.stderr).toBe(0);
      const row = listed.stdout.split("\n").find((l) => l.startsWith(d.disputeId));
      expect(row, listed.stdout).toBeDefined();
      expect(row).toContain("OPEN");
      expect(row).toContain(d.respondBy!.toISOString().slice(0, 16).replace("T", " "));
      expect([...row!].length).toBeLessThan(140);
      expect(row).toMatch(/\d+d left/);

      const file = path.join(tmp.dir, "corrected.json");
      writeFileSync(file, JSON.stringify({ account: { account_id: LOANS.corrected.accountId, id_type: "CN_RESIDENT_ID", id_number: X.idNumber, name: X.name, product_type: "INSTALLMENT_LOAN", opened_on: OPENED_ON, credit_limit: "140000", term_months: 6, furnishing_consent_ref: "auth-2026-0001" } }));
      const resolved = await cli(B, "dispute", "resolve", d.disputeId, "--outcome", "corrected", "--note", "second correction", "--corrected-json", file);
      expect(resolved.code, resolved.stderr).toBe(0);
      expect(Dispute.fromJSON(JSON.parse(resolved.stdout))).toMatchObject({ status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.CORRECTED, note: "second correction" });
      expect((await holderLines(C)).get("corrected")).toMatchObject({ balance: "140000", dispute: DisputeFlag.NONE });

      // Where it was filed, `dispute show` has the holder's outcome.
      const shown = await cli(C, "dispute", "show", d.disputeId);
      expect(shown.code, shown.stderr).toBe(0);
      expect(Dispute.fromJSON(JSON.parse(shown.stdout))).toMatchObject({ disputeId: d.disputeId, status: DisputeStatus.RESOLVED, outcome: DisputeOutcome.CORRECTED });

      // And the borrower's own list there shows it, resolved, without the ID number or name.
      const theirs = await cli(C, "dispute", "list", "--id-number", X.idNumber, "--name", X.name, "--all");
      expect(theirs.code, theirs.stderr).toBe(0);
      expect(theirs.stdout.split("\n").find((l) => l.startsWith(d.disputeId))).toContain("RESOLVED");
      expect(theirs.stdout).not.toContain(X.idNumber);
      const half = await cli(C, "dispute", "list", "--id-number", X.idNumber);
      expect(half.code).not.toBe(0);
      expect(half.stderr).toContain("name");

      const all = await cli(B, "dispute", "list", "--all", "--format", "json");
      expect(all.code, all.stderr).toBe(0);
      expect((JSON.parse(all.stdout) as unknown[]).map((x) => Dispute.fromJSON(x).disputeId)).toContain(d.disputeId);

      const bad = await cli(B, "dispute", "resolve", d.disputeId, "--outcome", "MAYBE");
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain("outcome");
    } finally {
      tmp.remove();
    }
    // Each CLI run starts a fresh Node process with tsx.
  }, 180_000);

  it("a dispute unanswered past 30 days on B's clock withholds the tradeline from reports pulled at every node", async () => {
    const d = await fileDispute(A, "late", "the balance is wrong");
    for (const m of [A, B, C]) expect((await holderLines(m)).get("late")!.dispute, m.layout.institutionId).toBe(DisputeFlag.DISPUTED);

    clock.set(new Date(d.respondBy!.getTime() - 60_000));
    expect((await holderLines(C)).get("late")!.dispute).toBe(DisputeFlag.DISPUTED);

    clock.set(new Date(d.respondBy!.getTime() + 60_000));
    for (const m of [A, B, C]) {
      const lines = await holderLines(m);
      expect(lines.has("late"), m.layout.institutionId).toBe(false);
      // Only that tradeline: the others are still reported.
      expect(lines.get("verified")!.dispute).toBe(DisputeFlag.RESOLVED_DISAGREES);
      expect(lines.get("corrected")!.dispute).toBe(DisputeFlag.NONE);
    }
    // B still sees it, overdue, in its list.
    const [open] = (await listDisputes(B)).disputes;
    expect(open).toMatchObject({ disputeId: d.disputeId, status: DisputeStatus.OPEN });
    expect(open!.respondBy!.getTime()).toBeLessThan(clock.now().getTime());

    // A late answer puts it back, flagged as the outcome says.
    await resolve(d.disputeId, DisputeOutcome.VERIFIED_ACCURATE, "late, but verified");
    expect((await holderLines(A)).get("late")!.dispute).toBe(DisputeFlag.RESOLVED_DISAGREES);
  });

  it("a borrower's disputes are listed where they were filed, with the holders' outcomes; an institution's own list stays for its furnishing staff", async () => {
    const lender = new TestClient(A.node!.grpcAddress, addApiKey(A.node!.secretsFile, ["LENDER"]));
    try {
      const mine: ListDisputesResponse = await lender.unary("listDisputes", { subject: X, includeResolved: true });
      // Filed through A by the tests above: verified (resolved), deleted (resolved), late (resolved at last).
      expect(mine.disputes.length).toBeGreaterThanOrEqual(3);
      expect(mine.disputes.every((d) => d.subjectToken === mine.disputes[0]!.subjectToken && d.filedViaInstitutionId === "bank-a")).toBe(true);
      expect(new Set(mine.disputes.map((d) => d.accountRef))).toEqual(new Set([refs.verified, refs.deleted, refs.late]));
      expect(mine.disputes.every((d) => d.status === DisputeStatus.RESOLVED)).toBe(true);
      expect(mine.notCurrentDisputeIds).toEqual([]);
      // Y has none here; the institution's own list needs FURNISHER or OPERATOR.
      expect((await lender.unary("listDisputes", { subject: Y, includeResolved: true })).disputes).toEqual([]);
      await rejects(lender.unary("listDisputes", { includeResolved: true }), GrpcStatus.PERMISSION_DENIED);
      await rejects(lender.unary("listDisputes", { subject: { ...X, idNumber: "123" }, includeResolved: true }), GrpcStatus.INVALID_ARGUMENT);
    } finally {
      lender.close();
    }
  });

  // Stops B: keep this test last.
  it("with the holder down, the node it was filed through answers its last copy as not current, within the status timeout", async () => {
    const d = await fileDispute(A, "verified", "the late mark is still there");
    await B.node!.stop();
    // An answer at all (not the call's DEADLINE_EXCEEDED) shows A gave up on B and fell back to its copy.
    const answer = await getDispute(A, d.disputeId);
    expect(answer).toEqual({ dispute: d, current: false });
  });
});

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CREDITMESH_")));
  const r = await cli(args, { cwd: ROOT, replaceEnv: env });
  return { ...r, code: r.code ?? 1 };
}
