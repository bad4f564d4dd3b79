import { describe, expect, it } from "vitest";
import { QUERY_QUOTA_WINDOW_MS, QueryQuota } from "../../../src/report/query-quota.js";

const T0 = Date.parse("2026-03-01T00:00:00Z");

describe("QueryQuota", () => {
  it("allows `limit` queries per member and subject in a window, then refuses", () => {
    const quota = new QueryQuota(3);
    expect([1, 2, 3, 4].map((i) => quota.take("bank-a", "tok-1", T0 + i))).toEqual([true, true, true, false]);
    // Another subject, another member: their own quotas.
    expect(quota.take("bank-a", "tok-2", T0 + 5)).toBe(true);
    expect(quota.take("ecom-c", "tok-1", T0 + 5)).toBe(true);
  });

  it("starts a new window once the last one has passed", () => {
    const quota = new QueryQuota(1);
    expect(quota.take("bank-a", "tok-1", T0)).toBe(true);
    expect(quota.take("bank-a", "tok-1", T0 + QUERY_QUOTA_WINDOW_MS - 1)).toBe(false);
    expect(quota.take("bank-a", "tok-1", T0 + QUERY_QUOTA_WINDOW_MS)).toBe(true);
  });

  it("0 disables it", () => {
    const quota = new QueryQuota(0);
    for (let i = 0; i < 1000; i++) expect(quota.take("bank-a", "tok-1", T0)).toBe(true);
  });
});
