import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecrets } from "../../src/config/secrets.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { AuditEntry } from "../../src/gen/creditmesh/v1/node.js";
import type { Manifest } from "../../src/gen/creditmesh/v1/peer.js";
import type { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import { parseOperatorPublicKey, readManifestFile, verifyManifest } from "../../src/identity/manifest.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { buildPlan, signPlan } from "../../src/subject/oprf/dkg-plan.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { eventually } from "../helpers/eventually.js";
import { cli } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";

const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19910517", 233, "310104"), name: "王芳", phone: "" };
const DAY_MS = 86_400_000;

/**
 * Four running members (node processes), no token committee at first. The
 * operator's `tokens keygen` makes a 2-of-3 committee among the first three
 * through the fourth member, which is not in it: the members run the key
 * generation themselves and no secrets file is read or written. The new
 * manifest reaches the nodes through their manifest file and takes effect
 * without a restart. A borrower furnished at two members appears in a third
 * member's report. `tokens reshare` then hands the key to another 2-of-3
 * committee: the report is the same, also at a member that must ask the new
 * committee for the token.
 */
describe("tokens keygen and reshare between running members", () => {
  // Created without a committee: the ceremony makes the first one.
  const net = new TestNetwork({ nodes: 4, committee: false });
  let ids: string[];
  let first: CreditReport;

  const manifest = async (): Promise<Manifest> =>
    verifyManifest(await readManifestFile(path.join(net.dir, "manifest.json")), parseOperatorPublicKey(net.layout.operatorPublicKey));

  /** Runs a ceremony through `via`, then waits until every node runs the manifest it signed. */
  const ceremony = async (kind: "keygen" | "reshare", members: string[], via: string): Promise<Manifest> => {
    const node = net.node(via);
    const r = await cli(["tokens", kind, "--dir", net.dir, "--members", members.join(","), "--threshold", "2", "--addr", node.grpcAddr, "--api-key", node.apiKey]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("without a restart");
    const signed = await manifest();
    const epoch = signed.tokenCommittee!.epoch;
    const evaluators = signed.tokenCommittee!.evaluators.map((e) => e.institutionId);
    // The nodes read the new manifest from their manifest file and put its committee in force without a restart.
    await eventually(`every node with the committee of epoch ${epoch} in force`, async () => {
      const statuses = await Promise.all(ids.map((id) => net.client(id).unary("getNodeStatus", {})));
      return statuses.every((st) => st.tokenCommitteeEpoch === epoch && st.tokenEvaluator === evaluators.includes(st.institutionId)) ? true : undefined;
    }, 60_000, 250);
    return signed;
  };

  const report = async (lender: string): Promise<CreditReport> => {
    const consent = await net.client(lender).unary("grantConsent", {
      subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, validFrom: new Date(Date.now() - 60_000), validUntil: new Date(Date.now() + DAY_MS),
      evidenceRef: `sha256:${createHash("sha256").update(`authorization-${lender}-${Date.now()}`).digest("hex")}`,
    }, 60_000);
    // Until the holders' filters name the new borrower a report may skip them: wait for both tradelines.
    return eventually(`${lender}'s report with both tradelines`, async () => {
      const r = (await net.client(lender).unary("getCreditReport", {
        subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: "", deadlineMs: 20_000,
      }, 60_000)) as CreditReport;
      return r.tradelines.length === 2 ? r : undefined;
    }, 90_000, 1_000);
  };

  const trail = (id: string): Promise<AuditEntry[]> => net.client(id).exportAudit();
  /** Batches `requester` had evaluated, as each member's audit trail records them. */
  const evaluatedFor = async (requester: string) =>
    Object.fromEntries(await Promise.all(ids.map(async (id) => [id, (await trail(id)).filter((e) => e.action === "TOKENS_EVALUATED" && e.actor === requester).length] as const)));

  const tradelines = (r: CreditReport) =>
    r.tradelines
      .map((t) => ({ institutionId: t.institutionId, accountRef: t.accountRef, productType: t.productType, balance: t.balance, status: t.status, history: t.paymentHistory }))
      .sort((a, b) => a.institutionId.localeCompare(b.institutionId));

  beforeAll(async () => {
    await net.start();
    ids = net.nodes.map((n) => n.institutionId);
  }, 240_000);

  afterAll(async () => {
    await net.stop();
  });

  it("keygen: a 2-of-3 committee made by the running members; a borrower furnished at two members is in a third member's report", { timeout: 300_000 }, async () => {
    expect((await manifest()).tokenCommittee).toBeUndefined();
    const signed = await ceremony("keygen", ids.slice(0, 3), ids[3]!);
    const committee = signed.tokenCommittee!;
    expect(committee.threshold).toBe(2);
    expect(committee.evaluators.map((e) => e.institutionId)).toEqual(ids.slice(0, 3));
    // The shares live in the members' databases, not in their secrets files.
    for (const id of ids) expect(readSecrets(path.join(net.dir, id, "secrets.json")).tokenKeyShare).toBeUndefined();

    // Ingest of a new borrower needs the committee in force at enough evaluators: retried until it is.
    for (const [id, acct] of [[ids[0]!, "CEREMONY-A"], [ids[3]!, "CEREMONY-D"]] as const) {
      await eventually(`${id} ingests the borrower`, async () => {
        const acks = await net.client(id).submit([{ records: [account({ accountId: acct, idNumber: BORROWER.idNumber, name: BORROWER.name }), repayment({ accountId: acct })] }]);
        return acks[0]?.rejected.length === 0 && acks[0]?.accepted === 2 ? true : undefined;
      }, 60_000, 500);
    }
    first = await report(ids[1]!);
    expect(new Set(first.tradelines.map((t) => t.institutionId))).toEqual(new Set([ids[0], ids[3]]));
    // No member holds a shared token key: the committee evaluated the token for the lender.
    for (const id of ids) expect(readSecrets(path.join(net.dir, id, "secrets.json")).tokenKey).toBeUndefined();
    const evaluated = await evaluatedFor(ids[1]!);
    expect(ids.slice(0, 3).filter((id) => evaluated[id]! > 0).length).toBeGreaterThanOrEqual(2);
    expect(evaluated[ids[3]!]).toBe(0);
    // Each member of the committee recorded the share it stored; the coordinator, the ceremony.
    for (const id of ids.slice(0, 3)) expect((await trail(id)).some((e) => e.action === "TOKEN_SHARE_STORED")).toBe(true);
    expect((await trail(ids[3]!)).filter((e) => e.action === "TOKEN_CEREMONY_RUN").map((e) => e.details.outcome)).toEqual(["OK"]);
  });

  it("reshare to another committee keeps the key and so the report, also at a member that asks the new committee", { timeout: 300_000 }, async () => {
    const before = (await manifest()).tokenCommittee!;
    // A second keygen would change every token: refused unless asked for explicitly, and nothing is signed.
    const node = net.node(ids[0]!);
    const refused = await cli(["tokens", "keygen", "--dir", net.dir, "--members", ids.slice(1, 4).join(","), "--threshold", "2", "--addr", node.grpcAddr, "--api-key", node.apiKey]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("replace_key");
    expect((await manifest()).tokenCommittee).toEqual(before);
    const signed = await ceremony("reshare", ids.slice(1, 4), ids[0]!);
    const after = signed.tokenCommittee!;
    expect(Number(after.epoch)).toBe(Number(before.epoch) + 1);
    expect(Buffer.from(after.publicKey).equals(Buffer.from(before.publicKey))).toBe(true);
    expect(after.evaluators.map((e) => e.institutionId)).toEqual(ids.slice(1, 4));

    const again = await report(ids[1]!);
    expect(again.subjectToken).toBe(first.subjectToken);
    expect(tradelines(again)).toEqual(tradelines(first));
    // ids[2] never looked this borrower up: its token comes from the new committee, at the new epoch.
    const fresh = await report(ids[2]!);
    expect(fresh.subjectToken).toBe(first.subjectToken);
    expect(tradelines(fresh)).toEqual(tradelines(first));
    // That token came from the new committee only: the member that left it evaluated nothing for ids[2].
    const evaluated = await evaluatedFor(ids[2]!);
    expect(ids.slice(1, 4).filter((id) => evaluated[id]! > 0).length).toBeGreaterThanOrEqual(2);
    expect(evaluated[ids[0]!]).toBe(0);

    const status = await cli(["tokens", "status", "--manifest", path.join(net.dir, "manifest.json"), "--addr", net.node(ids[2]!).grpcAddr, "--api-key", net.node(ids[2]!).apiKey]);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toContain(`committee epoch ${after.epoch}, threshold 2 of 3`);
    for (const n of net.nodes) expect(readFileSync(n.logFile, "utf8")).not.toContain(BORROWER.idNumber);
  });

  it("a plan names the member that runs it: sent to another member, it is refused before any participant is asked", async () => {
    const current = await manifest();
    const operator = NodeKey.fromSeed(Buffer.from(readFileSync(net.layout.operatorKeyFile, "utf8").trim(), "hex"));
    const plan = buildPlan({
      networkId: current.networkId, members: ids.slice(0, 3), threshold: 2, current: current.tokenCommittee, reshare: true, now: new Date(), coordinator: ids[0]!,
    });
    const via = net.node(ids[3]!);
    const runsBefore = (await trail(via.institutionId)).filter((e) => e.action === "TOKEN_CEREMONY_RUN").length;
    const err = (await net.client(via.institutionId).unary("runTokenCeremony", { plan: signPlan(plan, operator) }, 30_000).then(() => undefined, (e: unknown) => e)) as ServiceError;
    expect(err?.code, err?.details).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(err.metadata.get("field")[0]).toBe("plan.coordinator_institution_id");
    expect((await trail(via.institutionId)).filter((e) => e.action === "TOKEN_CEREMONY_RUN")).toHaveLength(runsBefore);
    // No participant opened it: the plan's session is unknown to them, so the member it names can still run it.
    for (const id of ids.slice(0, 3)) expect((await trail(id)).some((e) => e.details.session === plan.sessionId)).toBe(false);
    expect((await manifest()).tokenCommittee).toEqual(current.tokenCommittee);
  });
});
