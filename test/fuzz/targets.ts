/**
 * Every decoder that takes bytes from outside the node, as fuzz targets.
 * Each target gets raw input bytes and must either decode them or refuse
 * them with an Error: any other outcome (a non-Error thrown, a hang, an
 * unhandled rejection, unbounded memory) is a defect the runner reports.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { guardRequests } from "../../src/api/request-limits.js";
import { checkConsent } from "../../src/consent/policy.js";
import * as common from "../../src/gen/creditmesh/v1/common.js";
import * as consent from "../../src/gen/creditmesh/v1/consent.js";
import * as dispute from "../../src/gen/creditmesh/v1/dispute.js";
import * as dkg from "../../src/gen/creditmesh/v1/dkg.js";
import * as node from "../../src/gen/creditmesh/v1/node.js";
import * as peer from "../../src/gen/creditmesh/v1/peer.js";
import * as records from "../../src/gen/creditmesh/v1/records.js";
import * as report from "../../src/gen/creditmesh/v1/report.js";
import { readManifestFile, verifyManifest, type Membership } from "../../src/identity/manifest.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { silentLogger } from "../../src/logger.js";
import { readBackupManifest } from "../../src/node/backup.js";
import { decodeErrorPayload, FrameDecoder } from "../../src/p2p/rpc-frame.js";
import { applyRevocation } from "../../src/p2p/revocations.js";
import type { ConsentStore } from "../../src/store/types.js";
import { piiIn } from "../../src/subject/pii-screen.js";

export interface FuzzTarget {
  name: string;
  /** Valid inputs to mutate (besides random bytes). */
  seeds: Uint8Array[];
  run(input: Uint8Array): unknown;
  /** Parsers that promise a precise refusal: anything thrown must be a CreditMeshError. */
  precise?: boolean;
}

interface Decodable {
  decode(input: Uint8Array): unknown;
  encode(message: never): { finish(): Uint8Array };
  fromPartial?(object: never): unknown;
}

function isDecodable(v: unknown): v is Decodable {
  return typeof v === "object" && v !== null && typeof (v as Decodable).decode === "function" && typeof (v as Decodable).encode === "function";
}

/** Every wire message type of proto/creditmesh/v1 (gRPC API and peer messages). */
function messageTargets(): FuzzTarget[] {
  // The key ceremony's outer messages only: they decode every nested one, and 5,000 inputs must still reach every target.
  const ceremony = { DkgRequest: dkg.DkgRequest, DkgAnswer: dkg.DkgAnswer, DkgPlan: dkg.DkgPlan };
  const modules = { common, consent, dispute, dkg: ceremony, node, peer, records, report };
  const out: FuzzTarget[] = [];
  for (const [file, mod] of Object.entries(modules)) {
    for (const [name, value] of Object.entries(mod)) {
      if (!isDecodable(value)) continue;
      const empty = value.encode((value.fromPartial?.({} as never) ?? {}) as never).finish();
      out.push({ name: `proto ${file}.${name}`, seeds: [empty], run: (input) => value.decode(input) });
    }
  }
  return out;
}

/** The request deserializer of every CreditNode method, as grpc-js calls it, guarded as the server installs it. */
function grpcTargets(): FuzzTarget[] {
  const guarded = guardRequests(node.CreditNodeService as unknown as ServiceDefinition, {
    maxRequestBytes: 64 * 1024,
    methodMaxRequestBytes: {},
    maxBatchRecords: 10_000,
  }, null);
  return Object.entries(guarded).map(([key, method]) => ({
    name: `grpc ${method.path}`,
    seeds: [node.SubmitRecordsRequest.encode({ records: [] }).finish(), Buffer.from([0x0a, 0x00, 0x0a, 0x00])],
    run: (input) => {
      (node.CreditNodeService as unknown as ServiceDefinition)[key]!.requestDeserialize(Buffer.from(input));
      return method.requestDeserialize(Buffer.from(input));
    },
  }));
}

const KEY = NodeKey.fromSeed(new Uint8Array(32).fill(7));

function frameTargets(): FuzzTarget[] {
  return [
    {
      name: "p2p rpc frames (FrameDecoder, split in chunks)",
      seeds: [Uint8Array.from([3, 1, 1, 0])],
      run: (input) => {
        const decoder = new FrameDecoder(4096);
        // Chunk boundaries from the input itself, so the same input always splits the same way.
        for (let i = 0; i < input.length; ) {
          const n = 1 + ((input[i] ?? 0) % 17);
          decoder.push(input.subarray(i, i + n));
          i += n;
        }
      },
    },
    { name: "p2p rpc error payload", seeds: [], run: (input) => decodeErrorPayload(input) },
  ];
}

const now = new Date("2026-06-01T00:00:00Z");

