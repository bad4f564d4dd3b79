import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditAction, AuditTrail } from "../../../src/audit/trail.js";
import { ConsentStatus, DisputeOutcome, DisputeStatus, ProductType, Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import type { Consent } from "../../../src/gen/creditmesh/v1/consent.js";
import type { Dispute } from "../../../src/gen/creditmesh/v1/dispute.js";
import type { DataKey } from "../../../src/store/cipher.js";
import { openStores, type Stores } from "../../../src/store/index.js";
import type { AccountPii, StoredAccount, StoredRepayment } from "../../../src/store/types.js";

/** Stores over a fresh temp database with a real data cipher. */
export interface StoreFixture {
  dir: string;
  stores: Stores;
  keys: DataKey[];
  reopen(keys?: DataKey[]): Promise<void>;
  close(): Promise<void>;
}

export function dataKey(id: string): DataKey {
  return { id, key: randomBytes(32) };
}

export async function openFixture(keys: DataKey[] = [dataKey("k1")]): Promise<StoreFixture> {
  const dir = await mkdtemp(join(tmpdir(), "cm-protect-"));
  const f: StoreFixture = {
    dir,
    keys,
    stores: await openStores(join(dir, "db"), { dataKeys: keys }),
    async reopen(next = f.keys) {
      await f.stores.close();
      f.keys = next;
      f.stores = await openStores(join(dir, "db"), { dataKeys: next });
    },
    async close() {
      await f.stores.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return f;
}

export function pii(n: number): AccountPii {
  return { accountId: `ACC-${n}`, idType: "CN_RESIDENT_ID", idNumber: `11010519900307${String(1000 + n).slice(-4)}`, name: `Name${n}`, phone: "" };
}

/** An account sealed with the fixture's cipher, as ingest would write it. */
export function sealedAccount(f: StoreFixture, ref: string, subjectToken: string, over: Partial<StoredAccount> = {}, n = 1): StoredAccount {
  return {
    accountRef: ref,
    subjectToken,
    pii: f.stores.cipher.sealPii(pii(n), Buffer.from(ref)),
    productType: ProductType.CASH_LOAN,
    openedOn: "2025-03-01",
    closedOn: "",
    creditLimit: 50_000,
    termMonths: 1,
    currency: "CNY",
    chargedOff: false,
    furnishingConsentRef: "furnish-1",
    updatedAt: "2026-01-01T00:00:00.000Z",
    ...over,
  };
}

export function repayment(ref: string, installment: number, over: Partial<StoredRepayment> = {}): StoredRepayment {
  return { accountRef: ref, installment, dueOn: "2025-04-01", amountDue: 50_000, paidOn: "2025-04-01", amountPaid: 50_000, balanceAfter: 0, ...over };
}

export function dispute(id: string, accountRef: string, subjectToken: string, over: Partial<Dispute> = {}): Dispute {
  return {
    disputeId: id,
    subjectToken,
    institutionId: "bank-a",
    accountRef,
    reason: "never late",
    status: DisputeStatus.OPEN,
    outcome: DisputeOutcome.DISPUTE_OUTCOME_UNSPECIFIED,
    note: "",
    filedAt: new Date("2026-01-10T09:00:00.000Z"),
    respondBy: new Date("2026-02-09T09:00:00.000Z"),
    resolvedAt: undefined,
    filedViaInstitutionId: "bank-a",
    ...over,
  };
}

export function consent(id: string, subjectToken: string): Consent {
  return {
    consentId: id,
    subjectToken,
    granteeInstitutionId: "bank-a",
    purpose: Purpose.LOAN_ORIGINATION,
    validFrom: new Date("2026-01-01T00:00:00.000Z"),
    validUntil: new Date("2026-12-31T00:00:00.000Z"),
    evidenceRef: "sha256:abc",
    status: ConsentStatus.ACTIVE,
    issuedAt: new Date("2026-01-01T00:00:00.000Z"),
    signature: Buffer.from([1, 2, 3]),
  };
}

/** An audit trail that remembers what was appended. */
export class RecordingAudit implements AuditTrail {
  readonly entries: { action: AuditAction; actor: string; details: Record<string, string> }[] = [];
  async append(action: AuditAction, actor: string, details: Record<string, string>): Promise<void> {
    this.entries.push({ action, actor, details });
  }
}
