import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ScaleNetwork } from "../../../src/testnet/scale-network.js";

describe("ScaleNetwork.preload", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("refuses a network with a token committee before starting anything", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "creditmesh-scale-preload-"));
    dirs.push(dir);
    const net = await ScaleNetwork.create({ dir, members: 2, processes: 1 });
    expect(net.layout.committee.length).toBeGreaterThan(0);
    await expect(net.preload(net.ids[0]!, [[]])).rejects.toThrow(/shared-key tokens/);
    expect(net.hosts).toEqual([]);
  });
});
