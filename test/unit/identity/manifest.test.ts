import { afterEach, describe, expect, test } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Role } from "../../../src/gen/creditmesh/v1/common.js";
import { generateNodeKey, type NodeKey } from "../../../src/identity/node-key.js";
import {
  Manifest,
  Membership,
  operatorPublicKeyToBase64,
  operatorPublicKeyToHex,
  parseOperatorPublicKey,
  readManifestFile,
  signManifest,
  verifyManifest,
  writeManifestFile,
  type MembershipChange,
  type SignedManifest,
} from "../../../src/identity/manifest.js";
import { encodeElement, mulBase } from "../../../src/subject/oprf/group.js";
import { splitSecret } from "../../../src/subject/oprf/shamir.js";
import { randomScalar } from "../../../src/subject/oprf/suite.js";
import { ShareEvaluator } from "../../../src/subject/oprf/threshold.js";
import { isCreditMeshError, type CreditMeshError } from "../../../src/errors.js";

const operator = generateNodeKey();
const [a, b, c] = [generateNodeKey(), generateNodeKey(), generateNodeKey()];

function manifest(version: number, keys: NodeKey[], networkId = "net-1"): Manifest {
  return {
    networkId,
    version: String(version),
    issuedAt: new Date("2026-02-01T00:00:00Z"),
    members: keys.map((k, i) => ({
      institutionId: `bank-${k.peerId.slice(-8)}`,
      name: `Bank ${i}`,
      peerId: k.peerId,
      roles: [Role.LENDER],
      addrs: [`/ip4/10.0.0.${i + 1}/tcp/4001`],
    })),
  };
}

function thrown(fn: () => unknown): CreditMeshError {
  try {
    fn();
  } catch (err) {
    if (isCreditMeshError(err)) return err;
    throw err;
  }
  throw new Error("expected a throw");
}

describe("signManifest / verifyManifest", () => {
  test("round trip", () => {
    const m = manifest(1, [a, b]);
    const signed = signManifest(m, operator);
    expect(Buffer.from(signed.body)).toEqual(Buffer.from(Manifest.encode(m).finish()));
    const verified = verifyManifest(signed, operator.publicKey);
    expect(verified).toEqual(m);
  });

  test("a tampered body or signature is MANIFEST_INVALID", () => {
    const signed = signManifest(manifest(1, [a, b]), operator);
    const body = Buffer.from(signed.body);
    body[body.length - 1] ^= 1;
    expect(thrown(() => verifyManifest({ body, signature: signed.signature }, operator.publicKey)).code).toBe("MANIFEST_INVALID");
    const signature = Buffer.from(signed.signature);
    signature[0] ^= 1;
    expect(thrown(() => verifyManifest({ body: signed.body, signature }, operator.publicKey)).field).toBe("signature");
  });

  test("a manifest signed by another key is MANIFEST_INVALID", () => {
    const signed = signManifest(manifest(1, [a]), generateNodeKey());
    expect(thrown(() => verifyManifest(signed, operator.publicKey)).code).toBe("MANIFEST_INVALID");
  });

  test("a validly signed body that is not a Manifest is MANIFEST_INVALID", () => {
    const body = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const err = thrown(() => verifyManifest({ body, signature: Buffer.from(operator.sign(body)) }, operator.publicKey));
    expect(err.code).toBe("MANIFEST_INVALID");
  });

  test.each([
    ["empty network id", (m: Manifest) => void (m.networkId = ""), "network_id"],
    ["version 0", (m: Manifest) => void (m.version = "0"), "version"],
    ["empty institution id", (m: Manifest) => void (m.members[1].institutionId = ""), "members[1].institution_id"],
    ["duplicate institution id", (m: Manifest) => void (m.members[1].institutionId = m.members[0].institutionId), "members[1].institution_id"],
    ["empty peer id", (m: Manifest) => void (m.members[0].peerId = ""), "members[0].peer_id"],
    ["duplicate peer id", (m: Manifest) => void (m.members[1].peerId = m.members[0].peerId), "members[1].peer_id"],
    ["bad peer id", (m: Manifest) => void (m.members[1].peerId = "12D3KooWnotreally"), "members[1].peer_id"],
    ["unknown role", (m: Manifest) => void (m.members[0].roles = [Role.LENDER, 42 as Role]), "members[0].roles[1]"],
    ["unspecified role", (m: Manifest) => void (m.members[0].roles = [Role.ROLE_UNSPECIFIED]), "members[0].roles[0]"],
    ["bad address", (m: Manifest) => void (m.members[0].addrs = ["not an address"]), "members[0].addrs[0]"],
    ["address of another peer", (m: Manifest) => void (m.members[0].addrs = [`/ip4/1.2.3.4/tcp/1/p2p/${c.peerId}`]), "members[0].addrs[0]"],
  ])("refuses a manifest with %s, naming the field", (_name, mutate, field) => {
    const m = manifest(1, [a, b]);
    mutate(m);
    const signOnly = { body: Buffer.from(Manifest.encode(m).finish()), signature: Buffer.alloc(0) };
    signOnly.signature = Buffer.from(operator.sign(signOnly.body));
    const err = thrown(() => verifyManifest(signOnly, operator.publicKey));
    expect(err.code).toBe("MANIFEST_INVALID");
    expect(err.field).toBe(field);
    // and the operator cannot sign such a manifest in the first place
    expect(thrown(() => signManifest(m, operator)).code).toBe("MANIFEST_INVALID");
  });

  test("an address naming the member's own peer id is fine", () => {
    const m = manifest(1, [a]);
    m.members[0].addrs = [`/ip4/127.0.0.1/tcp/4001/p2p/${a.peerId}`];
    expect(verifyManifest(signManifest(m, operator), operator.publicKey).members[0].addrs).toHaveLength(1);
  });
});