function consentTargets(): FuzzTarget[] {
  const valid = consent.Consent.encode({
    consentId: "c-1",
    subjectToken: "ab".repeat(32),
    granteeInstitutionId: "bank-a",
    purpose: common.Purpose.LOAN_ORIGINATION,
    validFrom: new Date("2026-01-01T00:00:00Z"),
    validUntil: new Date("2027-01-01T00:00:00Z"),
    evidenceRef: "sha256:9f2c1e0a7b3d",
    status: common.ConsentStatus.ACTIVE,
    issuedAt: new Date("2026-01-01T00:00:00Z"),
    signature: Buffer.alloc(64),
    revokedAt: undefined,
  }).finish();
  return [
    {
      name: "consent artefact (decode + holder policy check)",
      seeds: [valid],
      run: (input) =>
        checkConsent(consent.Consent.decode(input), {
          requesterInstitutionId: "bank-a",
          subjectToken: "ab".repeat(32),
          purpose: common.Purpose.LOAN_ORIGINATION,
          now,
          maxClockSkewMs: 60_000,
          verifyGranteeSignature: (_id, data, sig) => KEY.verify(data, sig),
        }),
    },
  ];
}

/** A holder's view for applyRevocation: one member, an in-memory store. */
function revocationTarget(): FuzzTarget {
  const stored = new Map<string, Date>();
  const membership = { byInstitution: (id: string) => (id === "bank-a" ? { institutionId: id, peerId: KEY.peerId } : undefined) } as unknown as Membership;
  const consents = {
    get: async () => undefined,
    getRevocation: async (grantee: string, id: string) => stored.get(`${grantee}/${id}`),
    putRevocation: async (grantee: string, id: string, at: Date) => void stored.set(`${grantee}/${id}`, at),
  } as unknown as ConsentStore;
  const body = consent.Revocation.encode({ consentId: "c-1", granteeInstitutionId: "bank-a", revokedAt: now }).finish();
  const seed = peer.Signed.encode({ body: Buffer.from(body), signature: Buffer.from(KEY.sign(body)) }).finish();
  return {
    name: "revocation (gossip/pull: decode, signature, store)",
    precise: true,
    seeds: [seed],
    run: async (input) => {
      await applyRevocation(input, { membership, consents, logger: silentLogger(), metrics: null });
      if (stored.size > 1000) stored.clear();
    },
  };
}

function disputeTarget(): FuzzTarget {
  const seed = dispute.Dispute.encode(dispute.Dispute.fromPartial({ disputeId: "d-00000001", reason: "paid on time", accountRef: "ab".repeat(16) })).finish();
  return {
    name: "dispute (decode, signed envelope, reason screening)",
    seeds: [seed, peer.Signed.encode({ body: Buffer.from(seed), signature: Buffer.from(KEY.sign(seed)) }).finish()],
    run: (input) => {
      const signed = peer.Signed.decode(input);
      KEY.verify(signed.body, signed.signature);
      const d = dispute.Dispute.decode(input);
      return piiIn(d.reason) ?? piiIn(d.note);
    },
  };
}

/** Parsers that read a file: the input becomes the file's content. */
function fileTargets(dir: string): FuzzTarget[] {
  const manifestFile = path.join(dir, "manifest.json");
  const body = peer.Manifest.encode({ networkId: "n", version: "1", members: [] }).finish();
  const validManifest = JSON.stringify({ manifest: {}, body: Buffer.from(body).toString("base64"), signature: Buffer.alloc(64).toString("base64") });
  const backupDir = path.join(dir, "backup");
  const validBackup = JSON.stringify({ format: "creditmesh-backup", formatVersion: 1, keys: 3, dataKeys: [] });
  return [
    {
      name: "manifest file (JSON, base64, signature)",
      precise: true,
      seeds: [validManifest, "null", "[]", "{}", '{"body":"","signature":""}', '{"body":null,"signature":"AA=="}', '"text"'].map((t) => Buffer.from(t)),
      run: async (input) => {
        writeFileSync(manifestFile, input);
        verifyManifest(await readManifestFile(manifestFile), KEY.publicKey);
      },
    },
    {
      name: "backup manifest (backup.json)",
      precise: true,
      seeds: [validBackup, "null", "[]", "{}", "0", '{"format":"creditmesh-backup","formatVersion":1,"dataKeys":null}', '"x"'].map((t) => Buffer.from(t)),
      run: (input) => {
        writeFileSync(path.join(backupDir, "backup.json"), input);
        return readBackupManifest(backupDir);
      },
    },
  ];
}

/** The targets, and a clean-up for the files the file parsers read. */
export function fuzzTargets(): { targets: FuzzTarget[]; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "cm-fuzz-"));
  mkdirSync(path.join(dir, "backup"));
  const targets = [...grpcTargets(), ...messageTargets(), ...frameTargets(), ...consentTargets(), revocationTarget(), disputeTarget(), ...fileTargets(dir)];
  return { targets, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
