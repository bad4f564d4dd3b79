import { IdType, ProductType } from "../../src/gen/creditmesh/v1/common.js";
import { DeletionReason, type AccountRecord, type Record, type RepaymentRecord } from "../../src/gen/creditmesh/v1/records.js";
import { residentIdCheckChar } from "../../src/subject/resident-id.js";

/** A valid PRC resident ID built from a birth date and a sequence. */
export function residentId(birth = "19900307", seq = 123, region = "110105"): string {
  const first17 = `${region}${birth}${String(seq).padStart(3, "0")}`;
  return first17 + residentIdCheckChar(first17);
}

export function account(over: Partial<AccountRecord> & { idNumber?: string; name?: string } = {}): Record {
  const { idNumber, name, ...rest } = over;
  return {
    kind: {
      $case: "account",
      value: {
        accountId: "ACC-1",
        subject: { idType: IdType.CN_RESIDENT_ID, idNumber: idNumber ?? residentId(), name: name ?? "张伟", phone: "13800138000" },
        productType: ProductType.INSTALLMENT_LOAN,
        openedOn: "2026-01-05",
        creditLimit: "300000",
        termMonths: 3,
        currency: "CNY",
        closedOn: "",
        furnishingConsentRef: "auth-2026-0001",
        chargedOff: false,
        ...rest,
      },
    },
  };
}

export function repayment(over: Partial<RepaymentRecord> = {}): Record {
  return {
    kind: {
      $case: "repayment",
      value: {
        accountId: "ACC-1",
        installment: 1,
        dueOn: "2026-02-05",
        amountDue: "100000",
        paidOn: "2026-02-04",
        amountPaid: "100000",
        balanceAfter: "200000",
        ...over,
      },
    },
  };
}

export function deletion(accountId = "ACC-1", reason: DeletionReason = DeletionReason.FURNISHED_IN_ERROR): Record {
  return { kind: { $case: "deletion", value: { accountId, reason } } };
}
