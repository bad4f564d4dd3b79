import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Role } from "../../src/gen/creditmesh/v1/common.js";
import { parseOperatorPublicKey, readManifestFile, verifyManifest } from "../../src/identity/manifest.js";
import { cli, writeConfig } from "../helpers/node-process.js";
import { tempDir } from "../helpers/temp.js";

/**
 * The operator's side of the README's network walkthrough, by hand: create
 * the network, each institution's `init`, admitting members and signing. A
 * member admitted under an id its own node could not run under, or without a
 * name, is refused at `add-member`, before anything is signed.
 */
describe("creditmesh network: an operator admits members and signs the manifest", () => {
  const tmp = tempDir("cm-operator-cli-");
  afterAll(() => tmp.remove());
  const dir = path.join(tmp.dir, "network");
  const run = (...args: string[]) => cli(args, { cwd: tmp.dir });

  async function init(id: string): Promise<string> {
    const config = writeConfig(path.join(tmp.dir, `${id}.json`), { institution: { id, name: id }, storage: { dataDir: path.join(tmp.dir, id) }, p2p: { enabled: true } });
    const res = await run("init", "--config", config);
    expect(res.code).toBe(0);
    return /peer id\s+(12D3KooW\w+)/.exec(res.stdout)![1];
  }

  it("creates, admits, refuses what no member node could run as, removes and signs version after version", { timeout: 60_000 }, async () => {
    const created = await run("network", "create", "--network-id", "demo", "--dir", dir);
    expect(created.code).toBe(0);
    const operatorKey = parseOperatorPublicKey(/operator public key[^:]*: ([0-9a-f]{64})/.exec(created.stdout)![1]);
    const [a, b] = [await init("bank-a"), await init("cfc-b")];
    const add = (id: string, peerId: string, ...more: string[]) => run("network", "add-member", "--dir", dir, "--institution-id", id, "--name", `${id} name`, "--peer-id", peerId, "--addr", "/ip4/10.0.0.5/tcp/4001", ...more);

    for (const [id, message] of [
      ["Bank A", 'institution_id: must be lowercase letters, digits and dashes, 2-63 characters (as in the member\'s institution.id), got "Bank A"'],
      ["bank_a", "institution_id: must be lowercase letters, digits and dashes"],
    ]) {
      const refused = await add(id, a);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(message);
    }
    const unnamed = await run("network", "add-member", "--dir", dir, "--institution-id", "bank-a", "--name", "  ", "--peer-id", a);
    expect(unnamed.stderr).toContain("name: must be 1 to 128 characters");
    expect((await add("bank-a", "12D3KooWnotapeer")).stderr).toContain("members[0].peer_id: not an Ed25519 libp2p peer id");
    expect(JSON.parse(readFileSync(path.join(dir, "members.json"), "utf8")).members).toEqual([]);

    expect((await add("bank-a", a)).code).toBe(0);
    expect((await add("cfc-b", b, "--roles", "FURNISHER")).code).toBe(0);
    expect((await add("cfc-c", b)).stderr).toContain("peer_id: duplicate");
    expect((await run("network", "sign", "--dir", dir)).code).toBe(0);
    const first = verifyManifest(await readManifestFile(path.join(dir, "manifest.json")), operatorKey);
    expect(first.version).toBe("1");
    expect(first.members.map((m) => [m.institutionId, m.roles])).toEqual([
      ["bank-a", [Role.FURNISHER, Role.LENDER]],
      ["cfc-b", [Role.FURNISHER]],
    ]);

    expect((await run("network", "remove-member", "--dir", dir, "--institution-id", "cfc-b")).code).toBe(0);
    expect((await run("network", "remove-member", "--dir", dir, "--institution-id", "cfc-b")).stderr).toContain("institution_id: cfc-b is not in the draft");
    expect((await run("network", "sign", "--dir", dir)).code).toBe(0);
    const second = verifyManifest(await readManifestFile(path.join(dir, "manifest.json")), operatorKey);
    expect([second.version, second.members.map((m) => m.institutionId)]).toEqual(["2", ["bank-a"]]);
  });
});
