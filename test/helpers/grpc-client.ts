import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { CreditNodeClient, type SubmitRecordsRequest, type SubmitRecordsResponse } from "../../src/gen/creditmesh/v1/node.js";

/** A typed promise wrapper around the generated client, for tests and benchmarks. */
export class TestClient {
  readonly raw: CreditNodeClient;
  readonly metadata = new Metadata();

  constructor(address: string, apiKey?: string) {
    this.raw = new CreditNodeClient(address, credentials.createInsecure());
    if (apiKey) this.metadata.set("authorization", `Bearer ${apiKey}`);
  }

  unary<K extends "grantConsent" | "revokeConsent" | "getCreditReport" | "getNodeStatus" | "fileDispute" | "resolveDispute" | "getDispute" | "listConsents" | "listDisputes">(
    method: K,
    req: Parameters<CreditNodeClient[K]>[0],
    timeoutMs = 30_000,
  ): Promise<any> {
    return new Promise((resolve, reject) =>
      (this.raw[method] as any)(req, this.metadata, { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, res: unknown) =>
        err ? reject(err) : resolve(res),
      ),
    );
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

  close(): void {
    this.raw.close();
  }
}
