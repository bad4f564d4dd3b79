import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { WitnessAddCheckpoint, WitnessAddCheckpointAnswer } from "../../../src/gen/creditmesh/v1/peer.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { CheckpointWitnessing } from "../../../src/node/checkpoint-witnessing.js";
import {
  cosign,
  countCosignatures,
  keyId,
  parseNote,
  parseVerifierKey,
  sha256,
  SIG_COSIGNATURE_V1,
  signatureLine,
  signCheckpoint,
  type TiledLog,
} from "../../../src/tlog/index.js";
import { witnessVerifierKey } from "../../../src/tlog/vkey.js";

const signerOf = (name: string) => {
  const key = generateNodeKey();
  return { name, publicKey: key.publicKey, sign: (d: Uint8Array) => key.sign(d) };
};
const log = signerOf("bank-y");
const honest = signerOf("bank-w");
const hostile = signerOf("bank-x");
const vkey = (s: typeof honest) => parseVerifierKey(witnessVerifierKey(s.name, s.publicKey));
const checkpoint = (size: number) => signCheckpoint({ origin: log.name, size, root: sha256(Buffer.from(`root ${size}`)) }, log);
const T = 1_900_000_000;

type Answer = (req: WitnessAddCheckpoint) => string;

/** The log side of witnessing with two witnesses, quorum 2, whose answers the test writes. */
function witnessing(answers: Record<string, Answer>) {
  const cosignAs = (s: typeof honest): Answer => (req) => cosign(parseNote(req.checkpoint).text, s, T);
  const current = { "bank-w": cosignAs(honest), "bank-x": cosignAs(hostile), ...answers };
  const w = new CheckpointWitnessing(
    { quorum: 2 },
    {
      log: { consistencyProof: async () => [] } as unknown as TiledLog,
      witnesses: () => ["bank-w", "bank-x"],
      protocol: {
        add: async (id: string, req: WitnessAddCheckpoint): Promise<WitnessAddCheckpointAnswer> => ({ cosignature: current[id as keyof typeof current](req), conflictSize: "0", evidence: "" }),
        witnessKey: (id: string) => ({ "bank-w": vkey(honest), "bank-x": vkey(hostile) })[id],
      },
      logger: silentLogger(),
    },
  );
  return { w, current };
}

describe("CheckpointWitnessing", () => {
  it("keeps a checkpoint cosigned by a quorum of witnesses, each under its own key", async () => {
    const { w } = witnessing({});
    w.published(checkpoint(5));
    await w.flushed();
    expect(countCosignatures(w.cosigned!, [vkey(honest), vkey(hostile)])).toBe(2);
  });

  it("does not count a line a witness returns under another witness's key, and keeps the previous cosigned note", async () => {
    const { w, current } = witnessing({});
    w.published(checkpoint(5));
    await w.flushed();
    const previous = w.cosigned;

    // bank-x answers with a well-formed line naming bank-w's key and a junk signature.
    current["bank-x"] = () => signatureLine(honest.name, keyId(honest.name, SIG_COSIGNATURE_V1, honest.publicKey), randomBytes(72));
    w.published(checkpoint(10));
    await w.flushed();
    expect(w.cosigned).toBe(previous);
    // bank-w's genuine cosignature still verifies on what the node serves.
    expect(countCosignatures(w.cosigned!, [vkey(honest)])).toBe(1);
  });

  it("does not count a witness's own valid cosignature of another checkpoint", async () => {
    const { w, current } = witnessing({});
    w.published(checkpoint(5));
    await w.flushed();
    const previous = w.cosigned;
    current["bank-x"] = () => cosign(parseNote(checkpoint(5)).text, hostile, T);
    w.published(checkpoint(10));
    await w.flushed();
    expect(w.cosigned).toBe(previous);
  });
});
