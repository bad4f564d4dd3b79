import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sealRevocation } from "../../../src/consent/revocation.js";
import { ConsentStatus, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import { Membership } from "../../../src/identity/manifest.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { createMetrics, type Metrics } from "../../../src/metrics.js";
import { applyRevocation } from "../../../src/p2p/revocations.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelConsentStore } from "../../../src/store/level-consent-store.js";
import { manifestFor } from "./net-fixture.js";

/** A holder's store and three members: X (the forger), Y (the victim), Z (an honest relay). */
let dir: string;
let db: NodeDatabase;
let store: LevelConsentStore;
let metrics: Metrics;
let membership: Membership;
let x: NodeKey;
let y: NodeKey;
let z: NodeKey;
let xId: string;
let yId: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-reventitle-"));
  db = await NodeDatabase.open(dir);
  store = new LevelConsentStore(db);
  metrics = createMetrics({ processMetrics: false });
  [x, y, z] = [generateNodeKey(), generateNodeKey(), generateNodeKey()];
  const operator = generateNodeKey();
  membership = new Membership(operator.publicKey, manifestFor(operator, [{ key: x }, { key: y }, { key: z }], 1));
  xId = membership.byPeerId(x.peerId)!.institutionId;
  yId = membership.byPeerId(y.peerId)!.institutionId;
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

function consentOf(grantee: string, id: string): Consent {
  return {
    consentId: id,
    subjectToken: "t".repeat(64),
    granteeInstitutionId: grantee,
    purpose: Purpose.LOAN_ORIGINATION,
    validFrom: new Date("2026-01-01T00:00:00.000Z"),
    validUntil: new Date("2026-04-01T00:00:00.000Z"),
    evidenceRef: "sha256:abcd",
    status: ConsentStatus.ACTIVE,
    issuedAt: new Date("2026-01-01T00:00:01.000Z"),
    signature: Buffer.alloc(0),
    revokedAt: undefined,
  };
}

const revokedAt = new Date("2026-02-01T00:00:00.000Z");
const apply = (data: Uint8Array, sender: string) => applyRevocation(data, { membership, consents: store, logger: silentLogger(), metrics }, "gossip", sender);

async function refused(): Promise<Record<string, number>> {
  const { values } = await metrics.revocationsRefused.get();
  return Object.fromEntries(values.map((v) => [`${v.labels.member}/${v.labels.reason}`, v.value]));
}

describe("applyRevocation: only the consent's grantee may revoke it", () => {
  it("a member's signed revocation naming another member's consent it does not know lands under the signer, never under the victim", async () => {
    const forged = sealRevocation({ consentId: "y-consent-1", granteeInstitutionId: xId, revokedAt }, x);
    await apply(forged, x.peerId);
    expect(await store.getRevocation(yId, "y-consent-1")).toBeUndefined();
  });

  it("drops and counts a revocation naming a consent this node knows was granted to someone else", async () => {
    await store.put(consentOf(yId, "y-consent-1"));
    const forged = sealRevocation({ consentId: "y-consent-1", granteeInstitutionId: xId, revokedAt }, x);
    expect(await apply(forged, x.peerId)).toBeUndefined();
    expect(await store.getRevocation(yId, "y-consent-1")).toBeUndefined();
    expect(await store.getRevocation(xId, "y-consent-1")).toBeUndefined();
    expect(await refused()).toEqual({ [`${xId}/consent_of_another_grantee`]: 1 });
  });

  it("drops and counts a revocation signed by one member claiming another as grantee", async () => {
    const forged = sealRevocation({ consentId: "y-consent-1", granteeInstitutionId: yId, revokedAt }, x);
    expect(await apply(forged, x.peerId)).toBeUndefined();
    expect(await store.getRevocation(yId, "y-consent-1")).toBeUndefined();
    expect(await refused()).toEqual({ [`${xId}/bad_signature`]: 1 });
  });

  it("drops and counts a genuine revocation gossiped by a member other than its signer", async () => {
    const genuine = sealRevocation({ consentId: "y-consent-1", granteeInstitutionId: yId, revokedAt }, y);
    const zId = membership.byPeerId(z.peerId)!.institutionId;
    expect(await apply(genuine, z.peerId)).toBeUndefined();
    expect(await store.getRevocation(yId, "y-consent-1")).toBeUndefined();
    expect(await refused()).toEqual({ [`${zId}/not_the_signer`]: 1 });
  });

  it("stores the grantee's own revocation of its own consent", async () => {
    await store.put(consentOf(yId, "y-consent-1"));
    const genuine = sealRevocation({ consentId: "y-consent-1", granteeInstitutionId: yId, revokedAt }, y);
    expect(await apply(genuine, y.peerId)).toMatchObject({ consentId: "y-consent-1" });
    expect(await store.getRevocation(yId, "y-consent-1")).toEqual(revokedAt);
    expect(await refused()).toEqual({});
  });
});