describe("manifest file", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  test("writes a readable copy and reads back the exact signed bytes", async () => {
    dir = await mkdtemp(join(tmpdir(), "cm-manifest-"));
    const path = join(dir, "manifest.json");
    const signed = signManifest(manifest(3, [a, b]), operator);
    await writeManifestFile(path, signed);
    const json = JSON.parse(await readFile(path, "utf8"));
    expect(json.manifest.networkId).toBe("net-1");
    expect(json.manifest.members[0].roles).toEqual(["LENDER"]);
    const back = await readManifestFile(path);
    expect(Buffer.from(back.body)).toEqual(Buffer.from(signed.body));
    expect(Buffer.from(back.signature)).toEqual(Buffer.from(signed.signature));
    expect(verifyManifest(back, operator.publicKey).version).toBe("3");
  });

  test("editing the readable part changes nothing; editing the body breaks verification", async () => {
    dir = await mkdtemp(join(tmpdir(), "cm-manifest-"));
    const path = join(dir, "manifest.json");
    await writeManifestFile(path, signManifest(manifest(3, [a]), operator));
    const json = JSON.parse(await readFile(path, "utf8"));
    json.manifest.members.push({ institutionId: "intruder", peerId: c.peerId });
    await writeFile(path, JSON.stringify(json));
    expect(verifyManifest(await readManifestFile(path), operator.publicKey).members).toHaveLength(1);

    const evil = signManifest(manifest(3, [a, c]), generateNodeKey());
    json.body = Buffer.from(evil.body).toString("base64");
    await writeFile(path, JSON.stringify(json));
    const read = await readManifestFile(path);
    expect(thrown(() => verifyManifest(read, operator.publicKey)).code).toBe("MANIFEST_INVALID");
  });

  test("a file that is not a manifest file is MANIFEST_INVALID", async () => {
    dir = await mkdtemp(join(tmpdir(), "cm-manifest-"));
    const path = join(dir, "m.json");
    for (const content of ["{", "{}", '{"body": 1, "signature": "AA=="}', '{"body": "***", "signature": "AA=="}']) {
      await writeFile(path, content);
      await expect(readManifestFile(path)).rejects.toMatchObject({ code: "MANIFEST_INVALID" });
    }
  });
});

