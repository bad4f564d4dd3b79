import { describe, expect, it } from "vitest";
import { isCreditMeshError } from "../../../src/errors.js";
import { installmentKey, KeyPrefix, keyPart, SCHEMA_VERSION, under } from "../../../src/store/keys.js";

describe("key layout", () => {
  it("keeps the on-disk sublevel names (a rename would orphan existing data)", () => {
    expect({ ...KeyPrefix }).toEqual({
      Meta: "meta",
      Account: "acct",
      Repayment: "rep",
      Subject: "subj",
      Consent: "consent",
      Revoked: "revoked",
      Inquiry: "inq",
      Dispute: "dispute",
      Audit: "audit",
      Nonce: "nonce",
      Log: "tlog",
      Witness: "witness",
      TokenQuota: "tquota",
      TokenCache: "tcache",
      TokenShare: "tshare",
      TokenAlias: "talias",
      QueryQuota: "qquota",
      RepaymentLast: "replast",
    });
    // 2 since every writer keeps the inquiry window index and replast (a node of schema 1 must refuse such a database).
    expect(SCHEMA_VERSION).toBe(2);
  });

  it("pads installments so that keys sort numerically", () => {
    const keys = [10, 2, 1, 100, 99999].map(installmentKey);
    expect(keys).toEqual(["00010", "00002", "00001", "00100", "99999"]);
    expect([...keys].sort()).toEqual(["00001", "00002", "00010", "00100", "99999"]);
  });

  it.each([0, -1, 1.5, 100000, Number.NaN])("rejects installment %s", (n) => {
    expect(() => installmentKey(n)).toThrowError(expect.objectContaining({ code: "VALIDATION_FAILED", field: "installment" }));
  });

  it("rejects key parts that are empty or contain the separator", () => {
    expect(keyPart("subject_token", "ab12")).toBe("ab12");
    for (const bad of ["", "a!b", "!"]) {
      try {
        keyPart("subject_token", bad);
        expect.unreachable();
      } catch (err) {
        expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
        expect((err as { field?: string }).field).toBe("subject_token");
      }
    }
  });

  it("selects exactly the keys under a prefix", () => {
    const r = under("abc");
    const inRange = (k: string) => k > r.gt && k < r.lt;
    expect(["abc!1", "abc!zz!9"].every(inRange)).toBe(true);
    expect(["abc", "abcd!1", "ab!1", "abc\"", "abd!1"].some(inRange)).toBe(false);
  });
});
