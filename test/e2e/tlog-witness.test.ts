import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicKeyFromPeerId } from "../../src/identity/node-key.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { countCosignatures, parseCheckpoint, parseVerifierKey } from "../../src/tlog/index.js";
import { witnessVerifierKey } from "../../src/tlog/vkey.js";
import { eventually } from "../helpers/eventually.js";
import { account, repayment } from "../helpers/records.js";
import { rewriteLastLeaf } from "../helpers/tlog-rewrite.js";

const sizeOf = (note: string): number => parseCheckpoint(note.slice(0, note.indexOf("\n\n") + 1)).size;

describe("members witness each other's transparency logs", () => {
  const net = new TestNetwork({ nodes: 3, metrics: true, configOverrides: { tlog: { checkpointIntervalMs: 200, witnessQuorum: 2, recordVersions: true } } });

  beforeAll(async () => {
    await net.start();
  }, 120_000);
  afterAll(async () => {
    await net.stop();
  });

  it("cosign a holder's checkpoints, and catch the holder when it rewrites a logged leaf", { timeout: 180_000 }, async () => {
    const [holder, ...witnesses] = net.nodes;
    await net.client(holder!.institutionId).submitRecords([account(), repayment()]);
    const witnessKeys = witnesses.map((w) => parseVerifierKey(witnessVerifierKey(w!.institutionId, publicKeyFromPeerId(w!.peerId))));

    const cosigned = await eventually("a checkpoint cosigned by both other members", async () => {
      const res = (await net.client(holder!.institutionId).unary("getLogCheckpoint", { institutionId: "" }, 5_000)) as { cosigned: string };
      return res.cosigned && sizeOf(res.cosigned) >= 2 ? res.cosigned : undefined;
    }, 60_000);
    expect(countCosignatures(cosigned, witnessKeys)).toBe(2);
    for (const w of witnesses) {
      const s = (await net.client(w!.institutionId).unary("getNodeStatus", {}, 5_000)) as { logEvidence: unknown[] };
      expect(s.logEvidence).toEqual([]);
    }

    // The holder edits its stored log while stopped and comes back with the same size and another root.
    await net.stopNode(holder!.institutionId);
    await rewriteLastLeaf(holder!.configFile);
    await net.startNode(holder!.institutionId);

    // Each witness finds it, and gossips its signed evidence: each then holds its own and the other's.
    for (const w of witnesses) {
      const evidence = await eventually(`${w!.institutionId} records evidence against ${holder!.institutionId}, its own and gossiped`, async () => {
        const s = (await net.client(w!.institutionId).unary("getNodeStatus", {}, 5_000)) as { logEvidence: { origin: string; kind: string; note: string }[] };
        return s.logEvidence.length >= 2 ? s.logEvidence : undefined;
      }, 60_000);
      expect(evidence).toHaveLength(2);
      for (const e of evidence) expect(e).toMatchObject({ origin: holder!.institutionId, kind: "EQUIVOCATION" });
      // Signed by the two different witnesses.
      expect(new Set(evidence.map((e) => e.note.slice(e.note.lastIndexOf("\n\n")))).size).toBe(2);
      expect(await net.metric(w!.institutionId, "creditmesh_log_equivocations")).toBe(1);
    }
  });
});
