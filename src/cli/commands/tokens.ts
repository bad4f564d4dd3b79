import path from "node:path";
import type { Command } from "commander";
import { invalid } from "../../errors.js";
import { Manifest, type Manifest as ManifestMessage } from "../../gen/creditmesh/v1/peer.js";
import type { MemberStatus } from "../../gen/creditmesh/v1/node.js";
import { parseOperatorPublicKey, readManifestFile, verifyManifest } from "../../identity/manifest.js";
import { createLocalCommittee } from "../../testnet/token-committee.js";
import { call, connect } from "../client.js";
import { addClientOptions, type ClientFlags } from "../options.js";
import { addTokensMigrate } from "./tokens-migrate.js";

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
  const tokens = program.command("tokens").description("subject-token evaluator committee: create one for a local network, check one");

  tokens
    .command("keygen")
    .description(
      "operator, local test network only: run the committee key generation over the members' keys in this process, " +
        "write each member's share into its secrets file and sign the next manifest naming the committee",
    )
    .requiredOption("--dir <dir>", "the local network's directory (operator.key, manifest.json, one directory per institution)")
    .requiredOption("--members <ids>", "comma-separated institution ids of the evaluators")
    .requiredOption("--threshold <t>", "evaluators needed for a token")
    .action(async (opts: { dir: string; members: string; threshold: string }) => {
      const members = opts.members.split(",").map((m) => m.trim()).filter(Boolean);
      const threshold = Number(opts.threshold);
      if (!Number.isInteger(threshold)) throw invalid("threshold", "must be an integer");
      const made = await createLocalCommittee(path.resolve(opts.dir), members, threshold);
      const out = (l: string) => process.stdout.write(l + "\n");
      out(`committee epoch ${made.epoch}: ${made.threshold} of ${made.members.join(", ")}`);
      out(`public key ${made.publicKey}`);
      out(`manifest version ${made.manifestVersion} written; restart the nodes to use it`);
    });

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
        out(`connected: ${r.reachable.join(", ") || "(none)"}`);
        out(`not connected: ${r.unreachable.join(", ") || "(none)"}`);
        out(r.ok ? `OK: ${r.reachable.length} evaluators reachable from ${status.institutionId}` : `NOT ENOUGH: ${r.reachable.length} of the ${r.threshold} needed`);
        process.exitCode = r.ok ? 0 : 1;
      } finally {
        conn.close();
      }
    });
}
