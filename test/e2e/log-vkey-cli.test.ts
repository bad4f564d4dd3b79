import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, secretsPath } from "../../src/config/load.js";
import { readSecrets } from "../../src/config/secrets.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { openCheckpoint, signCheckpoint } from "../../src/tlog/checkpoint.js";
import { EMPTY_ROOT } from "../../src/tlog/merkle.js";
import { addCosignatures, cosign, verifyCosignature } from "../../src/tlog/cosignature.js";
import { parseNote, parseVerifierKey, SIG_COSIGNATURE_V1 } from "../../src/tlog/note.js";
import { cli, writeConfig } from "../helpers/node-process.js";
import { tempDir } from "../helpers/temp.js";

describe("creditmesh log vkey", () => {
  const tmp = tempDir("cm-log-vkey-");
  afterAll(() => tmp.remove());

  it("prints the verifier key of the node key in the secrets file, which opens the node's checkpoints", { timeout: 120_000 }, async () => {
    const configFile = writeConfig(path.join(tmp.dir, "node.json"), {
      institution: { id: "vkey-bank", name: "Vkey Bank" },
      storage: { dataDir: path.join(tmp.dir, "data") },
      metrics: { enabled: false },
    });
    const init = await cli(["init", "--config", configFile]);
    expect(init.code, init.stderr).toBe(0);

    const r = await cli(["log", "vkey", "--config", configFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vkey-bank\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n$/);

    const key = NodeKey.fromSeed(Buffer.from(readSecrets(secretsPath(loadConfig(configFile))).nodeKey, "hex"));
    const note = signCheckpoint({ origin: "vkey-bank", size: 0, root: EMPTY_ROOT }, { name: "vkey-bank", publicKey: key.publicKey, sign: (d) => key.sign(d) });
    expect(openCheckpoint(note, parseVerifierKey(r.stdout.trim())).checkpoint.size).toBe(0);

    // The key it cosigns with: the same node key under the cosignature/v1 type, which verifies its cosignatures.
    const w = await cli(["log", "vkey", "--witness", "--config", configFile]);
    expect(w.code, w.stderr).toBe(0);
    const witness = parseVerifierKey(w.stdout.trim());
    expect(witness).toMatchObject({ name: "vkey-bank", type: SIG_COSIGNATURE_V1 });
    expect(Buffer.from(witness.publicKey).equals(Buffer.from(key.publicKey))).toBe(true);
    const text = parseNote(note).text;
    expect(verifyCosignature(addCosignatures(note, [cosign(text, { name: "vkey-bank", publicKey: key.publicKey, sign: (d) => key.sign(d) }, 1_780_000_000)]), witness)).toBe(1_780_000_000);

    const other = await cli(["log", "vkey", "--institution", "other-bank", "--config", configFile]);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain("institution");
    expect(other.stdout).toBe("");
  });
});
