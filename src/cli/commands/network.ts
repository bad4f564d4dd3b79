import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { INSTITUTION_ID, INSTITUTION_NAME_MAX } from "../../config/schema.js";
import { invalid } from "../../errors.js";
import { Role, roleFromJSON, roleToJSON } from "../../gen/creditmesh/v1/common.js";
import { Manifest, type Member } from "../../gen/creditmesh/v1/peer.js";
import {
  operatorPublicKeyToHex,
  parseOperatorPublicKey,
  readManifestFile,
  signManifest,
  validateManifest,
  verifyManifest,
  writeManifestFile,
} from "../../identity/manifest.js";
import { NodeKey } from "../../identity/node-key.js";

/**
 * An operator's network directory: operator.key (the signing seed),
 * members.json (the draft member list) and manifest.json (the last signed
 * manifest). There is no network-wide subject-token key: tokens come from the
 * committee the manifest names (`creditmesh tokens keygen`).
 */
interface Draft {
  network_id: string;
  members: { institution_id: string; name: string; peer_id: string; roles: string[]; addrs: string[] }[];
}

const files = (dir: string) => ({
  operatorKey: path.join(dir, "operator.key"),
  draft: path.join(dir, "members.json"),
  manifest: path.join(dir, "manifest.json"),
});

function readDraft(dir: string): Draft {
  const f = files(dir).draft;
  if (!existsSync(f)) throw invalid("dir", `${dir} has no members.json; run \`creditmesh network create --dir ${dir}\` first`);
  return JSON.parse(readFileSync(f, "utf8")) as Draft;
}

function operatorKey(dir: string): NodeKey {
  return NodeKey.fromSeed(Buffer.from(readFileSync(files(dir).operatorKey, "utf8").trim(), "hex"));
}

function parseRoles(text: string): string[] {
  const roles = text.split(",").map((r) => r.trim().toUpperCase()).filter(Boolean);
  for (const r of roles) {
    const role = roleFromJSON(r);
    if (role !== Role.FURNISHER && role !== Role.LENDER) throw invalid("roles", `unknown member role ${r}; FURNISHER and/or LENDER`);
  }
  if (roles.length === 0) throw invalid("roles", "at least one role");
  return roles;
}

