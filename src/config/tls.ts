import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { CreditMeshError } from "../errors.js";
import type { NodeConfig } from "./schema.js";

export type GrpcTlsConfig = NonNullable<NodeConfig["grpc"]["tls"]>;

/** PEM bytes for the gRPC server's credentials, checked before the node binds. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

function configError(field: string, reason: string, cause?: unknown): CreditMeshError {
  return new CreditMeshError("CONFIG_INVALID", `grpc.tls.${field}: ${reason}`, { field: `grpc.tls.${field}`, cause });
}

function readPem(field: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw configError(field, `cannot read ${file}: ${(cause as Error).message}`, cause);
  }
}

function certificate(field: string, file: string, pem: Buffer, now: Date): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (cause) {
    throw configError(field, `${file} holds no PEM certificate`, cause);
  }
  if (now.getTime() > Date.parse(cert.validTo)) throw configError(field, `the certificate in ${file} expired on ${cert.validTo}`);
  if (now.getTime() < Date.parse(cert.validFrom)) throw configError(field, `the certificate in ${file} is not valid before ${cert.validFrom}`);
  return cert;
}

/**
 * Reads and checks the configured files: each readable, the certificate (the
 * first in the chain) in its validity period, the key the certificate's own.
 * Errors name the config field, so a node never starts half-secured.
 */
export function loadTlsMaterial(tls: GrpcTlsConfig, now = new Date()): TlsMaterial {
  const cert = readPem("certFile", tls.certFile);
  const key = readPem("keyFile", tls.keyFile);
  const leaf = certificate("certFile", tls.certFile, cert, now);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (cause) {
    throw configError("keyFile", `${tls.keyFile} holds no PEM private key`, cause);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw configError("keyFile", `${tls.keyFile} is not the key of the certificate in ${tls.certFile}`);
  if (!tls.clientCaFile) return { cert, key };
  const clientCa = readPem("clientCaFile", tls.clientCaFile);
  certificate("clientCaFile", tls.clientCaFile, clientCa, now);
  return { cert, key, clientCa };
}
