import { EventEmitter } from "node:events";
import { readFile, rename, writeFile, rm } from "node:fs/promises";
import { multiaddr } from "@multiformats/multiaddr";
import { Role } from "../gen/creditmesh/v1/common.js";
import { Manifest, SignedManifest, type Member } from "../gen/creditmesh/v1/peer.js";
import { CreditMeshError } from "../errors.js";
import type { Committee } from "../subject/oprf/committee.js";
import { committeeFromWire } from "../subject/oprf/wire.js";
import {
  ED25519_PUBLIC_KEY_BYTES,
  publicKeyFromPeerId,
  verifySignature,
  type NodeKey,
} from "./node-key.js";

export { Manifest, SignedManifest, type Member };

/** The operator signs manifests with an Ed25519 key of the same kind as a node key. */
export type OperatorKey = Pick<NodeKey, "sign" | "publicKey">;

const KNOWN_ROLES = new Set<number>([Role.FURNISHER, Role.LENDER, Role.OPERATOR]);

function manifestInvalid(field: string, reason: string, cause?: unknown): CreditMeshError {
  return new CreditMeshError("MANIFEST_INVALID", `${field}: ${reason}`, { field, cause });
}

/** Throws MANIFEST_INVALID naming the first bad field; a manifest that passes is safe to gate on. */
export function validateManifest(m: Manifest): void {
  if (m.networkId.trim() === "") throw manifestInvalid("network_id", "must not be empty");
  if (!/^[0-9]+$/.test(m.version) || BigInt(m.version) < 1n) {
    throw manifestInvalid("version", "must be a positive integer");
  }
  const institutions = new Set<string>();
  const peers = new Set<string>();
  m.members.forEach((member, i) => {
    const at = `members[${i}]`;
    if (member.institutionId.trim() === "") throw manifestInvalid(`${at}.institution_id`, "must not be empty");
    if (institutions.has(member.institutionId)) {
      throw manifestInvalid(`${at}.institution_id`, `duplicate ${member.institutionId}`);
    }
    institutions.add(member.institutionId);
    if (member.peerId === "") throw manifestInvalid(`${at}.peer_id`, "must not be empty");
    try {
      publicKeyFromPeerId(member.peerId);
    } catch (cause) {
      throw manifestInvalid(`${at}.peer_id`, "not an Ed25519 libp2p peer id", cause);
    }
    if (peers.has(member.peerId)) throw manifestInvalid(`${at}.peer_id`, `duplicate ${member.peerId}`);
    peers.add(member.peerId);
    member.roles.forEach((role, j) => {
      if (!KNOWN_ROLES.has(role)) throw manifestInvalid(`${at}.roles[${j}]`, `unknown role ${role}`);
    });
    member.addrs.forEach((addr, j) => {
      let components;
      try {
        components = multiaddr(addr).getComponents();
      } catch (cause) {
        throw manifestInvalid(`${at}.addrs[${j}]`, "not a multiaddr", cause);
      }
      const p2p = components.find((c) => c.name === "p2p");
      if (p2p !== undefined && p2p.value !== member.peerId) {
        throw manifestInvalid(`${at}.addrs[${j}]`, "names another peer id");
      }
    });
  });
  if (m.tokenCommittee) manifestCommittee(m, institutions);
}

/** The manifest's subject-token committee (undefined: the network uses the HMAC token key); every evaluator must be a member. */
function manifestCommittee(m: Manifest, institutions: ReadonlySet<string>): Committee | undefined {
  if (!m.tokenCommittee) return undefined;
  let committee: Committee;
  try {
    committee = committeeFromWire(m.tokenCommittee, "token_committee");
  } catch (cause) {
    const field = cause instanceof CreditMeshError && cause.field ? cause.field : "token_committee";
    throw manifestInvalid(field, cause instanceof Error ? cause.message.replace(/^[^:]*: /, "") : "invalid", cause);
  }
  m.tokenCommittee.evaluators.forEach((e, i) => {
    if (!institutions.has(e.institutionId)) {
      throw manifestInvalid(`token_committee.evaluators[${i}].institution_id`, `${e.institutionId} is not a member`);
    }
  });
  return committee;
}