export function registerNetwork(program: Command): void {
  const network = program.command("network").description("operator: create a network, admit members, sign the membership manifest");

  network
    .command("create")
    .description("create the operator key and an empty member list")
    .requiredOption("--network-id <id>", "network identifier")
    .option("-d, --dir <dir>", "operator directory", "network")
    .action((opts: { networkId: string; dir: string }) => {
      const f = files(opts.dir);
      if (existsSync(f.operatorKey)) throw invalid("dir", `${opts.dir} already holds an operator key`);
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      const seed = randomBytes(32);
      writeFileSync(f.operatorKey, seed.toString("hex") + "\n", { mode: 0o600 });
      writeFileSync(f.draft, JSON.stringify({ network_id: opts.networkId, members: [] } satisfies Draft, null, 2) + "\n");
      const pub = operatorPublicKeyToHex(NodeKey.fromSeed(seed).publicKey);
      process.stdout.write(
        `network ${opts.networkId} created in ${opts.dir}\n` +
          `operator public key (pin it as p2p.operatorPublicKey in every node config): ${pub}\n` +
          "subject tokens: once members are admitted, make the token committee (creditmesh tokens keygen) and sign the manifest naming it\n",
      );
    });

  network
    .command("add-member")
    .description("add or update a member in the draft member list")
    .requiredOption("--institution-id <id>", "institution id")
    .requiredOption("--name <name>", "display name")
    .requiredOption("--peer-id <peerId>", "the member node's peer id (printed by `creditmesh init`)")
    .option("--roles <roles>", "FURNISHER,LENDER", "FURNISHER,LENDER")
    .option("--addr <multiaddr...>", "the member's libp2p listen address(es)", [])
    .option("-d, --dir <dir>", "operator directory", "network")
    .action((opts: { institutionId: string; name: string; peerId: string; roles: string; addr: string[]; dir: string }) => {
      // The id the member's node must run under: one its config could not take would admit a member that can never start.
      if (!INSTITUTION_ID.pattern.test(opts.institutionId)) throw invalid("institution_id", `must be ${INSTITUTION_ID.rule} (as in the member's institution.id), got ${JSON.stringify(opts.institutionId)}`);
      const name = opts.name.trim();
      if (name === "" || name.length > INSTITUTION_NAME_MAX) throw invalid("name", `must be 1 to ${INSTITUTION_NAME_MAX} characters`);
      const draft = readDraft(opts.dir);
      const member = { institution_id: opts.institutionId, name, peer_id: opts.peerId, roles: parseRoles(opts.roles), addrs: opts.addr };
      draft.members = [...draft.members.filter((m) => m.institution_id !== opts.institutionId), member];
      // Validate the whole manifest now, so a bad peer id or address fails here rather than at signing.
      validateManifest(toManifest(draft, 1n));
      writeFileSync(files(opts.dir).draft, JSON.stringify(draft, null, 2) + "\n");
      process.stdout.write(`${opts.institutionId} in the draft (${draft.members.length} member(s)); run \`creditmesh network sign\` to publish\n`);
    });

  network
    .command("remove-member")
    .description("remove a member from the draft member list")
    .requiredOption("--institution-id <id>", "institution id")
    .option("-d, --dir <dir>", "operator directory", "network")
    .action((opts: { institutionId: string; dir: string }) => {
      const draft = readDraft(opts.dir);
      const before = draft.members.length;
      draft.members = draft.members.filter((m) => m.institution_id !== opts.institutionId);
      if (draft.members.length === before) throw invalid("institution_id", `${opts.institutionId} is not in the draft`);
      writeFileSync(files(opts.dir).draft, JSON.stringify(draft, null, 2) + "\n");
      process.stdout.write(`${opts.institutionId} removed from the draft; sign to publish\n`);
    });

  network
    .command("sign")
    .description("sign the draft as the next manifest version")
    .option("-d, --dir <dir>", "operator directory", "network")
    .option("-o, --out <file>", "where to write the signed manifest (default DIR/manifest.json)")
    .action(async (opts: { dir: string; out?: string }) => {
      const f = files(opts.dir);
      const key = operatorKey(opts.dir);
      const previous = existsSync(f.manifest) ? verifyManifest(await readManifestFile(f.manifest), key.publicKey) : undefined;
      const version = previous ? BigInt(previous.version) + 1n : 1n;
      // The token committee is not in the draft: it carries over until `tokens keygen|reshare` names another.
      const signed = signManifest({ ...toManifest(readDraft(opts.dir), version), tokenCommittee: previous?.tokenCommittee }, key);
      await writeManifestFile(f.manifest, signed);
      if (opts.out && path.resolve(opts.out) !== path.resolve(f.manifest)) await writeManifestFile(opts.out, signed);
      process.stdout.write(
        `signed manifest version ${version} → ${opts.out ?? f.manifest}\n` +
          "copy it over a running member's p2p.manifestFile: the node applies it and gossips it to the others\n",
      );
    });

  network
    .command("show")
    .description("print a signed manifest and check its signature")
    .requiredOption("-m, --manifest <file>", "signed manifest file")
    .option("--operator-key <hex>", "operator public key to verify against")
    .action(async (opts: { manifest: string; operatorKey?: string }) => {
      const signed = await readManifestFile(opts.manifest);
      const manifest = opts.operatorKey ? verifyManifest(signed, parseOperatorPublicKey(opts.operatorKey)) : Manifest.decode(signed.body);
      const readable = {
        network_id: manifest.networkId,
        version: manifest.version,
        issued_at: manifest.issuedAt?.toISOString(),
        signature: opts.operatorKey ? "verified" : "not checked (pass --operator-key)",
        members: manifest.members.map((m) => ({ ...memberJson(m) })),
      };
      process.stdout.write(JSON.stringify(readable, null, 2) + "\n");
    });
}

function memberJson(m: Member) {
  return { institution_id: m.institutionId, name: m.name, peer_id: m.peerId, roles: m.roles.map(roleToJSON), addrs: m.addrs };
}

function toManifest(draft: Draft, version: bigint): Manifest {
  return {
    networkId: draft.network_id,
    version: version.toString(),
    issuedAt: new Date(),
    members: draft.members.map((m) => ({
      institutionId: m.institution_id,
      name: m.name,
      peerId: m.peer_id,
      roles: m.roles.map((r) => roleFromJSON(r)),
      addrs: m.addrs,
    })),
  };
}
