import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE, loadConfig, secretsPath } from "../../config/load.js";
import { readSecrets } from "../../config/secrets.js";
import { invalid } from "../../errors.js";
import { parseOperatorPublicKey, readManifestFile, verifyManifest } from "../../identity/manifest.js";
import { NodeKey, publicKeyFromPeerId } from "../../identity/node-key.js";
import { logVerifierKey, witnessVerifierKey } from "../../tlog/vkey.js";
import { openCheckpoint, parseVerifierKey, verifyConsistency, verifyInclusion } from "../../tlog/index.js";
import { addWitnessedCommand } from "./log-witnessed.js";
import { call, connect, type NodeConnection } from "../client.js";
import { addClientOptions, type ClientFlags } from "../options.js";

function count(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(raw)) throw invalid(flag, "must be a non-negative integer");
  return raw;
}

async function checkpointOf(conn: NodeConnection, institutionId: string): Promise<string> {
  const { checkpoint } = await call(conn, conn.client.getLogCheckpoint, { institutionId }, 10_000);
  if (!checkpoint) throw invalid("institution", "the node has published no checkpoint yet");
  return checkpoint;
}

const fromHex = (hashes: string[]): Uint8Array[] => hashes.map((h) => Buffer.from(h, "hex"));

export function registerLog(program: Command): void {
  const log = program.command("log").description("the node's transparency log");
  log
    .command("vkey")
    .description("print the log's signed-note verifier key (name+keyhash+base64(0x01‖pubkey)), alone on one line")
    .option("--institution <id>", "another member's key, from the verified manifest the config names")
    .option("--witness", "the key it cosigns other members' checkpoints with (cosignature/v1, type 4) instead")
    .option("-c, --config <file>", "node config (JSON)", DEFAULT_CONFIG_FILE)
    .action(async (opts: { institution?: string; witness?: boolean; config: string }) => {
      const config = loadConfig(opts.config);
      const self = config.institution.id;
      const vkeyOf = opts.witness ? witnessVerifierKey : logVerifierKey;
      if (opts.institution === undefined || opts.institution === self) {
        const key = NodeKey.fromSeed(Buffer.from(readSecrets(secretsPath(config)).nodeKey, "hex"));
        process.stdout.write(vkeyOf(self, key.publicKey) + "\n");
        return;
      }
      const { manifestFile, operatorPublicKey } = config.p2p;
      if (!manifestFile || !operatorPublicKey) {
        throw invalid("institution", "another member's key needs p2p.manifestFile and p2p.operatorPublicKey in the config");
      }
      const manifest = verifyManifest(await readManifestFile(manifestFile), parseOperatorPublicKey(operatorPublicKey));
      const member = manifest.members.find((m) => m.institutionId === opts.institution);
      if (!member) throw invalid("institution", `${opts.institution} is not a member of network ${manifest.networkId}`);
      process.stdout.write(vkeyOf(member.institutionId, publicKeyFromPeerId(member.peerId)) + "\n");
    });

  addClientOptions(log.command("checkpoint").description("print the node's latest signed checkpoint (C2SP signed note)"))
    .option("--institution <id>", "the log's institution (default: the node's own)", "")
    .action(async (opts: ClientFlags & { institution: string }) => {
      const conn = connect(opts);
      try {
        process.stdout.write(await checkpointOf(conn, opts.institution));
      } finally {
        conn.close();
      }
    });

  addClientOptions(log.command("proof").description("print an inclusion (--index) or consistency (--old-size) proof as JSON, hashes in RFC 6962 order"))
    .requiredOption("--tree-size <n>", "the tree the proof is for")
    .option("--index <n>", "leaf index: an inclusion proof")
    .option("--old-size <n>", "earlier tree size: a consistency proof")
    .option("--institution <id>", "the log's institution (default: the node's own)", "")
    .action(async (opts: ClientFlags & { treeSize: string; index?: string; oldSize?: string; institution: string }) => {
      const req = { institutionId: opts.institution, treeSize: count("tree-size", opts.treeSize)!, leafIndex: count("index", opts.index), oldSize: count("old-size", opts.oldSize) };
      const conn = connect(opts);
      try {
        const res = await call(conn, conn.client.getLogProof, req, 10_000);
        process.stdout.write(JSON.stringify({ tree_size: Number(req.treeSize), hashes: res.hashes, ...(res.leafHash ? { leaf_hash: res.leafHash } : {}) }, null, 2) + "\n");
      } finally {
        conn.close();
      }
    });

  addClientOptions(
    log
      .command("verify")
      .description("check the node's checkpoint signature against a verifier key, and optionally a leaf's inclusion or consistency with an earlier checkpoint"),
  )
    .requiredOption("--vkey <vkey>", "the log's verifier key (from `creditmesh log vkey`)")
    .option("--index <n>", "also prove this leaf is in the checkpoint's tree")
    .option("--old-checkpoint <file>", "also prove the checkpoint extends this earlier one (a signed note file)")
    .action(async (opts: ClientFlags & { vkey: string; index?: string; oldCheckpoint?: string }) => {
      const verifier = parseVerifierKey(opts.vkey);
      const conn = connect(opts);
      try {
        const { checkpoint } = openCheckpoint(await checkpointOf(conn, verifier.name), verifier, verifier.name);
        const lines = [`checkpoint ${checkpoint.origin} size ${checkpoint.size}: signature OK`];
        const index = count("index", opts.index);
        if (index !== undefined) {
          const res = await call(conn, conn.client.getLogProof, { institutionId: verifier.name, leafIndex: index, treeSize: String(checkpoint.size) }, 10_000);
          const failure = verifyInclusion(Number(index), checkpoint.size, Buffer.from(res.leafHash, "hex"), fromHex(res.hashes), checkpoint.root);
          if (failure) throw invalid("index", `inclusion proof does not verify: ${failure}`);
          lines.push(`leaf ${index} (hash ${res.leafHash}): included`);
        }
        if (opts.oldCheckpoint !== undefined) {
          const { readFileSync } = await import("node:fs");
          const old = openCheckpoint(readFileSync(opts.oldCheckpoint, "utf8"), verifier, verifier.name).checkpoint;
          if (old.size > checkpoint.size) throw invalid("old-checkpoint", `size ${old.size} is beyond the current ${checkpoint.size}: the log went backwards`);
          const res = old.size === 0 ? { hashes: [] } : await call(conn, conn.client.getLogProof, { institutionId: verifier.name, oldSize: String(old.size), treeSize: String(checkpoint.size) }, 10_000);
          const failure = old.size === 0 ? null : verifyConsistency(old.size, checkpoint.size, fromHex(res.hashes), old.root, checkpoint.root);
          if (failure) throw invalid("old-checkpoint", `not consistent with the current checkpoint: ${failure}`);
          lines.push(`consistent with the checkpoint of size ${old.size}`);
        }
        process.stdout.write(lines.join("\n") + "\n");
      } finally {
        conn.close();
      }
    });

  addWitnessedCommand(log);
}
