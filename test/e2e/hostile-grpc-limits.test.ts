import { Client, credentials, Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";

const MiB = 1024 * 1024;

type Outcome = { code: number; details: string; field?: string };

function raw(addr: string): Client {
  return new Client(addr, credentials.createInsecure(), { "grpc.max_send_message_length": 64 * MiB });
}

function auth(apiKey?: string): Metadata {
  const md = new Metadata();
  if (apiKey) md.set("authorization", `Bearer ${apiKey}`);
  return md;
}

/** One SubmitRecords message of the given bytes, sent as they are. */
function submitBytes(addr: string, apiKey: string | undefined, body: Buffer): Promise<Outcome> {
  const client = raw(addr);
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest("/creditmesh.v1.CreditNode/SubmitRecords", (b: Buffer) => b, (b: Buffer) => b, auth(apiKey));
    call.on("data", () => undefined);
    call.on("error", () => undefined);
    call.on("status", (s) => (client.close(), resolve({ code: s.code, details: s.details, field: s.metadata.get("field")[0] as string | undefined })));
    call.write(body);
    call.end();
  });
}

function unaryBytes(addr: string, apiKey: string | undefined, method: string, body: Buffer): Promise<Outcome> {
  const client = raw(addr);
  return new Promise((resolve) =>
    client.makeUnaryRequest(`/creditmesh.v1.CreditNode/${method}`, (b: Buffer) => b, (b: Buffer) => b, body, auth(apiKey), (err) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details, field: err.metadata.get("field")[0] as string | undefined } : { code: status.OK, details: "" });
    }),
  );
}

/** A message with one length-delimited field `field` of `bytes` bytes. */
function withField(field: number, bytes: number): Buffer {
  const len: number[] = [];
  for (let n = bytes; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), Buffer.alloc(bytes, 0x61)]);
}

describe("cheap refusals at the gRPC server", () => {
  let n: InProcessNode;

  async function refusedCount(reason: string): Promise<number> {
    return (await n.node.metrics!.requestsRefusedUndecoded.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  }

  beforeAll(async () => {
    n = await startInProcessNode({
      institutionId: "limit-bank",
      config: { grpc: { host: "127.0.0.1", port: 0, maxRequestBytes: 4096, methodMaxRequestBytes: { GrantConsent: 256 * 1024 } } },
    });
  });
  afterAll(async () => {
    await n?.stop();
  });

  it("16 MiB of empty records is refused from the wire bytes, without decoding 8 million records", async () => {
    const before = await refusedCount("too_many_records");
    const body = Buffer.alloc(16 * MiB - 64);
    for (let i = 0; i < body.length; i += 2) body[i] = 0x0a;
    const r = await submitBytes(n.address, n.apiKey, body);
    expect(r).toMatchObject({ code: status.INVALID_ARGUMENT, field: "records" });
    expect(await refusedCount("too_many_records")).toBe(before + 1);
  });

  it("a request over its method's limit is refused with RESOURCE_EXHAUSTED before decoding; the limit is per method", async () => {
    const before = await refusedCount("too_large");
    const report = await unaryBytes(n.address, n.apiKey, "GetCreditReport", withField(3, 64 * 1024));
    expect(report.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(report.details).toContain("GetCreditReport");
    expect(await refusedCount("too_large")).toBe(before + 1);
    // GrantConsent's own limit is 256 KiB here: a 64 KiB request is decoded and refused on its content.
    const grant = await unaryBytes(n.address, n.apiKey, "GrantConsent", withField(5, 64 * 1024));
    expect(grant.code).toBe(status.INVALID_ARGUMENT);
    expect(await refusedCount("too_large")).toBe(before + 1);
  });

  it("a caller without a valid key is refused from the metadata: its body is never read", async () => {
    const before = await refusedCount("too_large");
    for (const key of [undefined, "cmk_00000000_notakey"]) {
      const r = await unaryBytes(n.address, key, "GetCreditReport", withField(3, 64 * 1024));
      expect(r.code).toBe(status.UNAUTHENTICATED);
    }
    // The size guard runs when the body is decoded: it never ran for them.
    expect(await refusedCount("too_large")).toBe(before);
    const s = await submitBytes(n.address, undefined, withField(1, 1024));
    expect(s.code).toBe(status.UNAUTHENTICATED);
  });

  it("ordinary calls still work", async () => {
    const ok = await unaryBytes(n.address, n.apiKey, "GetNodeStatus", Buffer.alloc(0));
    expect(ok.code).toBe(status.OK);
  });
});
