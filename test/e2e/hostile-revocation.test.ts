import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecrets } from "../../src/config/secrets.js";
import { sealRevocation } from "../../src/consent/revocation.js";
import { HolderStatus, IdType, ProductType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { REVOCATIONS_TOPIC } from "../../src/p2p/protocols.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { eventually } from "../helpers/eventually.js";
import { QueryProbe } from "../helpers/query-probe.js";
import { account, residentId } from "../helpers/records.js";

/**
 * A member forges revocations of another lender's consent, with child
 * processes: lender bank-a (the victim), holders cfc-b (the forger) and
 * ecom-c. cfc-b is stopped and a probe holding its node key gossips, on the
 * revocations topic, what its node could: a revocation it signed naming
 * bank-a's consent id (as its own grantee, and claiming bank-a as grantee).
 * Every node hears it (the counters show it arrived); bank-a's next report
 * for that borrower is still OK from every holder.
 */

const LENDER = "bank-a";
const FORGER = "cfc-b";
const HOLDERS = ["cfc-b", "ecom-c"];
const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const daysAgo = (n: number): string => new Date(Date.parse(AS_OF) - n * DAY_MS).toISOString().slice(0, 10);
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19880302", 415, "320106"), name: "陈立", phone: "13700002222" };

describe("a member's forged revocation of another lender's consent changes nothing", () => {
  const roles: Role[][] = [[Role.LENDER], [Role.FURNISHER], [Role.FURNISHER]];
  const net = new TestNetwork({ nodes: 3, metrics: true, roles: (i) => roles[i]! });
  let victim: Consent;
  let probe: QueryProbe | undefined;

  const holderStatuses = async (): Promise<Record<string, string>> => {
    const r = await net
      .client(LENDER)
      .unary("getCreditReport", { subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId: victim.consentId, asOf: AS_OF, deadlineMs: 5_000 });
    return Object.fromEntries((r.holders as { institutionId: string; status: number }[]).map((h) => [h.institutionId, HolderStatus[h.status]!]));
  };
  const refused = (id: string, reason: string) => net.metric(id, "creditmesh_revocations_refused_total", { member: FORGER, reason });

  beforeAll(async () => {
    await net.start();
    await net.waitConnected([LENDER, ...HOLDERS]);
    for (const [i, id] of HOLDERS.entries()) {
      const acks = await net.client(id).submit([
        { records: [account({ idNumber: BORROWER.idNumber, name: BORROWER.name, accountId: `ACC-${id}-1`, productType: ProductType.CASH_LOAN, openedOn: daysAgo(60 + i), creditLimit: "200000", termMonths: 6 })] },
      ]);
      expect(acks[0]!.accepted).toBe(1);
    }
    victim = await net.client(LENDER).unary("grantConsent", {
      subject: BORROWER,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 30 * DAY_MS),
      evidenceRef: `sha256:authorization-${Date.now()}`,
    });
  }, 180_000);

  afterAll(async () => {
    await probe?.stop();
    await net.stop();
  });

  it("before the forgery, every holder answers OK", async () => {
    expect(await holderStatuses()).toMatchObject({ "cfc-b": "OK", "ecom-c": "OK" });
  });

  it("the forged revocations reach every node and are dropped and counted against the forger", async () => {
    const forger = net.node(FORGER);
    await net.stopNode(FORGER);
    const key = NodeKey.fromSeed(Buffer.from(readSecrets(`${forger.dir}/secrets.json`).nodeKey, "hex"));
    probe = await QueryProbe.start({
      institutionId: FORGER,
      secretsFile: `${forger.dir}/secrets.json`,
      manifestFile: net.layout.manifestFile,
      operatorPublicKey: net.layout.operatorPublicKey,
    });
    const p = probe;
    await eventually("the forger reaches the others", async () => ([LENDER, "ecom-c"].every((id) => p.isConnected(net.node(id).peerId)) ? true : undefined), 15_000);

    const revokedAt = new Date();
    const asItsOwn = sealRevocation({ consentId: victim.consentId, granteeInstitutionId: FORGER, revokedAt }, key);
    const claimingVictim = sealRevocation({ consentId: victim.consentId, granteeInstitutionId: LENDER, revokedAt }, key);
    // Published again until the mesh has formed and every node has counted both.
    await eventually(
      "every node drops the forgeries",
      async () => {
        await p.gossip(REVOCATIONS_TOPIC, asItsOwn);
        await p.gossip(REVOCATIONS_TOPIC, claimingVictim);
        const seen = [
          await refused(LENDER, "consent_of_another_grantee"),
          await refused(LENDER, "bad_signature"),
          await refused("ecom-c", "bad_signature"),
          await net.metric("ecom-c", "creditmesh_revocations_stored_total", { via: "gossip" }),
        ];
        return seen.every((n) => n >= 1) ? true : undefined;
      },
      30_000,
    );
  });

  it("the victim's next report is still OK from every holder", async () => {
    await probe?.stop();
    probe = undefined;
    await net.startNode(FORGER);
    await net.waitConnected([FORGER], [LENDER, "ecom-c"]);
    expect(await holderStatuses()).toMatchObject({ "cfc-b": "OK", "ecom-c": "OK" });
  });
});
