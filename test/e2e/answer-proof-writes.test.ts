import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { HolderStatus, IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { CreditReport, HolderAnswer } from "../../src/gen/creditmesh/v1/report.js";
import { verifySignature } from "../../src/identity/node-key.js";
import type { CreditNode } from "../../src/node/credit-node.js";
import { verifyReport } from "../../src/report/verify.js";
import { NodeDatabase, type WriteOp } from "../../src/store/database.js";
import { checkAnswerProof } from "../../src/tlog/answer-proof.js";
import { startInProcessNetwork, type InProcessNetwork } from "../helpers/in-process-network.js";
import { account, repayment, residentId } from "../helpers/records.js";

const DAY_MS = 86_400_000;
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19850304", 17, "110105"), name: "赵敏", phone: "" };

const databaseOf = (node: CreditNode): NodeDatabase => (node as unknown as { stores: { db: NodeDatabase } }).stores.db;

describe("a holder's answer: one synced write per query, with proofs the lender checks", () => {
  let net: InProcessNetwork;
  let consentId: string;
  const writes: { db: NodeDatabase; ops: readonly WriteOp[]; sync: boolean }[] = [];

  beforeAll(async () => {
    // A long checkpoint interval: no published checkpoint writes in the middle of a query.
    net = await startInProcessNetwork({ nodes: 3, configOverrides: { tlog: { checkpointIntervalMs: 3_600_000, recordVersions: true } } });
    const [, b, c] = net.running;
    for (const [m, id] of [[b!, "PW-B-1"], [c!, "PW-C-1"]] as const) {
      await m.client!.submitRecords([account({ accountId: id, idNumber: BORROWER.idNumber, name: BORROWER.name }), repayment({ accountId: id })]);
    }
    const now = Date.now();
    const consent = await net.running[0]!.client!.unary("grantConsent", {
      subject: BORROWER,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(now - 60_000),
      validUntil: new Date(now + 7 * DAY_MS),
      evidenceRef: "sha256:answer-proof-writes",
    });
    consentId = consent.consentId;
    const write = NodeDatabase.prototype.write;
    vi.spyOn(NodeDatabase.prototype, "write").mockImplementation(function (this: NodeDatabase, ops, opts = {}) {
      writes.push({ db: this, ops, sync: opts.sync !== false });
      return write.call(this, ops, opts);
    });
  }, 120_000);
  afterEach(() => void (writes.length = 0));
  afterAll(async () => {
    vi.restoreAllMocks();
    await net?.stop();
  });

  const report = (): Promise<CreditReport> =>
    net.running[0]!.client!.unary("getCreditReport", { subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId, asOf: "", deadlineMs: 10_000 });

  it("logs the inquiry leaf in the inquiry's own synced batch, and the answer proves it and the record leaf", { timeout: 60_000 }, async () => {
    const holderDb = databaseOf(net.running[1]!.node!);
    const r = await report();
    const holderId = net.running[1]!.layout.institutionId;
    const outcome = r.holders.find((h) => h.institutionId === holderId)!;
    expect(outcome.status).toBe(HolderStatus.OK);

    const synced = writes.filter((w) => w.db === holderDb && w.sync);
    expect(synced).toHaveLength(1);
    const levels = new Set(synced[0]!.ops.map((op) => op.sublevel));
    // Tiles and size of the log, the inquiry (subject index), its audit entry and the request's nonce: one batch.
    for (const level of [holderDb.levels.tlog, holderDb.levels.subj, holderDb.levels.audit, holderDb.levels.nonce]) expect(levels.has(level)).toBe(true);

    const answer = HolderAnswer.decode(outcome.signedAnswer);
    const check = checkAnswerProof(answer, { publicKey: net.running[1]!.key.publicKey, required: true });
    expect(check).toMatchObject({ proved: true, recordsProved: 1, recordsUnlogged: 0 });
    // The checkpoint covers the inquiry leaf, which is in the holder's log.
    const log = net.running[1]!.node!.transparencyLog.log;
    expect(check.checkpoint!.size).toBeLessThanOrEqual(log.size);
    expect(Number(answer.logProof!.inquiry!.leafIndex)).toBeLessThan(check.checkpoint!.size);

    const saved = CreditReport.fromJSON(JSON.parse(JSON.stringify(CreditReport.toJSON(r))));
    const keys = new Map(net.running.map((m) => [m.layout.institutionId, m.key.publicKey]));
    const verified = verifyReport(saved, { memberPublicKey: (id) => keys.get(id), verify: verifySignature, requireProofs: true });
    expect(verified.failures).toEqual([]);
    expect(verified.holders.filter((h) => h.institutionId !== r.requesterInstitutionId).map((h) => h.proof)).toEqual(["VERIFIED", "VERIFIED"]);
  });

  it("shares synced writes between concurrent queries, never more than one each", { timeout: 60_000 }, async () => {
    const holderDb = databaseOf(net.running[1]!.node!);
    const reports = await Promise.all(Array.from({ length: 8 }, () => report()));
    const holderIds = net.running.slice(1).map((m) => m.layout.institutionId);
    for (const r of reports) {
      expect(r.holders.filter((h) => holderIds.includes(h.institutionId)).map((h) => HolderStatus[h.status])).toEqual(["OK", "OK"]);
    }
    const synced = writes.filter((w) => w.db === holderDb && w.sync);
    expect(synced.length).toBeGreaterThanOrEqual(1);
    expect(synced.length).toBeLessThanOrEqual(8);
    for (const w of synced) expect(w.ops.some((op) => op.sublevel === holderDb.levels.tlog)).toBe(true);
  });
});
