import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { CreditMeshError, invalid } from "../../errors.js";
import { Manifest, type Manifest as ManifestMessage } from "../../gen/creditmesh/v1/peer.js";
import type { DkgPlan } from "../../gen/creditmesh/v1/dkg.js";
import type { MemberStatus } from "../../gen/creditmesh/v1/node.js";
import type { TokenCommittee } from "../../gen/creditmesh/v1/oprf.js";
import { parseOperatorPublicKey, readManifestFile, signManifest, verifyManifest, writeManifestFile } from "../../identity/manifest.js";
import { NodeKey } from "../../identity/node-key.js";
import { buildPlan, signPlan } from "../../subject/oprf/dkg-plan.js";
import { createLocalCommittee } from "../../testnet/token-committee.js";
import { call, connect } from "../client.js";
import { addClientOptions, type ClientFlags } from "../options.js";
import { addTokensMigrate } from "./tokens-migrate.js";

interface CeremonyFlags extends ClientFlags {
  members: string;
  threshold: string;
  dir: string;
  out?: string;
  timeout: string;
  dealers?: string;
}

function parseMembers(text: string): string[] {
  return text.split(",").map((m) => m.trim()).filter(Boolean);
}

function parseThreshold(text: string): number {
  const t = Number(text);
  if (!Number.isInteger(t)) throw invalid("threshold", "must be an integer");
  return t;
}

/**
 * The next manifest naming `committee`, after checking that it is what the
 * plan asked for: the members at their indices, the epoch, and for a reshare
 * the same group key. signManifest then checks that the shares fit the key.
 */
export function manifestWithCommittee(current: ManifestMessage, committee: TokenCommittee | undefined, asked: { members: readonly string[]; epoch: string; reshare: boolean }): ManifestMessage {
  if (!committee) throw new CreditMeshError("UNAVAILABLE", "the node returned no committee");
  const got = committee.evaluators.map((e) => `${e.institutionId}#${e.index}`).join(",");
  if (got !== asked.members.map((m, k) => `${m}#${k + 1}`).join(",") || committee.epoch !== asked.epoch) {
    throw new CreditMeshError("CONFLICT", `the node returned another committee (${got} at epoch ${committee.epoch}) than the plan named`);
  }
  if (asked.reshare && !Buffer.from(committee.publicKey).equals(Buffer.from(current.tokenCommittee!.publicKey))) {
    throw new CreditMeshError("CONFLICT", "the reshared committee has another group key: every token would change");
  }
  return { ...current, version: String(BigInt(current.version) + 1n), issuedAt: new Date(), tokenCommittee: committee };
}