export function signManifest(manifest: Manifest, operatorKey: OperatorKey): SignedManifest {
  validateManifest(manifest);
  const body = Buffer.from(Manifest.encode(manifest).finish());
  return { body, signature: Buffer.from(operatorKey.sign(body)) };
}

/** The manifest inside `signed`, or MANIFEST_INVALID if the signature or the body is bad. */
export function verifyManifest(signed: SignedManifest, operatorPublicKey: Uint8Array): Manifest {
  if (!verifySignature(operatorPublicKey, signed.body, signed.signature)) {
    throw manifestInvalid("signature", "not signed by the network operator");
  }
  let manifest: Manifest;
  try {
    manifest = Manifest.decode(signed.body);
  } catch (cause) {
    throw manifestInvalid("body", "not a Manifest", cause);
  }
  validateManifest(manifest);
  return manifest;
}

// ---------------------------------------------------------------------------
// Manifest file: the signed bytes plus a readable copy for people. Only `body`
// is ever trusted; editing `manifest` by hand changes nothing.

interface ManifestFile {
  manifest: unknown;
  body: string;
  signature: string;
}

export async function writeManifestFile(path: string, signed: SignedManifest, signal?: AbortSignal): Promise<void> {
  let readable: unknown;
  try {
    readable = Manifest.toJSON(Manifest.decode(signed.body));
  } catch (cause) {
    throw manifestInvalid("body", "not a Manifest", cause);
  }
  const file: ManifestFile = {
    manifest: readable,
    body: Buffer.from(signed.body).toString("base64"),
    signature: Buffer.from(signed.signature).toString("base64"),
  };
  // Write-then-rename so a reader never sees half a manifest.
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(file, null, 2) + "\n", { signal });
    signal?.throwIfAborted();
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** Reads a manifest file; the result is not verified yet (see verifyManifest / Membership). */
export async function readManifestFile(path: string, signal?: AbortSignal): Promise<SignedManifest> {
  const text = await readFile(path, { encoding: "utf8", signal });
  let parsed: Partial<ManifestFile>;
  try {
    parsed = JSON.parse(text) as Partial<ManifestFile>;
  } catch (cause) {
    throw manifestInvalid("file", `${path} is not JSON`, cause);
  }
  if (typeof parsed?.body !== "string" || typeof parsed.signature !== "string") {
    throw manifestInvalid("file", `${path} needs "body" and "signature" as base64 strings`);
  }
  return { body: decodeBase64Strict(parsed.body, "body"), signature: decodeBase64Strict(parsed.signature, "signature") };
}

function decodeBase64Strict(text: string, field: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw manifestInvalid(field, "not base64");
  }
  return Buffer.from(text, "base64");
}

// ---------------------------------------------------------------------------
// Operator public key as text (config files, CLI flags).

export function operatorPublicKeyToHex(publicKey: Uint8Array): string {
  return Buffer.from(publicKey).toString("hex");
}

export function operatorPublicKeyToBase64(publicKey: Uint8Array): string {
  return Buffer.from(publicKey).toString("base64");
}

/** Accepts 64 hex characters or standard base64 of 32 bytes. */
export function parseOperatorPublicKey(text: string): Uint8Array {
  const t = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) bytes = Buffer.from(t, "hex");
  else if (/^[A-Za-z0-9+/]{43}=$/.test(t)) bytes = Buffer.from(t, "base64");
  if (bytes === undefined || bytes.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new CreditMeshError(
      "VALIDATION_FAILED",
      "operator_public_key: expected 32 bytes as 64 hex characters or base64",
      { field: "operator_public_key" },
    );
  }
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------------------

export interface MembershipChange {
  previous: Manifest;
  current: Manifest;
  added: Member[];
  removed: Member[];
}

/** How a candidate manifest compares with the current one. */
export type ManifestVerdict =
  | { kind: "newer"; manifest: Manifest }
  | { kind: "same" | "older" | "other_network"; manifest: Manifest }
  | { kind: "invalid"; error: CreditMeshError };

/**
 * The network's current verified manifest. It only moves forward: a
 * replacement must be signed by the pinned operator key, for the same network,
 * with a higher version — so a replayed older manifest cannot re-admit a
 * removed member.
 */
