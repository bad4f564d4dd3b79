import { afterAll, describe, expect, it } from "vitest";
import { isCreditMeshError } from "../../../../src/errors.js";
import { randomScalar } from "../../../../src/subject/oprf/suite.js";
import { BlindedBatch, ShareEvaluator } from "../../../../src/subject/oprf/threshold.js";
import { WorkerShareEvaluator } from "../../../../src/subject/oprf/worker-evaluator.js";

describe("WorkerShareEvaluator", () => {
  const share = { index: 2, secret: randomScalar() };
  const worker = new WorkerShareEvaluator(share);
  afterAll(() => worker.close());

  it("answers like the same share on the main thread, with a proof that verifies", async () => {
    const batch = BlindedBatch.create(["cn-resident-id/v1:11010519491231002X", "cn-mobile/v1:13800138000"].map((s) => new TextEncoder().encode(s)));
    const partial = await worker.evaluate(batch.blinded);
    const hex = (xs: Uint8Array[]) => xs.map((x) => Buffer.from(x).toString("hex"));
    expect(hex(partial.evaluated)).toEqual(hex(new ShareEvaluator(share).evaluate(batch.blinded).evaluated));
    expect(typeof batch.verify(partial, worker.public)).toBe("object");
  });

  it("checks a batch without evaluating it: a good one passes, a bad one names its first bad element", async () => {
    const batch = BlindedBatch.create(["cn-mobile/v1:13800138000"].map((s) => new TextEncoder().encode(s)));
    await expect(worker.check(batch.blinded)).resolves.toBeUndefined();
    const err = await worker.check([batch.blinded[0]!, new Uint8Array(32).fill(0xff), new Uint8Array(32).fill(0xff)]).catch((e: unknown) => e);
    expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
    expect((err as { field?: string }).field).toBe("blinded_elements[1]");
    // The worker goes on serving after a refusal.
    expect((await worker.evaluate(batch.blinded)).evaluated).toHaveLength(1);
  });

  it("passes a validation error back with its field", async () => {
    const err = await worker.evaluate([new Uint8Array(32).fill(0xff)]).catch((e: unknown) => e);
    expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
    expect((err as { field?: string }).field).toBe("blinded_elements[0]");
  });
});
