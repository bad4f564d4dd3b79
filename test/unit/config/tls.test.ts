import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { loadTlsMaterial } from "../../../src/config/tls.js";
import { isCreditMeshError } from "../../../src/errors.js";
import { tempDir } from "../../helpers/temp.js";
import { issueCert, makeCa, type CertFiles } from "../../helpers/tls-certs.js";

const tmp = tempDir("cm-tls-config-");
let ca: CertFiles;
let server: CertFiles;
let other: CertFiles;

beforeAll(() => {
  ca = makeCa(tmp.dir, "ca");
  server = issueCert(tmp.dir, ca, "node", "server");
  other = issueCert(tmp.dir, ca, "other", "server");
});

afterAll(() => tmp.remove());

function configError(run: () => unknown): { field?: string; message: string } {
  try {
    run();
  } catch (err) {
    if (isCreditMeshError(err, "CONFIG_INVALID")) return { field: err.field, message: err.message };
    throw err;
  }
  throw new Error("no error");
}

describe("grpc.tls files", () => {
  it("loads a certificate with its key and the client CA", () => {
    const m = loadTlsMaterial({ ...server, clientCaFile: ca.certFile });
    expect(m.cert.toString()).toContain("BEGIN CERTIFICATE");
    expect(m.clientCa?.toString()).toContain("BEGIN CERTIFICATE");
  });

  it("names the field of an unreadable file", () => {
    const err = configError(() => loadTlsMaterial({ ...server, clientCaFile: path.join(tmp.dir, "missing.crt") }));
    expect(err.field).toBe("grpc.tls.clientCaFile");
    expect(err.message).toContain("missing.crt");
  });

  it("refuses a key that is not the certificate's", () => {
    expect(configError(() => loadTlsMaterial({ certFile: server.certFile, keyFile: other.keyFile })).field).toBe("grpc.tls.keyFile");
  });

  it("refuses a file that holds no certificate, and an expired certificate", () => {
    const notCert = configError(() => loadTlsMaterial({ certFile: server.keyFile, keyFile: server.keyFile }));
    expect(notCert.field).toBe("grpc.tls.certFile");
    expect(notCert.message).toContain("no PEM certificate");
    const expired = configError(() => loadTlsMaterial(server, new Date(Date.now() + 10 * 86_400_000)));
    expect(expired.field).toBe("grpc.tls.certFile");
    expect(expired.message).toContain("expired");
  });

  it("grants roles to client certificates only when it verifies them, and only known roles", () => {
    const noCa = configError(() => parseConfig({ grpc: { tls: { ...server, clientRoles: { app: ["LENDER"] } } } }));
    expect(noCa.field).toBe("grpc.tls.clientRoles");
    const badRole = configError(() => parseConfig({ grpc: { tls: { ...server, clientCaFile: ca.certFile, clientRoles: { app: ["ADMIN"] } } } }));
    expect(badRole.field).toBe("grpc.tls.clientRoles.app.0");
  });
});
