import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "vitest";
import { isoDate, ManualClock } from "../../../src/clock.js";
import { signConsent } from "../../../src/consent/artefact.js";
import { ConsentService } from "../../../src/consent/service.js";
import type { AuditAction } from "../../../src/audit/trail.js";
import { accountDeletionEffects } from "../../../src/disputes/account-deletion.js";
import { DisputeService, type DisputeRouter } from "../../../src/disputes/service.js";
import { CreditMeshError } from "../../../src/errors.js";
import { ConsentStatus, IdType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import type { Record as WireRecord } from "../../../src/gen/creditmesh/v1/records.js";
import type { Tradeline } from "../../../src/gen/creditmesh/v1/report.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { accountRefFor, IngestService } from "../../../src/records/ingest.js";
import { HolderService, type HolderModules } from "../../../src/report/holder.js";
import { openStores, type Stores } from "../../../src/store/index.js";
import { normalizeSubject } from "../../../src/subject/normalize.js";
import { HmacSubjectTokenizer } from "../../../src/subject/tokenizer.js";
import { account, residentId } from "../../helpers/records.js";
import { activeConsent } from "../../helpers/consent.js";
import { tempDir } from "../../helpers/temp.js";

export const DAY_MS = 24 * 3600 * 1000;

export interface AuditEntry {
  action: AuditAction;
  actor: string;
  details: Record<string, string>;
}

export interface DisputeFixture {
  institutionId: string;
  clock: ManualClock;
  stores: Stores;
  ingest: IngestService;
  service: DisputeService;
  /** Consents granted to this institution, as its node records them. */
  consents: ConsentService;
  audit: AuditEntry[];
  /** Subject token of a resident ID (the tokenizer every node of a network shares). */
  token(idNumber: string): string;
  refOf(accountId: string): string;
  /** Records at this node the subject's consent to this institution (LOAN_ORIGINATION, valid a year unless `over` says otherwise). */
  grant(idNumber: string, over?: { purpose?: Purpose; validUntil?: Date }): Promise<Consent>;
  /** A consent artefact of the subject to another member, signed with that member's node key, as its filing node attaches it. */
  consentOf(granteeInstitutionId: string, idNumber: string, over?: Partial<Consent>): Consent;
  /** The node key of a member (one per institution id, made on first use). */
  keyOf(institutionId: string): NodeKey;
  /** Furnishes records at this node; fails the test if any is rejected. */
  furnish(...records: WireRecord[]): Promise<void>;
  /** This holder's tradelines for the subject, exactly as it would answer a query now. */
  tradelines(idNumber: string): Promise<Tradeline[]>;
  close(): Promise<void>;
}

/** One holder on a temp LevelDB with real stores, ingest and a ManualClock. */
export async function disputeFixture(opts: { institutionId?: string; router?: DisputeRouter; responseDays?: number } = {}): Promise<DisputeFixture> {
  const institutionId = opts.institutionId ?? "cfc-b";
  const tmp = tempDir("cm-disputes-");
  const stores = await openStores(tmp.dir, { dataKeys: [{ id: "k1", key: randomBytes(32) }] });
  const clock = new ManualClock("2026-03-01T00:00:00Z");
  const logger = silentLogger();
  const tokenizer = new HmacSubjectTokenizer(Buffer.alloc(32, 7));
  const accountRefKey = randomBytes(32);
  const keys = new Map<string, NodeKey>();
  const keyOf = (id: string): NodeKey => {
    if (!keys.has(id)) keys.set(id, generateNodeKey());
    return keys.get(id)!;
  };
  const key = keyOf(institutionId);
  const audit: AuditEntry[] = [];
  const auditTrail = { append: async (action: AuditAction, actor: string, details: Record<string, string>) => void audit.push({ action, actor, details }) };
  const deletions = accountDeletionEffects({ institutionId, disputes: stores.disputes, audit: auditTrail, clock });
  const ingest = new IngestService({ accountRefKey }, { store: stores.records, deletions, tokenizer, sealer: stores.cipher, clock, logger });
  const holder = new HolderService(
    { institutionId },
    {
      subjects: stores.subjects,
      records: stores.records,
      consents: stores.consents,
      inquiries: stores.inquiries,
      disputes: stores.disputes,
      sign: (d) => key.sign(d),
      verifyGranteeSignature: (id: string, data: Uint8Array, sig: Uint8Array) => keyOf(id).verify(data, sig),
      inquirerPseudonym: (_token: string, id: string) => id,
      clock,
      logger,
    } as HolderModules,
  );
  const consents = new ConsentService({ institutionId }, { store: stores.consents, signer: key, clock, logger });
  const service = new DisputeService(
    { institutionId, responseDays: opts.responseDays ?? 30 },
    {
      store: stores.disputes,
      records: stores.records,
      ingest,
      consents: {
        usableFor: (subjectToken) => consents.usableFor(subjectToken),
        getRevocation: (grantee, consentId) => stores.consents.getRevocation(grantee, consentId),
        verifyGranteeSignature: (id, data, sig) => keyOf(id).verify(data, sig),
      },
      accountRefOf: (id) => accountRefFor(accountRefKey, id),
      router: opts.router,
      audit: auditTrail,
      clock,
      logger,
    },
  );
  const token = (idNumber: string) => tokenizer.token(normalizeSubject({ idType: IdType.CN_RESIDENT_ID, idNumber, name: "张伟", phone: "" }));
  return {
    institutionId,
    clock,
    stores,
    ingest,
    service,
    consents,
    audit,
    token,
    refOf: (id) => accountRefFor(accountRefKey, id),
    grant(idNumber, over = {}) {
      return consents.grant({
        subjectToken: token(idNumber),
        purpose: over.purpose ?? Purpose.LOAN_ORIGINATION,
        validUntil: over.validUntil ?? new Date(clock.now().getTime() + 365 * DAY_MS),
        evidenceRef: "sha256:0123456789abcdef",
      });
    },
    consentOf(granteeInstitutionId, idNumber, over = {}) {
      const now = clock.now();
      return signConsent(
        Consent.fromPartial({
          consentId: randomUUID(),
          subjectToken: token(idNumber),
          granteeInstitutionId,
          purpose: Purpose.LOAN_ORIGINATION,
          validFrom: new Date(now.getTime() - DAY_MS),
          validUntil: new Date(now.getTime() + 365 * DAY_MS),
          evidenceRef: "sha256:0123456789abcdef",
          status: ConsentStatus.ACTIVE,
          issuedAt: now,
          ...over,
        }),
        keyOf(granteeInstitutionId),
      );
    },
    keyOf,
    async furnish(...records) {
      const result = await ingest.submitBatch(records);
      expect(result.rejected).toEqual([]);
    },
    async tradelines(idNumber) {
      const now = clock.now();
      const consent = activeConsent({ subjectToken: token(idNumber), grantee: institutionId, signer: key, now });
      const signed = await holder.answer({
        requestId: randomUUID(),
        requesterInstitutionId: institutionId,
        subjectToken: token(idNumber),
        purpose: Purpose.LOAN_ORIGINATION,
        consent,
        issuedAt: now,
        nonce: randomBytes(16),
        asOf: isoDate(now),
        inquiryProof: 0,
      });
      return signed.answer.tradelines;
    },
    async close() {
      await stores.close();
      tmp.remove();
    },
  };
}

export const X = residentId("19900307", 123);
export const Y = residentId("19851120", 456);

/** An installment loan of subject X (no repayments: the balance is the principal). */
export function loan(accountId: string, over: Parameters<typeof account>[0] = {}): WireRecord {
  return account({ accountId, idNumber: X, openedOn: "2026-01-05", creditLimit: "300000", ...over });
}

/** Awaits `p`, asserts it rejected with a CreditMeshError of `code` (and `field`, when given). */
export async function expectCode(p: Promise<unknown>, code: CreditMeshError["code"], field?: string): Promise<CreditMeshError> {
  let thrown: unknown;
  try {
    await p;
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected ${code}`).toBeInstanceOf(CreditMeshError);
  const err = thrown as CreditMeshError;
  expect(err.code, err.message).toBe(code);
  if (field !== undefined) expect(err.field).toBe(field);
  return err;
}
