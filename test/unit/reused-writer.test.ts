import { describe, expect, it } from "vitest";
import { HolderStatus } from "../../src/gen/creditmesh/v1/common.js";
import { HolderAnswer } from "../../src/gen/creditmesh/v1/report.js";
import { ReusedWriter } from "../../src/reused-writer.js";

const answer = (reason: string): HolderAnswer =>
  HolderAnswer.fromPartial({ requestId: "r-1", holderInstitutionId: "cfc-b", subjectToken: "ab".repeat(32), asOf: "2026-03-01", status: HolderStatus.NO_DATA, reason });

describe("ReusedWriter", () => {
  it("encodes each message exactly as a fresh writer does, small after large and large after small, each result its own copy", () => {
    const writer = new ReusedWriter();
    const sizes = [10, 5_000, 3, 100_000, 40, 70_000, 1];
    const results = sizes.map((n) => writer.encode((w) => HolderAnswer.encode(answer("x".repeat(n)), w)));
    results.forEach((bytes, i) => expect(Buffer.from(bytes)).toEqual(Buffer.from(HolderAnswer.encode(answer("x".repeat(sizes[i]!))).finish())));
    expect(HolderAnswer.decode(results[0]!).reason).toBe("x".repeat(10));
  });

  it("leaves nothing of a failed encoding in the next one", () => {
    const writer = new ReusedWriter();
    expect(() =>
      writer.encode((w) => {
        HolderAnswer.encode(answer("half written"), w.fork());
        throw new Error("field refused");
      }),
    ).toThrow("field refused");
    expect(Buffer.from(writer.encode((w) => HolderAnswer.encode(answer("next"), w)))).toEqual(Buffer.from(HolderAnswer.encode(answer("next")).finish()));
  });
});
