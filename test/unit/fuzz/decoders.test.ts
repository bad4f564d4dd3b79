import { describe, expect, it } from "vitest";
import { runFuzz } from "../../fuzz/run-fuzz.js";

describe("every decoder of outside bytes (a short run of `npm run fuzz`)", () => {
  it("decodes or refuses 10,000 generated inputs with an Error, no unhandled rejection, bounded memory", async () => {
    const result = await runFuzz({ inputs: 10_000, seed: 20261203 });
    expect(result.failures).toEqual([]);
    // Every decoder got inputs (round robin: 10,000 keeps more than 50 each up to 196 decoders): grpc methods, wire messages, frames, consent, revocation, dispute, manifest, backup manifest.
    expect(Object.keys(result.perTarget).length).toBeGreaterThan(60);
    expect(Math.min(...Object.values(result.perTarget))).toBeGreaterThan(50);
    expect(result.peakRssMb).toBeLessThan(512);
  });
});
