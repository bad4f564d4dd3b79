import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isoDate } from "../../src/clock.js";
import { HolderStatus, IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import type { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import { parseOperatorPublicKey, readManifestFile, signManifest, verifyManifest, writeManifestFile } from "../../src/identity/manifest.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { startInProcessNetwork, waitUntil, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";
import { residentId } from "../helpers/records.js";

const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19880612", 41, "110105"), name: "欧阳明远", phone: "13911112222" };

/**
 * DESIGN §2.2: the operator publishes a newer manifest by replacing a
 * member's manifest file (atomically, as `creditmesh network sign` does);
 * running nodes apply it without restart and their gaters follow it.
 */
describe("a newer manifest written to the manifest file", () => {
  let net: InProcessNetwork;

  beforeAll(async () => {
    net = await startInProcessNetwork({ nodes: 3 });
  }, 60_000);

  afterAll(async () => {
    await net?.stop();
  });

  const report = async (lender: NetworkMember): Promise<CreditReport> => {
    const consent = await lender.client!.unary("grantConsent", {
      subject: SUBJECT,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 3_600_000),
      evidenceRef: `sha256:manifest-file-${Date.now()}`,
    });
    return lender.client!.unary("getCreditReport", { subject: SUBJECT, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: isoDate(new Date()), deadlineMs: 2_000 });
  };
  /** The other members that answered the lender's report (its own node always does). */
  const answeredOthers = async (lender: NetworkMember): Promise<string[]> =>
    (await report(lender)).holders
      .filter((h) => h.institutionId !== lender.layout.institutionId)
      .filter((h) => h.status === HolderStatus.OK || h.status === HolderStatus.NO_DATA)
      .map((h) => h.institutionId)
      .sort();

  it("is applied by the running members, whose gaters then refuse the member it removed", async () => {
    const [a, b, removed] = net.running as [NetworkMember, NetworkMember, NetworkMember];
    const others = [a.layout.institutionId, b.layout.institutionId].sort();
    expect(await answeredOthers(removed)).toEqual(others);

    const operatorPublicKey = parseOperatorPublicKey(net.layout.operatorPublicKey);
    const current = verifyManifest(await readManifestFile(net.layout.manifestFile), operatorPublicKey);
    const operator = NodeKey.fromSeed(Buffer.from(readFileSync(net.layout.operatorKeyFile, "utf8").trim(), "hex"));
    const version = String(Number(current.version) + 1);
    const members = current.members.filter((m) => m.institutionId !== removed.layout.institutionId);
    await writeManifestFile(net.layout.manifestFile, signManifest({ ...current, version, members, issuedAt: new Date() }, operator));

    for (const m of [a, b]) {
      await waitUntil(
        async () => {
          const status = await m.node!.status();
          return status.manifestVersion === version && !status.members.some((s) => s.institutionId === removed.layout.institutionId);
        },
        10_000,
        `${m.layout.institutionId} to apply manifest version ${version}`,
      );
    }
    // The removed node keeps dialing; every holder refuses it, so its reports get no answer.
    for (let i = 0; i < 3; i++) expect(await answeredOthers(removed)).toEqual([]);
    // The remaining members still serve each other.
    expect(await answeredOthers(a)).toEqual([b.layout.institutionId]);
  }, 40_000);
});
