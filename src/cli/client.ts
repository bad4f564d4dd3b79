import { credentials, Metadata, type CallOptions } from "@grpc/grpc-js";
import { existsSync } from "node:fs";
import { DEFAULT_CONFIG_FILE, loadConfig, secretsPath } from "../config/load.js";
import { readRuntime } from "../config/runtime-file.js";
import { readSecrets } from "../config/secrets.js";
import { CreditMeshError } from "../errors.js";
import { CreditNodeClient } from "../gen/creditmesh/v1/node.js";

export interface ClientOptions {
  config?: string;
  addr?: string;
  apiKey?: string;
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
  if (!apiKey) {
    throw new CreditMeshError(
      "AUTH_MISSING_KEY",
      `no API key: pass --api-key, set CREDITMESH_API_KEY, or run on the node's machine (looked for the secrets of ${configFile})`,
    );
  }
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${apiKey}`);
  const client = new CreditNodeClient(address, credentials.createInsecure(), {
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