export class Membership extends EventEmitter<{ change: [MembershipChange] }> {
  readonly operatorPublicKey: Uint8Array;
  #signed: SignedManifest;
  #manifest: Manifest;
  #byPeer = new Map<string, Member>();
  #byInstitution = new Map<string, Member>();
  #institutionIds: readonly string[] = [];

  constructor(operatorPublicKey: Uint8Array, signed: SignedManifest) {
    super();
    this.operatorPublicKey = Uint8Array.from(operatorPublicKey);
    this.#manifest = verifyManifest(signed, this.operatorPublicKey);
    this.#signed = copySigned(signed);
    this.#index();
  }

  static async fromFile(path: string, operatorPublicKey: Uint8Array, signal?: AbortSignal): Promise<Membership> {
    return new Membership(operatorPublicKey, await readManifestFile(path, signal));
  }

  get networkId(): string {
    return this.#manifest.networkId;
  }

  get version(): bigint {
    return BigInt(this.#manifest.version);
  }

  get manifest(): Manifest {
    return this.#manifest;
  }

  /** The current manifest as the operator signed it (what a node gossips). */
  get signed(): SignedManifest {
    return this.#signed;
  }

  members(): Member[] {
    return [...this.#manifest.members];
  }

  /** The members' institution ids: the same array until the manifest changes, so callers can key what they derive from it. */
  institutionIds(): readonly string[] {
    return this.#institutionIds;
  }

  /** The subject-token evaluator committee the operator named, if any. */
  tokenCommittee(): Committee | undefined {
    return manifestCommittee(this.#manifest, new Set(this.#manifest.members.map((m) => m.institutionId)));
  }

  has(peerId: string): boolean {
    return this.#byPeer.has(peerId);
  }

  byPeerId(peerId: string): Member | undefined {
    return this.#byPeer.get(peerId);
  }

  byInstitution(institutionId: string): Member | undefined {
    return this.#byInstitution.get(institutionId);
  }

  evaluate(signed: SignedManifest): ManifestVerdict {
    // Every member gossips the manifest in force (periodically and to each new subscriber), so
    // nearly every copy heard is the one held: those exact bytes were verified when they came into
    // force. Verifying again (a signature and the committee's curve arithmetic, ~20 ms) for each
    // copy cost a 100-member network more CPU than it had.
    if (sameBytes(signed.body, this.#signed.body) && sameBytes(signed.signature, this.#signed.signature)) {
      return { kind: "same", manifest: this.#manifest };
    }
    let manifest: Manifest;
    try {
      manifest = verifyManifest(signed, this.operatorPublicKey);
    } catch (err) {
      const error = err instanceof CreditMeshError ? err : manifestInvalid("body", String(err), err);
      return { kind: "invalid", error };
    }
    if (manifest.networkId !== this.#manifest.networkId) return { kind: "other_network", manifest };
    const version = BigInt(manifest.version);
    if (version > this.version) return { kind: "newer", manifest };
    return { kind: version === this.version ? "same" : "older", manifest };
  }

  /** Applies `signed` if it is a valid, newer manifest of this network; true when applied. */
  replace(signed: SignedManifest): boolean {
    const verdict = this.evaluate(signed);
    if (verdict.kind !== "newer") return false;
    const previous = this.#manifest;
    this.#manifest = verdict.manifest;
    this.#signed = copySigned(signed);
    this.#index();
    const nowPeers = new Set(this.#manifest.members.map((m) => m.peerId));
    const before = new Set(previous.members.map((m) => m.peerId));
    this.emit("change", {
      previous,
      current: this.#manifest,
      added: this.#manifest.members.filter((m) => !before.has(m.peerId)),
      removed: previous.members.filter((m) => !nowPeers.has(m.peerId)),
    });
    return true;
  }

  #index(): void {
    this.#byPeer = new Map(this.#manifest.members.map((m) => [m.peerId, m]));
    this.#byInstitution = new Map(this.#manifest.members.map((m) => [m.institutionId, m]));
    this.#institutionIds = Object.freeze(this.#manifest.members.map((m) => m.institutionId));
  }
}

function copySigned(signed: SignedManifest): SignedManifest {
  return { body: Buffer.from(signed.body), signature: Buffer.from(signed.signature) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
