import { describe, expect, it } from "vitest";
import { StageHistograms, stageNow, stageSpan } from "../../src/stage-trace.js";

describe("stage trace", () => {
  it("records each stage since the previous mark, and a branch since its own start", () => {
    const h = new StageHistograms();
    const span = h.span("holder.query", performance.now() - 5);
    span.mark("open");
    span.mark("answer");
    span.at("read", performance.now() - 2);
    span.mark("answer");
    const s = h.summary();
    expect(Object.keys(s)).toEqual(["holder.query.answer", "holder.query.open", "holder.query.read"]);
    expect(s["holder.query.answer"].n).toBe(2);
    expect(s["holder.query.open"].n).toBe(1);
    // The first stage runs from the span's start, 5 ms before it was made: at least 5,000 µs.
    expect(s["holder.query.open"].p50).toBeGreaterThanOrEqual(5_000);
    expect(s["holder.query.read"].p50).toBeGreaterThanOrEqual(2_000);
  });

  it("does nothing and reads no clock when CREDITMESH_STAGE_TRACE is not set", () => {
    expect(process.env.CREDITMESH_STAGE_TRACE ?? "").toBe("");
    expect(stageNow()).toBe(0);
    const span = stageSpan("lender.report");
    span.mark("consent");
    span.at("self", 0);
    expect(stageSpan("other")).toBe(span);
  });
});
