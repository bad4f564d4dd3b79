import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecrets } from "../../src/config/secrets.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import { InProcessEvaluators } from "../../src/subject/oprf/in-process.js";
import { decodeKeyShare, ShareEvaluator } from "../../src/subject/oprf/threshold.js";
import { ThresholdOprfTokenizer } from "../../src/subject/oprf/tokenizer.js";
import { ristretto255 } from "@noble/curves/ed25519.js";
import { interpolateAtZero } from "../../src/subject/oprf/shamir.js";
import { scalarToBytes } from "../../src/subject/oprf/suite.js";
import { startInProcessNetwork, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";
import { account, repayment, residentId } from "../helpers/records.js";

const ID = residentId("19880214", 517, "110105");
const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: "李娜", phone: "" };
/** Elements one member may have evaluated per purpose and day at each evaluator. */
const QUOTA = 6;
/** Short, so that the case with too few evaluators up fails in seconds rather than after the default 30 s. */
const EVALUATION_DEADLINE_MS = 4_000;

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
    // A small daily quota, so the test can use one member's up.
    net = await startInProcessNetwork({ nodes: 4, tokenCommittee: { members: [0, 1, 2], threshold: 2 }, configOverrides: { tokens: { dailyQuota: QUOTA, evaluationDeadlineMs: EVALUATION_DEADLINE_MS } } });
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
    expect(net.allLogs()).not.toContain(ID);
  });

  it("no file under any node's directory holds a network-wide token key: no HMAC key, no committee-of-one key, not the committee's key; each share only at its evaluator", async () => {
    const committee = (await net.membership()).tokenCommittee()!;
    expect(net.tokenKey).toBe("");
    const shares = committee.members.map((m) => ({ id: m.institutionId, hex: readSecrets(path.join(net.layout.dir, m.institutionId, "secrets.json")).tokenKeyShare! }));
    // The key the shares interpolate to (it exists nowhere but in this test), checked against the manifest's group key.
    const k = interpolateAtZero(shares.slice(0, committee.threshold).map(({ hex }) => decodeKeyShare(Buffer.from(hex, "hex"))).map((sh) => ({ index: sh.index, value: sh.secret })));
    expect(Buffer.from(ristretto255.Point.BASE.multiply(k).toBytes()).toString("hex")).toBe(committee.keyId);
    const kBytes = Buffer.from(scalarToBytes(k));
    const needles = [kBytes, Buffer.from(kBytes.toString("hex")), Buffer.from(kBytes.toString("base64"))];
    let scanned = 0;
    for (const m of net.members) {
      const secrets = readSecrets(path.join(m.layout.dir, "secrets.json"));
      expect({ tokenKey: secrets.tokenKey, localTokenKey: secrets.localTokenKey }).toEqual({ tokenKey: undefined, localTokenKey: undefined });
      for (const file of filesUnder(m.layout.dir)) {
        const bytes = readFileSync(file);
        scanned++;
        for (const n of needles) expect(bytes.includes(n), `the committee key is in ${file}`).toBe(false);
        for (const sh of shares) {
          if (sh.id !== m.layout.institutionId) expect(bytes.includes(Buffer.from(sh.hex)), `${sh.id}'s share is in ${file}`).toBe(false);
        }
      }
    }
    for (const file of filesUnder(net.layout.dir).filter((f) => !net.members.some((m) => f.startsWith(m.layout.dir + path.sep)))) {
      for (const n of needles) expect(readFileSync(file).includes(n), `the committee key is in ${file}`).toBe(false);
    }
    // Databases, logs, configs and secrets of four members were read.
    expect(scanned).toBeGreaterThan(4 * 3);
  });

  it("a member past its daily quota is refused RESOURCE_EXHAUSTED, nothing is stored, and each evaluator's audit trail records the refusal", { timeout: 90_000 }, async () => {
    const before = (await outside.node!.status()).accounts;
    const records = Array.from({ length: QUOTA + 1 }, (_, k) => account({ accountId: `OPRF-Q${k}`, idNumber: residentId("19900301", 600 + k, "110105") }));
    await expect(outside.client!.submit([{ records }])).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/daily evaluation quota is used up/) });
    expect((await outside.node!.status()).accounts).toBe(before);
    const requester = outside.layout.institutionId;
    const refusedAt = await Promise.all(net.running.slice(0, 3).map(async (m) =>
      (await m.client!.exportAudit()).filter((e) => e.action === "TOKENS_REFUSED" && e.actor === requester && e.details.purpose === "ONBOARD" && e.details.count === String(QUOTA + 1))));
    // At least the threshold of evaluators were asked and refused; none evaluated the batch.
    expect(refusedAt.filter((r) => r.length > 0).length).toBeGreaterThanOrEqual(2);
    for (const r of refusedAt.flat()) expect(r.details.refusal).toMatch(/QUOTA/);
  });

  it("with one evaluator down a new subject still gets its token; with two down ingest fails UNAVAILABLE and writes nothing, and a known subject's report still works", { timeout: 90_000 }, async () => {
    await net.running[1]!.node!.stop();
    const acks = await outside.client!.submit([{ records: [account({ accountId: "OPRF-D2", idNumber: residentId("19880214", 518, "110105") })] }]);
    expect(acks[0]!.rejected).toEqual([]);
    await net.running[2]!.node!.stop();
    const before = (await outside.node!.status()).accounts;
    await expect(outside.client!.submit([{ records: [account({ accountId: "OPRF-D3", idNumber: residentId("19880214", 519, "110105") })] }])).rejects.toThrow(new RegExp(`subject tokens unavailable: .*deadline of ${EVALUATION_DEADLINE_MS} ms passed`));
    expect((await outside.node!.status()).accounts).toBe(before);
    // A subject this member already holds needs no evaluation: its token is in the member's sealed cache.
    const consent = await outside.client!.unary("grantConsent", {
      subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000), validUntil: new Date(Date.now() + 3_600_000), evidenceRef: "sha256:oprf-cached",
    });
    const report = (await outside.client!.unary("getCreditReport", {
      subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: "", deadlineMs: 5_000,
    })) as CreditReport;
    expect(new Set(report.tradelines.map((t) => t.institutionId))).toEqual(new Set([inside.layout.institutionId, outside.layout.institutionId]));
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}
