import { randomUUID } from "node:crypto";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsentStatus, HolderStatus, IdType, ProductType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import { readSecrets } from "../../src/config/secrets.js";
import { signConsent } from "../../src/consent/artefact.js";
import type { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import { NodeKey } from "../../src/identity/node-key.js";
import type { HolderResult } from "../../src/report/assemble.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { eventually, sleep } from "../helpers/eventually.js";
import { QueryProbe } from "../helpers/query-probe.js";
import { account, residentId } from "../helpers/records.js";

/**
 * Revocation everywhere, with child processes: lender bank-a, holders cfc-b
 * and ecom-c.
 *
 * How the holders' refusals are observed. bank-a's own ReportService refuses a
 * revoked or expired consent before asking anyone, so its reports cannot show
 * what the holders would do. Two means are used instead:
 *  - while bank-a runs, each holder's Prometheus counter
 *    creditmesh_revocations_stored_total{via=gossip|pull} (operator-visible)
 *    shows when, and how, it stored the revocation: this is what "within
 *    seconds" and "pulled, not gossiped" are measured on;
 *  - at the end, with bank-a stopped, a QueryProbe holding bank-a's node key
 *    sends both holders the very query bank-a's node would send with that
 *    consent (signed by bank-a, fresh nonce) minus the local check, and each
 *    holder answers with a signed DENIED naming the revocation or the expiry.
 *    A consent that was neither revoked nor expired still gets OK from the
 *    same probe, so the refusals are about those consents and nothing else.
 */

const LENDER = "bank-a";
const HOLDERS = ["cfc-b", "ecom-c"];
const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const daysAgo = (n: number): string => new Date(Date.parse(AS_OF) - n * DAY_MS).toISOString().slice(0, 10);
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19910416", 207, "320106"), name: "周敏", phone: "13700001111" };

const outcomes = (results: HolderResult[]) =>
  Object.fromEntries(results.map((r) => [r.outcome.institutionId, { status: HolderStatus[r.outcome.status], reason: r.outcome.reason }]));

describe("a revoked consent is refused by every holder, including one that was down during the revocation", () => {
  const roles: Role[][] = [[Role.LENDER], [Role.FURNISHER], [Role.FURNISHER]];
  const net = new TestNetwork({ nodes: 3, metrics: true, roles: (i) => roles[i]! });
  let revoked: Consent;
  let control: Consent;
  let revokedAtMs: number;
  let probe: QueryProbe | undefined;

  const grant = (validUntil: Date): Promise<Consent> =>
    net.client(LENDER).unary("grantConsent", {
      subject: BORROWER,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil,
      evidenceRef: `sha256:authorization-${Date.now()}-${Math.random().toString(16).slice(2)}`,
    });
  const report = (consent: Consent) =>
    net.client(LENDER).unary("getCreditReport", { subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: AS_OF, deadlineMs: 5_000 });
  const stored = (id: string, via: "gossip" | "pull") => net.metric(id, "creditmesh_revocations_stored_total", { via });

  beforeAll(async () => {
    await net.start();
    await net.waitConnected([LENDER, ...HOLDERS]);
    for (const [i, id] of HOLDERS.entries()) {
      const accountId = `ACC-${id}-1`;
      const acks = await net.client(id).submit([
        { records: [account({ idNumber: BORROWER.idNumber, name: BORROWER.name, accountId, productType: ProductType.CASH_LOAN, openedOn: daysAgo(60 + i), creditLimit: "200000", termMonths: 6 })] },
      ]);
      expect(acks[0]!.accepted).toBe(1);
    }
    revoked = await grant(new Date(Date.now() + 30 * DAY_MS));
    control = await grant(new Date(Date.now() + 30 * DAY_MS));
  }, 180_000);

  afterAll(async () => {
    await probe?.stop();
    await net.stop();
  });

  it("before the revocation, both holders answer OK", async () => {
    for (const consent of [revoked, control]) {
      const r = await report(consent);
      const holders = Object.fromEntries((r.holders as { institutionId: string; status: number }[]).map((h) => [h.institutionId, HolderStatus[h.status]]));
      expect(holders).toMatchObject({ "cfc-b": "OK", "ecom-c": "OK" });
    }
  });

  it("a holder that is up stores the revocation from gossip within seconds", async () => {
    await net.stopNode("ecom-c");
    expect(await stored("cfc-b", "gossip")).toBe(0);
    const answer = await net.client(LENDER).unary("revokeConsent", { consentId: revoked.consentId });
    revokedAtMs = Date.now();
    expect(answer.status).toBe(ConsentStatus.REVOKED);
    await eventually("cfc-b stores the revocation", async () => ((await stored("cfc-b", "gossip")) === 1 ? true : undefined), 20_000);
    // The lender's own node refuses it too, before asking anyone.
    await expect(report(revoked)).rejects.toMatchObject({ code: GrpcStatus.PERMISSION_DENIED });
  });

  it("a holder that was down pulls it from the lender within seconds of reconnecting", async () => {
    // Past gossipsub's message cache (a few heartbeats), so nothing can replay the gossip to it.
    await sleep(Math.max(0, revokedAtMs + 6_000 - Date.now()));
    await net.startNode("ecom-c");
    await eventually("ecom-c pulls the revocation", async () => ((await stored("ecom-c", "pull")) === 1 ? true : undefined), 30_000);
    expect(await stored("ecom-c", "gossip")).toBe(0);
    expect(await net.metric("ecom-c", "creditmesh_revocation_pulls_total", { outcome: "ok" })).toBeGreaterThan(0);
    await net.waitConnected(["ecom-c"], [LENDER, "cfc-b"]);
  });

  it("every holder refuses the revoked consent, the expired one too, and still serves a valid one", async () => {
    // Stored revocations are durable: cfc-b restarts while the lender is down, so it cannot learn it again.
    await net.stopNode(LENDER);
    await net.stopNode("cfc-b");
    await net.startNode("cfc-b");
    const lender = net.node(LENDER);
    // An artefact the lender signed that ran out an hour ago: what a holder sees of a consent past its
    // validity, without waiting for one to run out (the lender's own node would not send it).
    const lenderKey = NodeKey.fromSeed(Buffer.from(readSecrets(`${lender.dir}/secrets.json`).nodeKey, "hex"));
    const expiring = signConsent(
      { ...control, consentId: randomUUID(), validFrom: new Date(Date.now() - 30 * DAY_MS), validUntil: new Date(Date.now() - 3_600_000), issuedAt: new Date(Date.now() - 30 * DAY_MS), signature: Buffer.alloc(0) },
      lenderKey,
    );
    probe = await QueryProbe.start({
      institutionId: LENDER,
      secretsFile: `${lender.dir}/secrets.json`,
      manifestFile: net.layout.manifestFile,
      operatorPublicKey: net.layout.operatorPublicKey,
    });
    const p = probe;
    await eventually("the probe reaches both holders", async () => (HOLDERS.every((id) => p.isConnected(net.node(id).peerId)) ? true : undefined), 15_000);

    const afterRevocation = outcomes(await p.ask(revoked, Purpose.LOAN_ORIGINATION, AS_OF));
    expect(afterRevocation).toEqual({
      "cfc-b": { status: "DENIED", reason: "consent was revoked" },
      "ecom-c": { status: "DENIED", reason: "consent was revoked" },
    });
    const afterExpiry = outcomes(await p.ask(expiring, Purpose.LOAN_ORIGINATION, AS_OF));
    expect(afterExpiry).toEqual({
      "cfc-b": { status: "DENIED", reason: "consent has expired" },
      "ecom-c": { status: "DENIED", reason: "consent has expired" },
    });
    const stillValid = outcomes(await p.ask(control, Purpose.LOAN_ORIGINATION, AS_OF));
    expect(stillValid).toEqual({ "cfc-b": { status: "OK", reason: "" }, "ecom-c": { status: "OK", reason: "" } });
  });
});
