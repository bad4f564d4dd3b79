import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { readSecrets, writeSecrets } from "../config/secrets.js";
import { invalid } from "../errors.js";
import { Manifest } from "../gen/creditmesh/v1/peer.js";
import { readManifestFile, signManifest, writeManifestFile } from "../identity/manifest.js";
import { NodeKey } from "../identity/node-key.js";
import { runLocalDkg } from "../subject/oprf/local-dkg.js";
import { SUITE_ID } from "../subject/oprf/suite.js";
import { encodeKeyShare } from "../subject/oprf/threshold.js";

export interface LocalCommittee {
  members: string[];
  threshold: number;
  epoch: number;
  publicKey: string;
  manifestVersion: string;
}

/**
 * Makes `members` of a local test network (directory laid out by
 * `creditmesh testnet`: operator.key, manifest.json, <institution>/secrets.json)
 * the subject-token committee: runs the key generation over their node keys,
 * writes each member's share into its secrets file and signs the next
 * manifest version naming the committee. Nodes pick the committee up when
 * they (re)start on the new manifest.
 */
export async function createLocalCommittee(dir: string, members: readonly string[], threshold: number): Promise<LocalCommittee> {
  const operatorKeyFile = path.join(dir, "operator.key");
  const manifestFile = path.join(dir, "manifest.json");
  if (!existsSync(operatorKeyFile) || !existsSync(manifestFile)) throw invalid("dir", `${dir} holds no operator.key and manifest.json of a local network`);
  const operator = NodeKey.fromSeed(Buffer.from(readFileSync(operatorKeyFile, "utf8").trim(), "hex"));
  const current = Manifest.decode((await readManifestFile(manifestFile)).body);
  if (members.length === 0 || new Set(members).size !== members.length) throw invalid("members", "a list of distinct institution ids");
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > members.length) throw invalid("threshold", `must be from 1 to ${members.length}`);
  const secretsFiles = members.map((id, i) => {
    if (!current.members.some((m) => m.institutionId === id)) throw invalid(`members[${i}]`, `${id} is not a member of ${current.networkId}`);
    const file = path.join(dir, id, "secrets.json");
    if (!existsSync(file)) throw invalid(`members[${i}]`, `no secrets file for ${id} under ${dir}`);
    return file;
  });
  const secrets = secretsFiles.map((f) => readSecrets(f));
  const epoch = Number(current.tokenCommittee?.epoch ?? 0) + 1;
  const { shares, key } = runLocalDkg({
    id: `${current.networkId}/tokens/${epoch}`,
    threshold,
    members: secrets.map((s, k) => ({ index: k + 1, key: NodeKey.fromSeed(Buffer.from(s.nodeKey, "hex")) })),
  });
  const version = String(BigInt(current.version) + 1n);
  const next: Manifest = {
    ...current,
    version,
    issuedAt: new Date(),
    tokenCommittee: {
      suite: SUITE_ID,
      epoch: String(epoch),
      threshold,
      publicKey: Buffer.from(key.publicKey, "hex"),
      evaluators: members.map((id, k) => ({ institutionId: id, index: k + 1, publicShare: Buffer.from(key.publicShares[k + 1], "hex") })),
    },
  };
  // Signed (and so checked) before any secrets file changes.
  const signed = signManifest(next, operator);
  secretsFiles.forEach((f, k) => writeSecrets(f, { ...secrets[k], tokenKeyShare: Buffer.from(encodeKeyShare(shares[k])).toString("hex") }));
  await writeManifestFile(manifestFile, signed);
  return { members: [...members], threshold, epoch, publicKey: key.publicKey, manifestVersion: version };
}