describe("operator public key text", () => {
  test("hex and base64 round trip", () => {
    expect(Buffer.from(parseOperatorPublicKey(operatorPublicKeyToHex(operator.publicKey)))).toEqual(Buffer.from(operator.publicKey));
    expect(Buffer.from(parseOperatorPublicKey(operatorPublicKeyToBase64(operator.publicKey)))).toEqual(Buffer.from(operator.publicKey));
    expect(Buffer.from(parseOperatorPublicKey(` ${operatorPublicKeyToHex(operator.publicKey).toUpperCase()}\n`))).toEqual(
      Buffer.from(operator.publicKey),
    );
  });

  test("anything else is refused", () => {
    for (const bad of ["", "abcd", "zz".repeat(32), Buffer.alloc(31).toString("base64"), Buffer.alloc(33).toString("hex")]) {
      expect(thrown(() => parseOperatorPublicKey(bad)).field).toBe("operator_public_key");
    }
  });
});

describe("Membership", () => {
  const v1 = signManifest(manifest(1, [a, b]), operator);

  test("indexes members by peer id and institution", () => {
    const ms = new Membership(operator.publicKey, v1);
    expect(ms.networkId).toBe("net-1");
    expect(ms.version).toBe(1n);
    expect(ms.has(a.peerId)).toBe(true);
    expect(ms.has(c.peerId)).toBe(false);
    const member = ms.byPeerId(b.peerId)!;
    expect(ms.byInstitution(member.institutionId)?.peerId).toBe(b.peerId);
    expect(ms.byInstitution("nobody")).toBeUndefined();
    expect(ms.members().map((m) => m.peerId)).toEqual([a.peerId, b.peerId]);
  });

  test("refuses an initial manifest that does not verify", () => {
    expect(() => new Membership(generateNodeKey().publicKey, v1)).toThrow(expect.objectContaining({ code: "MANIFEST_INVALID" }));
  });

  test("replace applies a newer manifest and reports who came and went", () => {
    const ms = new Membership(operator.publicKey, v1);
    const changes: MembershipChange[] = [];
    ms.on("change", (ch) => changes.push(ch));
    const v2 = signManifest(manifest(2, [a, c]), operator);
    expect(ms.replace(v2)).toBe(true);
    expect(ms.version).toBe(2n);
    expect(ms.has(b.peerId)).toBe(false);
    expect(ms.has(c.peerId)).toBe(true);
    expect(changes).toHaveLength(1);
    expect(changes[0].added.map((m) => m.peerId)).toEqual([c.peerId]);
    expect(changes[0].removed.map((m) => m.peerId)).toEqual([b.peerId]);
    expect(changes[0].previous.version).toBe("1");
    expect(Buffer.from(ms.signed.body)).toEqual(Buffer.from(v2.body));
  });

  test("replace refuses older, equal, other-network and badly signed manifests", () => {
    const ms = new Membership(operator.publicKey, signManifest(manifest(5, [a, b]), operator));
    let changes = 0;
    ms.on("change", () => changes++);
    const candidates: Array<[SignedManifest, string]> = [
      [signManifest(manifest(4, [a, b, c]), operator), "older"],
      [signManifest(manifest(5, [a, b, c]), operator), "same"],
      [signManifest(manifest(6, [a, b, c], "net-2"), operator), "other_network"],
      [signManifest(manifest(6, [a, b, c]), generateNodeKey()), "invalid"],
    ];
    for (const [signed, kind] of candidates) {
      expect(ms.evaluate(signed).kind).toBe(kind);
      expect(ms.replace(signed)).toBe(false);
    }
    const tampered = signManifest(manifest(7, [a, b, c]), operator);
    tampered.signature[5] ^= 1;
    expect(ms.replace(tampered)).toBe(false);
    expect(ms.version).toBe(5n);
    expect(ms.has(c.peerId)).toBe(false);
    expect(changes).toBe(0);
  });

  test("a copy of the manifest in force is the same one; a copy with its signature altered is still refused", () => {
    const v5 = signManifest(manifest(5, [a, b]), operator);
    const ms = new Membership(operator.publicKey, v5);
    // As gossip delivers it: decoded from the wire, other buffers.
    const copy: SignedManifest = { body: Buffer.from(v5.body), signature: Buffer.from(v5.signature) };
    const verdict = ms.evaluate(copy);
    expect(verdict.kind).toBe("same");
    expect(verdict.kind !== "invalid" && verdict.manifest.version).toBe("5");
    const altered: SignedManifest = { body: Buffer.from(v5.body), signature: Buffer.from(v5.signature) };
    altered.signature[7] ^= 1;
    expect(ms.evaluate(altered).kind).toBe("invalid");
    const sameBodyOtherLength: SignedManifest = { body: Buffer.from(v5.body), signature: v5.signature.subarray(0, 63) };
    expect(ms.evaluate(sameBodyOtherLength).kind).toBe("invalid");
  });

  test("versions compare as integers, not strings", () => {
    const ms = new Membership(operator.publicKey, signManifest(manifest(9, [a]), operator));
    expect(ms.replace(signManifest(manifest(10, [a, b]), operator))).toBe(true);
    expect(ms.replace(signManifest(manifest(9, [a]), operator))).toBe(false);
    expect(ms.version).toBe(10n);
  });

  test("fromFile verifies against the pinned key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cm-manifest-"));
    try {
      const path = join(dir, "m.json");
      await writeManifestFile(path, v1);
      expect((await Membership.fromFile(path, operator.publicKey)).has(a.peerId)).toBe(true);
      await expect(Membership.fromFile(path, c.publicKey)).rejects.toMatchObject({ code: "MANIFEST_INVALID" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("manifest token committee", () => {
  const operator = generateNodeKey();
  const keys = [generateNodeKey(), generateNodeKey(), generateNodeKey()];
  const key = randomScalar();
  const shares = splitSecret(key, 2, 3).map((s) => new ShareEvaluator({ index: s.index, secret: s.value }));
  function withCommittee(ids: string[]): Manifest {
    const m = manifest(1, keys);
    m.tokenCommittee = {
      suite: "ristretto255-SHA512", epoch: "1", threshold: 2, publicKey: Buffer.from(encodeElement(mulBase(key))),
      evaluators: shares.map((e, k) => ({ institutionId: ids[k], index: e.public.index, publicShare: Buffer.from(e.public.bytes) })),
    };
    return m;
  }

  test("a manifest naming members as evaluators carries the committee to Membership", () => {
    const m = withCommittee(manifest(1, keys).members.map((x) => x.institutionId));
    const ms = new Membership(operator.publicKey, signManifest(m, operator));
    const committee = ms.tokenCommittee();
    expect(committee?.threshold).toBe(2);
    expect(committee?.members.map((x) => x.institutionId)).toEqual(m.members.map((x) => x.institutionId));
  });

  test("no committee: none is reported", () => {
    expect(new Membership(operator.publicKey, signManifest(manifest(1, keys), operator)).tokenCommittee()).toBeUndefined();
  });

  test("an evaluator that is not a member, or a bad committee, is refused naming the field", () => {
    const ids = manifest(1, keys).members.map((x) => x.institutionId);
    const outsider = thrown(() => signManifest(withCommittee([ids[0], ids[1], "bank-elsewhere"]), operator));
    expect(outsider.code).toBe("MANIFEST_INVALID");
    expect(outsider.field).toBe("token_committee.evaluators[2].institution_id");
    const m = withCommittee(ids);
    m.tokenCommittee!.threshold = 4;
    const tooFew = thrown(() => signManifest(m, operator));
    expect(tooFew.code).toBe("MANIFEST_INVALID");
    expect(tooFew.field).toBe("token_committee.members");
  });
});
