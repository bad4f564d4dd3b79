import { credentials, Metadata, type CallOptions, type ChannelCredentials } from "@grpc/grpc-js";
import { existsSync, readFileSync } from "node:fs";
import { DEFAULT_CONFIG_FILE, loadConfig, secretsPath } from "../config/load.js";
import { readRuntime } from "../config/runtime-file.js";
import type { NodeConfig } from "../config/schema.js";
import { readSecrets } from "../config/secrets.js";
import { CreditMeshError, invalid } from "../errors.js";
import { CreditNodeClient } from "../gen/creditmesh/v1/node.js";

export interface ClientOptions {
  config?: string;
  addr?: string;
  apiKey?: string;
  /** PEM CA certificate(s) the node's certificate must chain to. */
  tlsCa?: string;
  /** PEM client certificate and key, for a node that requires mutual TLS. */
  tlsCert?: string;
  tlsKey?: string;
}

export interface NodeConnection {
  client: CreditNodeClient;
  address: string;
  metadata: Metadata;
  /** Options for unary calls: a deadline so that a dead node never hangs the CLI. */
  callOptions(timeoutMs?: number): Partial<CallOptions>;
  close(): void;
}

/**
 * Connects to a node: address and API key come from the flags, then the
 * environment, then the node's own config and secrets file (the local operator
 * key), so on the node's machine no flag is needed.
 */
export function connect(opts: ClientOptions): NodeConnection {
  const configFile = opts.config ?? DEFAULT_CONFIG_FILE;
  const config = existsSync(configFile) ? loadConfig(configFile) : undefined;
  const address =
    opts.addr ??
    process.env.CREDITMESH_ADDR ??
    (config ? (readRuntime(config)?.grpcAddr ?? `${config.grpc.host}:${config.grpc.port}`) : "127.0.0.1:50051");
  let apiKey = opts.apiKey ?? process.env.CREDITMESH_API_KEY;
  if (!apiKey && config) {
    const file = secretsPath(config);
    if (existsSync(file)) apiKey = readSecrets(file).localApiKey;
  }
  const channel = channelCredentials(opts, config);
  if (!apiKey && !channel.clientCertificate) {
    throw new CreditMeshError(
      "AUTH_MISSING_KEY",
      `no API key: pass --api-key, set CREDITMESH_API_KEY, or run on the node's machine (looked for the secrets of ${configFile})`,
    );
  }
  const metadata = new Metadata();
  if (apiKey) metadata.set("authorization", `Bearer ${apiKey}`);
  const client = new CreditNodeClient(address, channel.credentials, {
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
  return {
    client,
    address,
    metadata,
    callOptions: (timeoutMs = 30_000) => ({ deadline: Date.now() + timeoutMs }),
    close: () => client.close(),
  };
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw invalid(flag, `cannot read ${file}: ${(cause as Error).message}`);
  }
}

/**
 * grpc-js passes an IP target (127.0.0.1) to TLS as the server name, which
 * Node reports as DEP0123 on every connection. The certificate is still
 * checked against that IP; the warning only clutters the command's output.
 */
function dropIpServerNameWarning(): void {
  if (ipWarningDropped) return;
  ipWarningDropped = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const [, typeOrOptions, code] = args;
    const isDep0123 = code === "DEP0123" || (typeof typeOrOptions === "object" && (typeOrOptions as { code?: string } | null)?.code === "DEP0123");
    if (!isDep0123) emit(...args);
  }) as typeof process.emitWarning;
}
let ipWarningDropped = false;

/**
 * TLS when the node's config enables it or any TLS flag is given: the CA from
 * the flag, the environment, or else the node's own certificate file (right
 * for a self-signed certificate, or a file holding the chain up to its root).
 */
function channelCredentials(opts: ClientOptions, config: NodeConfig | undefined): { credentials: ChannelCredentials; clientCertificate: boolean } {
  const caFile = opts.tlsCa ?? (process.env.CREDITMESH_TLS_CA || undefined) ?? config?.grpc.tls?.certFile;
  const certFile = opts.tlsCert ?? (process.env.CREDITMESH_TLS_CERT || undefined);
  const keyFile = opts.tlsKey ?? (process.env.CREDITMESH_TLS_KEY || undefined);
  if (!caFile && !certFile && !keyFile) return { credentials: credentials.createInsecure(), clientCertificate: false };
  if (Boolean(certFile) !== Boolean(keyFile)) throw invalid(certFile ? "tls_key" : "tls_cert", "--tls-cert and --tls-key go together");
  dropIpServerNameWarning();
  return {
    credentials: credentials.createSsl(
      caFile ? readPem("tls_ca", caFile) : null,
      keyFile ? readPem("tls_key", keyFile) : null,
      certFile ? readPem("tls_cert", certFile) : null,
    ),
    clientCertificate: Boolean(certFile),
  };
}

/** Promise form of a unary call with metadata and a deadline. */
export function call<Req, Res>(
  conn: NodeConnection,
  method: (req: Req, metadata: Metadata, options: Partial<CallOptions>, cb: (err: Error | null, res: Res) => void) => unknown,
  req: Req,
  timeoutMs?: number,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(conn.client, req, conn.metadata, conn.callOptions(timeoutMs), (err, res) => (err ? reject(err) : resolve(res))),
  );
}
