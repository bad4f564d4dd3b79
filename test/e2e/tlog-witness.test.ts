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

    // Each witness finds it (or hears it first from the other, which gossips its signed note) and keeps one
    // note against the holder's log: the first proof is enough, later ones are dropped.
    for (const w of witnesses) {
      await eventually(`${w!.institutionId} records evidence against ${holder!.institutionId}`, async () => {
        const s = (await net.client(w!.institutionId).unary("getNodeStatus", {}, 5_000)) as { logEvidence: unknown[] };
        return s.logEvidence.length > 0 ? true : undefined;
      }, 60_000);
    }
    // The holder goes on sending contradicting checkpoints, and both witnesses have gossiped: still one each.
    await new Promise((r) => setTimeout(r, 2_000));
    const signers = witnesses.map((w) => w!.institutionId);
    for (const w of witnesses) {
      const s = (await net.client(w!.institutionId).unary("getNodeStatus", {}, 5_000)) as { logEvidence: { origin: string; kind: string; note: string }[] };
      expect(s.logEvidence).toHaveLength(1);
      expect(s.logEvidence[0]).toMatchObject({ origin: holder!.institutionId, kind: "EQUIVOCATION" });
      const signer = s.logEvidence[0]!.note.slice(s.logEvidence[0]!.note.lastIndexOf("\n\n") + 2).split(" ")[1];
      expect(signers).toContain(signer);
      expect(await net.metric(w!.institutionId, "creditmesh_log_equivocations")).toBe(1);
    }
  });
});