/** Signs the plan with the operator key, has the node run it, and signs the next manifest with the committee it made. */
async function runOperatorCeremony(opts: CeremonyFlags & { replaceKey?: boolean }, reshare: boolean, print: (l: string) => void): Promise<void> {
  const keyFile = path.join(opts.dir, "operator.key");
  const manifestFile = path.join(opts.dir, "manifest.json");
  if (!existsSync(keyFile) || !existsSync(manifestFile)) throw invalid("dir", `${opts.dir} holds no operator.key and manifest.json`);
  const operator = NodeKey.fromSeed(Buffer.from(readFileSync(keyFile, "utf8").trim(), "hex"));
  const current = verifyManifest(await readManifestFile(manifestFile), operator.publicKey);
  if (!reshare && current.tokenCommittee && !opts.replaceKey) {
    throw invalid("replace_key", `the manifest already names a committee (epoch ${current.tokenCommittee.epoch}): a new key changes every subject token; ` +
      "run `tokens reshare` to keep them, or pass --replace-key");
  }
  const members = parseMembers(opts.members);
  members.forEach((m, i) => {
    if (!current.members.some((x) => x.institutionId === m)) throw invalid(`members[${i}]`, `${m} is not a member of ${current.networkId}`);
  });
  const timeoutS = Number(opts.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw invalid("timeout", "must be a positive number of seconds");
  const threshold = parseThreshold(opts.threshold);
  const dealers = opts.dealers === undefined ? undefined : parseMembers(opts.dealers);
  const conn = connect(opts);
  let committee: TokenCommittee | undefined;
  let plan: DkgPlan;
  try {
    // The plan names the node it is sent to, so that no other member holding it can open the ceremony first.
    const { institutionId: coordinator } = await call(conn, conn.client.getNodeStatus, {}, 10_000);
    plan = buildPlan({ networkId: current.networkId, members, threshold, current: current.tokenCommittee, reshare, now: new Date(), ttlMs: timeoutS * 1000, dealers, coordinator });
    committee = (await call(conn, conn.client.runTokenCeremony, { plan: signPlan(plan, operator) }, timeoutS * 1000 + 5_000)).committee;
  } finally {
    conn.close();
  }
  const next = signManifest(manifestWithCommittee(current, committee, { members, epoch: plan.epoch, reshare }), operator);
  await writeManifestFile(manifestFile, next);
  if (opts.out && path.resolve(opts.out) !== path.resolve(manifestFile)) await writeManifestFile(opts.out, next);
  print(`ceremony ${plan.sessionId}: committee epoch ${plan.epoch}, ${plan.threshold} of ${members.join(", ")}`);
  print(`public key ${Buffer.from(committee!.publicKey).toString("hex")}${reshare ? " (unchanged)" : ""}`);
  print(`manifest version ${Manifest.decode(next.body).version} → ${opts.out ?? manifestFile}`);
  print("members put the committee in force, without a restart, once they read that file (p2p.manifestFile) or hear it gossiped");
  if (!reshare) print("a new key: data the members stored under earlier subject tokens is found again only once re-indexed (`tokens migrate`)");
}

export interface CommitteeReachability {
  threshold: number;
  epoch: string;
  reachable: string[];
  unreachable: string[];
  /** At least `threshold` evaluators are connected to the node: it can obtain tokens. */
  ok: boolean;
}

/** Which evaluators of the manifest's committee the node reports connected (itself counts as connected). */
export function committeeReachability(manifest: ManifestMessage, members: readonly Pick<MemberStatus, "institutionId" | "connected">[]): CommitteeReachability | undefined {
  const c = manifest.tokenCommittee;
  if (!c) return undefined;
  const connected = new Set(members.filter((m) => m.connected).map((m) => m.institutionId));
  const ids = c.evaluators.map((e) => e.institutionId);
  const reachable = ids.filter((id) => connected.has(id));
  return { threshold: c.threshold, epoch: c.epoch, reachable, unreachable: ids.filter((id) => !connected.has(id)), ok: reachable.length >= c.threshold };
}

export function registerTokens(program: Command): void {
  const tokens = program.command("tokens").description("subject-token evaluator committee: make one, reshare it, check it");

  const ceremony = (name: "keygen" | "reshare", description: string) =>
    addClientOptions(tokens.command(name).description(description))
      .requiredOption("--members <ids>", "comma-separated institution ids of the evaluators, in Shamir index order")
      .requiredOption("--threshold <t>", "evaluators needed for a token")
      .option("-d, --dir <dir>", "operator directory: operator.key and the current manifest.json", "network")
      .option("-o, --out <file>", "also write the new signed manifest here (e.g. a running member's p2p.manifestFile)")
      .option("--timeout <seconds>", "give up on the ceremony after this", "300");
  const print = (l: string) => process.stdout.write(l + "\n");

  ceremony(
    "keygen",
    "operator: make a new subject-token key among --members, run by the running members themselves (a node coordinates it " +
      "over /creditmesh/dkg/1.0.0; no secrets file is read), and sign the next manifest naming that committee",
  )
    .option("--local", "local test network only: run every participant in this process over the members' secrets files under --dir")
    .option("--replace-key", "the manifest already names a committee: make a new key anyway (every token changes; reshare keeps them)")
    .action(async (opts: CeremonyFlags & { local?: boolean; replaceKey?: boolean }) => {
      if (opts.local) {
        const made = await createLocalCommittee(path.resolve(opts.dir), parseMembers(opts.members), parseThreshold(opts.threshold));
        print(`committee epoch ${made.epoch}: ${made.threshold} of ${made.members.join(", ")}`);
        print(`public key ${made.publicKey}`);
        print(`manifest version ${made.manifestVersion} written; restart the nodes to load the shares written into their secrets files`);
        return;
      }
      await runOperatorCeremony(opts, false, print);
    });

  ceremony(
    "reshare",
    "operator: hand the current committee's key to --members at a new epoch (same key, so every token stays); old shares stop working " +
      "once the new manifest is in force",
  )
    .option("--dealers <ids>", "members of the current committee that hand the key over (default: all of them; at least its threshold)")
    .action(async (opts: CeremonyFlags) => runOperatorCeremony(opts, true, print));
  addTokensMigrate(tokens);

  addClientOptions(
    tokens
      .command("status")
      .description("the manifest's committee, threshold, epoch and which evaluators the node is connected to; exit 0 when at least the threshold are"),
  )
    .requiredOption("-m, --manifest <file>", "the network's signed membership manifest")
    .option("--operator-key <hex>", "operator public key: also verifies the manifest")
    .action(async (opts: ClientFlags & { manifest: string; operatorKey?: string }) => {
      const signed = await readManifestFile(opts.manifest);
      const manifest = opts.operatorKey ? verifyManifest(signed, parseOperatorPublicKey(opts.operatorKey)) : Manifest.decode(signed.body);
      const out = (l: string) => process.stdout.write(l + "\n");
      if (!manifest.tokenCommittee) {
        out(`manifest ${manifest.networkId} v${manifest.version} names no token committee: only members of a legacy network (a shared tokenKey) can tokenize`);
        process.exitCode = 1;
        return;
      }
      const conn = connect(opts);
      try {
        const status = await call(conn, conn.client.getNodeStatus, {}, 10_000);
        const r = committeeReachability(manifest, status.members)!;
        if (String(status.manifestVersion) !== String(manifest.version)) {
          out(`note: the node runs manifest v${status.manifestVersion}, this file is v${manifest.version}`);
        }
        out(`committee epoch ${r.epoch}, threshold ${r.threshold} of ${r.reachable.length + r.unreachable.length}`);
        out(`in force at ${status.institutionId}: ${status.tokenCommitteeEpoch === "0" ? "no committee (HMAC tokens)" : `epoch ${status.tokenCommitteeEpoch}`}${status.tokenEvaluator ? ", evaluating" : ""}`);
        out(`connected: ${r.reachable.join(", ") || "(none)"}`);
        out(`not connected: ${r.unreachable.join(", ") || "(none)"}`);
        out(r.ok ? `OK: ${r.reachable.length} evaluators reachable from ${status.institutionId}` : `NOT ENOUGH: ${r.reachable.length} of the ${r.threshold} needed`);
        process.exitCode = r.ok ? 0 : 1;
      } finally {
        conn.close();
      }
    });
}
