import { credentials, Metadata, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";
import { call, type NodeConnection } from "../cli/client.js";
import { CreditNodeClient, type AuditEntry, type SubmitRecordsRequest, type SubmitRecordsResponse } from "../gen/creditmesh/v1/node.js";
import type { Record as WireRecord } from "../gen/creditmesh/v1/records.js";

/** The unary RPCs of CreditNode. */
export type UnaryMethod =
  | "grantConsent"
  | "revokeConsent"
  | "listConsents"
  | "getCreditReport"
  | "getNodeStatus"
  | "getLogCheckpoint"
  | "getLogProof"
  | "fileDispute"
  | "resolveDispute"
  | "getDispute"
  | "listDisputes"
  | "purgeSubject"
  | "rotateDataKey"
  | "backup"
  | "verifyAudit"
  | "runTokenCeremony";

export interface NodeClientOptions {
  /** A connection of its own instead of the one shared by every client of the same address. */
  separateConnection?: boolean;
  channelOptions?: ChannelOptions;
  /** TLS or mutual TLS; plaintext by default. */
  credentials?: ChannelCredentials;
}

/**
 * A client of one node for test networks, tests and benchmarks:
 * unary calls through the CLI's `call()` (so there is one promise wrapper),
 * and record streams. No API key gives an unauthenticated client.
 */
export class NodeClient {
  readonly raw: CreditNodeClient;
  readonly metadata = new Metadata();
  readonly #conn: NodeConnection;

  constructor(
    readonly address: string,
    apiKey?: string,
    opts: NodeClientOptions = {},
  ) {
    this.raw = new CreditNodeClient(address, opts.credentials ?? credentials.createInsecure(), {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      ...(opts.separateConnection ? { "grpc.use_local_subchannel_pool": 1 } : {}),
      ...opts.channelOptions,
    });
    if (apiKey) this.metadata.set("authorization", `Bearer ${apiKey}`);
    this.#conn = {
      client: this.raw,
      address,
      metadata: this.metadata,
      callOptions: (timeoutMs = 30_000) => ({ deadline: Date.now() + timeoutMs }),
      close: () => this.raw.close(),
    };
  }

  /** The connection in the CLI's shape, for code written against `connect()`. */
  get connection(): NodeConnection {
    return this.#conn;
  }

  unary<K extends UnaryMethod>(method: K, req: Parameters<CreditNodeClient[K]>[0], timeoutMs = 30_000): Promise<any> {
    return call(this.#conn, this.raw[method] as any, req, timeoutMs);
  }

  /** Sends the batches in order and collects every acknowledgement (or the stream's error). */
  submit(batches: SubmitRecordsRequest[]): Promise<SubmitRecordsResponse[]> {
    return new Promise((resolve, reject) => {
      const stream = this.raw.submitRecords(this.metadata);
      const acks: SubmitRecordsResponse[] = [];
      stream.on("data", (r: SubmitRecordsResponse) => acks.push(r));
      stream.on("error", reject);
      stream.on("end", () => resolve(acks));
      for (const b of batches) stream.write(b);
      stream.end();
    });
  }

  /** Streams `records` in batches of `batchSize`; resolves with how many were accepted. */
  async submitRecords(records: WireRecord[], batchSize = 500): Promise<number> {
    const batches: SubmitRecordsRequest[] = [];
    for (let i = 0; i < records.length; i += batchSize) batches.push({ records: records.slice(i, i + batchSize) });
    const acks = await this.submit(batches);
    return acks.reduce((n, a) => n + a.accepted, 0);
  }

  /** Every entry of the node's audit trail, oldest first (ExportAudit). */
  exportAudit(): Promise<AuditEntry[]> {
    return new Promise((resolve, reject) => {
      const out: AuditEntry[] = [];
      const stream = this.raw.exportAudit({}, this.metadata);
      stream.on("data", (e: AuditEntry) => out.push(e));
      stream.on("error", reject);
      stream.on("end", () => resolve(out));
    });
  }

  close(): void {
    this.raw.close();
  }
}
