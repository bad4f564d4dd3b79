import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecrets } from "../../src/config/secrets.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import { InProcessEvaluators } from "../../src/subject/oprf/in-process.js";
import { decodeKeyShare, ShareEvaluator } from "../../src/subject/oprf/threshold.js";
import { ThresholdOprfTokenizer } from "../../src/subject/oprf/tokenizer.js";
import { HmacSubjectTokenizer } from "../../src/subject/tokenizer.js";
import { startInProcessNetwork, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";
import { account, repayment, residentId } from "../helpers/records.js";

const ID = residentId("19880214", 517, "110105");
const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: "李娜", phone: "" };

/**
 * Four members, three of them the token committee (2 of 3): a member outside
 * the committee and one inside it obtain the same subject token over
 * /creditmesh/oprf/1.0.0, so a report finds both tradelines; the token is
 * the committee key's, not the shared HMAC key's.
 */
describe("subject tokens from a 2-of-3 evaluator committee", () => {
  let net: InProcessNetwork;
  let outside: NetworkMember;
  let inside: NetworkMember;

  beforeAll(async () => {
    net = await startInProcessNetwork({ nodes: 4, tokenCommittee: { members: [0, 1, 2], threshold: 2 } });
    inside = net.running[0]!;
    outside = net.running[3]!;
    for (const [m, id] of [[inside, "OPRF-A"], [outside, "OPRF-D"]] as const) {
      const acks = await m.client!.submit([{ records: [account({ accountId: id, idNumber: ID, name: SUBJECT.name }), repayment({ accountId: id })] }]);
      expect(acks[0]!.rejected).toEqual([]);
    }
  }, 180_000);

  afterAll(async () => {
    await net?.stop();
  });

  it("a report at the member outside the committee finds the tradeline furnished at a member inside it, under the committee's token", { timeout: 60_000 }, async () => {
    const consent = await outside.client!.unary("grantConsent", {
      subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000), validUntil: new Date(Date.now() + 3_600_000), evidenceRef: "sha256:oprf",
    });
    const report = (await outside.client!.unary("getCreditReport", {
      subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: "", deadlineMs: 10_000,
    })) as CreditReport;
    expect(report.summary?.accounts).toBe(2);
    expect(new Set(report.tradelines.map((t) => t.institutionId))).toEqual(new Set([inside.layout.institutionId, outside.layout.institutionId]));

    const subject = [{ idTypeName: "CN_RESIDENT_ID", normalizedId: ID }];
    const membership = await net.membership();
    const committee = membership.tokenCommittee()!;
    const shares = new Map(committee.members.map((m) => [m.institutionId, new ShareEvaluator(decodeKeyShare(Buffer.from(readSecrets(path.join(net.layout.dir, m.institutionId, "secrets.json")).tokenKeyShare!, "hex")))]));
    const [expected] = await new ThresholdOprfTokenizer({ committee, evaluators: new InProcessEvaluators(shares, committee.epoch) }).tokens(subject, "LOOKUP");
    expect(report.subjectToken).toBe(expected);
    expect(report.subjectToken).not.toBe(new HmacSubjectTokenizer(Buffer.from(net.tokenKey, "hex")).token(subject[0]!));
    expect(net.allLogs()).not.toContain(ID);
  });

  it("with one evaluator down a new subject still gets its token; with two down ingest fails UNAVAILABLE and writes nothing", { timeout: 90_000 }, async () => {
    await net.running[1]!.node!.stop();
    const acks = await outside.client!.submit([{ records: [account({ accountId: "OPRF-D2", idNumber: residentId("19880214", 518, "110105") })] }]);
    expect(acks[0]!.rejected).toEqual([]);
    await net.running[2]!.node!.stop();
    const before = (await outside.node!.status()).accounts;
    await expect(outside.client!.submit([{ records: [account({ accountId: "OPRF-D3", idNumber: residentId("19880214", 519, "110105") })] }])).rejects.toThrow(/subject tokens unavailable/);
    expect((await outside.node!.status()).accounts).toBe(before);
  });
});
