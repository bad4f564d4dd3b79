import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countRecords } from "../../../src/api/request-limits.js";
import { SubmitRecordsRequest } from "../../../src/gen/creditmesh/v1/node.js";
import { account, repayment } from "../../helpers/records.js";

describe("countRecords", () => {
  it("property: counts exactly what the decoder would find, up to the cap", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(account()), fc.constant(repayment()), fc.constant({ kind: undefined })), { maxLength: 40 }), fc.integer({ min: 0, max: 50 }), (records, max) => {
        const bytes = SubmitRecordsRequest.encode({ records }).finish();
        const n = countRecords(bytes, max);
        expect(n).toBe(Math.min(records.length, max + 1));
      }),
      { numRuns: 300 },
    );
  });

  it("property: malformed bytes give undefined or a count, never an exception", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => void countRecords(bytes, 10)), { numRuns: 2000 });
  });

  it("stops at the cap: 8 million empty records cost one pass over the first cap+1", () => {
    const body = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 2) body[i] = 0x0a;
    expect(countRecords(body, 10_000)).toBe(10_001);
    expect(countRecords(Buffer.from([0x0a, 0x05, 0x00]), 10)).toBeUndefined();
  });
});
