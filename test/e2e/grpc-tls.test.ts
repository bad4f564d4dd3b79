import { credentials, Metadata, status as GrpcStatus, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { CreditNodeClient, type GetNodeStatusResponse } from "../../src/gen/creditmesh/v1/node.js";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";
import { TestClient } from "../helpers/grpc-client.js";
import { cli } from "../helpers/node-process.js";
import { residentId } from "../helpers/records.js";
import { waitUntil } from "../helpers/in-process-network.js";
import { tempDir } from "../helpers/temp.js";
import { issueCert, makeCa, type CertFiles } from "../helpers/tls-certs.js";

/**
 * The gRPC endpoint over TLS, and over mutual TLS where a client certificate
 * listed in grpc.tls.clientRoles stands in for an API key (DESIGN §3: "gRPC
 * (mTLS or API key)"). Real sockets, certificates made with openssl.
 */

const tmp = tempDir("cm-tls-");
let serverCa: CertFiles;
let server: CertFiles;
let clientCa: CertFiles;
let rogueCa: CertFiles;

beforeAll(() => {
  serverCa = makeCa(tmp.dir, "bureau-ca");
  const leaf = issueCert(tmp.dir, serverCa, "node.bureau.test", "server");
  // What operators usually deploy: the leaf followed by its issuer.
  server = { certFile: path.join(tmp.dir, "fullchain.pem"), keyFile: leaf.keyFile };
  writeFileSync(server.certFile, Buffer.concat([readFileSync(leaf.certFile), readFileSync(serverCa.certFile)]));
  clientCa = makeCa(tmp.dir, "clients-ca");
  rogueCa = makeCa(tmp.dir, "rogue-ca");
});

afterAll(() => tmp.remove());

const pem = (file: string) => readFileSync(file);

/** A counter of that node's own registry. */
async function counter(node: InProcessNode, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await node.node.metrics!.registry.getSingleMetric(name)!.get();
  return metric.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

function tlsCredentials(opts: { ca?: CertFiles; client?: CertFiles } = {}): ChannelCredentials {
  return credentials.createSsl(
    opts.ca ? pem(opts.ca.certFile) : null,
    opts.client ? pem(opts.client.keyFile) : null,
    opts.client ? pem(opts.client.certFile) : null,
  );
}

async function call<T>(address: string, creds: ChannelCredentials, method: "getNodeStatus" | "grantConsent", req: object, apiKey?: string): Promise<T> {
  const client = new TestClient(address, apiKey, { credentials: creds });
  try {
    return await client.unary(method, req as never, 5_000);
  } finally {
    client.close();
  }
}

function submitOne(address: string, creds: ChannelCredentials): Promise<ServiceError | undefined> {
  const client = new CreditNodeClient(address, creds);
  return new Promise((resolve) => {
    const stream = client.submitRecords(new Metadata(), { deadline: Date.now() + 5_000 });
    stream.on("data", () => undefined);
    stream.on("error", (err: ServiceError) => {
      client.close();
      resolve(err);
    });
    stream.on("end", () => {
      client.close();
      resolve(undefined);
    });
    stream.write({ records: [] });
    stream.end();
  });
}

const failure = async (p: Promise<unknown>): Promise<ServiceError> => {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("the call succeeded");
};

const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19900101", 12, "110101"), name: "林晓", phone: "" };

describe("gRPC over TLS", () => {
  let node: InProcessNode;

  beforeAll(async () => {
    node = await startInProcessNode({ config: { grpc: { host: "127.0.0.1", port: 0, tls: server } } });
  });

  afterAll(async () => {
    await node?.stop();
  });

  it("serves a client that trusts the node's CA and sends an API key", async () => {
    const status = await call<GetNodeStatusResponse>(node.address, tlsCredentials({ ca: serverCa }), "getNodeStatus", {}, node.apiKey);
    expect(status.institutionId).toBe("test-bank");
    expect(node.logs.text).toMatch(/"tls":"server".*gRPC listening|gRPC listening.*"tls":"server"/);
  });

  it("refuses plaintext clients and clients that do not trust its certificate", async () => {
    const plain = await failure(call(node.address, credentials.createInsecure(), "getNodeStatus", {}, node.apiKey));
    expect(plain.code).toBe(GrpcStatus.UNAVAILABLE);
    const untrusting = await failure(call(node.address, tlsCredentials({ ca: rogueCa }), "getNodeStatus", {}, node.apiKey));
    expect(untrusting.code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it("still wants an API key: TLS alone authenticates nobody", async () => {
    const missing = await counter(node, "creditmesh_auth_failures_total", { reason: "missing" });
    const err = await failure(call(node.address, tlsCredentials({ ca: serverCa }), "getNodeStatus", {}));
    expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(await counter(node, "creditmesh_auth_failures_total", { reason: "missing" })).toBe(missing + 1);
  });

  it("a node whose key does not match its certificate refuses to start, naming the field", async () => {
    const err = await startInProcessNode({ config: { grpc: { host: "127.0.0.1", port: 0, tls: { certFile: server.certFile, keyFile: serverCa.keyFile } } } }).then(
      (n) => n.stop().then(() => undefined),
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "CONFIG_INVALID", field: "grpc.tls.keyFile" });
  });

  it("the CLI on the node's machine connects with the config alone (it trusts the chain in grpc.tls.certFile)", async () => {
    const configFile = path.join(tmp.dir, "tls-node.json");
    writeFileSync(configFile, JSON.stringify({ institution: { id: "test-bank", name: "Test Bank" }, storage: { dataDir: node.dataDir }, grpc: { port: 0, tls: server } }));
    const out = await cli(["status", "--config", configFile, "--addr", node.address]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("test-bank");
  });
});

describe("mutual TLS", () => {
  let node: InProcessNode;
  let lenderApp: CertFiles;
  let batchJob: CertFiles;
  let impostor: CertFiles;

  beforeAll(async () => {
    lenderApp = issueCert(tmp.dir, clientCa, "lender-app", "client");
    batchJob = issueCert(tmp.dir, clientCa, "batch-job", "client");
    impostor = issueCert(tmp.dir, rogueCa, "lender-app", "client");
    node = await startInProcessNode({
      config: {
        grpc: { host: "127.0.0.1", port: 0, tls: { ...server, clientCaFile: clientCa.certFile, clientRoles: { "lender-app": ["LENDER"] } } },
      },
    });
  });

  afterAll(async () => {
    await node?.stop();
  });

  it("refuses a client without a certificate, even with a valid API key", async () => {
    const err = await failure(call(node.address, tlsCredentials({ ca: serverCa }), "getNodeStatus", {}, node.apiKey));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it("refuses a certificate from another CA, even with a listed CN", async () => {
    const err = await failure(call(node.address, tlsCredentials({ ca: serverCa, client: impostor }), "getNodeStatus", {}, node.apiKey));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it("a listed certificate calls with its roles and no API key: it may grant consent, not furnish records", async () => {
    const creds = tlsCredentials({ ca: serverCa, client: lenderApp });
    const consent = await call<{ consentId: string }>(node.address, creds, "grantConsent", {
      subject: SUBJECT,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 86_400_000),
      evidenceRef: "sha256:mtls-consent",
    });
    expect(consent.consentId).not.toBe("");
    const denied = await counter(node, "creditmesh_auth_failures_total", { reason: "role" });
    const err = await submitOne(node.address, tlsCredentials({ ca: serverCa, client: lenderApp }));
    expect(err?.code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(await counter(node, "creditmesh_auth_failures_total", { reason: "role" })).toBe(denied + 1);
  });

  it("a verified certificate that is not listed still needs an API key", async () => {
    const creds = () => tlsCredentials({ ca: serverCa, client: batchJob });
    const err = await failure(call(node.address, creds(), "getNodeStatus", {}));
    expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(err.details).toContain("grpc.tls.clientRoles");
    const status = await call<GetNodeStatusResponse>(node.address, creds(), "getNodeStatus", {}, node.apiKey);
    expect(status.institutionId).toBe("test-bank");
  });

  it("the CLI authenticates with --tls-cert/--tls-key alone", async () => {
    const out = await cli([
      "status", "--config", path.join(tmp.dir, "absent.json"), "--addr", node.address,
      "--tls-ca", serverCa.certFile, "--tls-cert", lenderApp.certFile, "--tls-key", lenderApp.keyFile,
    ]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("test-bank");
  });
});

describe("certificate rotation", () => {
  let node: InProcessNode;
  let first: CertFiles;
  let second: CertFiles;
  let live: CertFiles;

  /** The subject CN of the certificate the node presents to a new connection. */
  const servedCn = (port: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: "127.0.0.1", port, ca: pem(serverCa.certFile), ALPNProtocols: ["h2"] }, () => {
        const cn = socket.getPeerCertificate().subject.CN;
        socket.destroy();
        resolve(String(cn));
      });
      socket.on("error", reject);
    });

  /** Replaces a file the way deployment tools do: write aside, then rename over. */
  const replace = (target: string, from: string) => {
    copyFileSync(from, `${target}.new`);
    renameSync(`${target}.new`, target);
  };

  beforeAll(async () => {
    const dir = path.join(tmp.dir, "rotation");
    mkdirSync(dir);
    first = issueCert(tmp.dir, serverCa, "node-1", "server");
    second = issueCert(tmp.dir, serverCa, "node-2", "server");
    live = { certFile: path.join(dir, "node.crt"), keyFile: path.join(dir, "node.key") };
    copyFileSync(first.certFile, live.certFile);
    copyFileSync(first.keyFile, live.keyFile);
    node = await startInProcessNode({ config: { grpc: { host: "127.0.0.1", port: 0, tls: live } } });
  });

  afterAll(async () => {
    await node?.stop();
  });

  it("serves a replaced certificate without a restart, and refuses a certificate without its key meanwhile", async () => {
    const port = Number(node.address.split(":").pop());
    expect(await servedCn(port)).toBe("node-1");
    const reloads = { applied: await counter(node, "creditmesh_tls_reloads_total", { outcome: "applied" }), refused: await counter(node, "creditmesh_tls_reloads_total", { outcome: "refused" }) };

    replace(live.certFile, second.certFile); // the new certificate, the old key: not a pair
    await waitUntil(() => node.logs.text.includes("new TLS files refused"), 10_000, "the mismatched pair to be refused");
    expect(node.logs.text).toContain('"field":"grpc.tls.keyFile"');
    expect(await servedCn(port)).toBe("node-1");
    await call<GetNodeStatusResponse>(node.address, tlsCredentials({ ca: serverCa }), "getNodeStatus", {}, node.apiKey);

    replace(live.keyFile, second.keyFile);
    await waitUntil(async () => (await servedCn(port)) === "node-2", 10_000, "the new certificate to be served");
    expect(node.logs.text).toContain("TLS certificate reloaded");
    expect(await counter(node, "creditmesh_tls_reloads_total", { outcome: "applied" })).toBe(reloads.applied + 1);
    expect(await counter(node, "creditmesh_tls_reloads_total", { outcome: "refused" })).toBeGreaterThan(reloads.refused);
    const status = await call<GetNodeStatusResponse>(node.address, tlsCredentials({ ca: serverCa }), "getNodeStatus", {}, node.apiKey);
    expect(status.institutionId).toBe("test-bank");
  });
});
