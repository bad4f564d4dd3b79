/**
 * The gRPC echo reference the benchmarks measure the node's API against:
 * one unary method that answers with a buffer of the size the request asks
 * for (its first four bytes, big-endian), served by grpc-js with the node's
 * own server channel options (api/server-options.ts), and compiled to dist/
 * like the node, so that a report call and an echo call differ only in the
 * work the call does, not in the gRPC stack or how it was loaded.
 *
 * Run as a process (`node dist/testnet/grpc-echo.js [--max-message-bytes N]`)
 * it serves on a loopback port, prints `{"address":"host:port"}` on one line,
 * and exits when its stdin closes or on SIGTERM/SIGINT; nothing else runs in
 * that process.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { grpcServerChannelOptions } from "../api/server-options.js";

export const ECHO_PATH = "/creditmesh.bench.v1.Echo/Echo";
/** The node's default grpc.maxMessageBytes. */
export const ECHO_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const identity = (b: Buffer): Buffer => b;

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** A request asking for an answer of `answerBytes`, padded to `requestBytes`. */
export function echoRequest(requestBytes: number, answerBytes: number): Buffer {
  const buf = randomBytes(Math.max(4, requestBytes));
  buf.writeUInt32BE(answerBytes, 0);
  return buf;
}

const answers = new Map<number, Buffer>();

/** The answer a request asks for; one buffer per size, made once. */
export function echoAnswerFor(request: Uint8Array): Buffer {
  const size = request.length >= 4 ? Buffer.from(request.buffer, request.byteOffset, 4).readUInt32BE(0) : 0;
  let buf = answers.get(size);
  if (buf === undefined) {
    buf = randomBytes(Math.min(size, 8 * 1024 * 1024));
    answers.set(size, buf);
  }
  return buf;
}

export interface GrpcEcho {
  address: string;
  stop(): Promise<void>;
}

/** The echo service on `host`, port 0. */
export async function startGrpcEcho(opts: { host?: string; maxMessageBytes?: number } = {}): Promise<GrpcEcho> {
  const host = opts.host ?? "127.0.0.1";
  const server = new grpc.Server(grpcServerChannelOptions(opts.maxMessageBytes ?? ECHO_MAX_MESSAGE_BYTES));
  server.addService(ECHO_SERVICE, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, echoAnswerFor(call.request)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: `${host}:${port}`, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

/** This file's compiled form, which a benchmark spawns (from src/testnet or dist/testnet alike). */
export const GRPC_ECHO_MAIN = fileURLToPath(new URL("../../dist/testnet/grpc-echo.js", import.meta.url));

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf("--max-message-bytes");
  const maxMessageBytes = i >= 0 ? Number(argv[i + 1]) : ECHO_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1024) {
    process.stderr.write(`--max-message-bytes must be an integer ≥ 1024, got ${argv[i + 1]}\n`);
    process.exit(2);
  }
  const echo = await startGrpcEcho({ maxMessageBytes });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void echo.stop().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The parent holds our stdin: when it goes away, so do we.
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
  process.stdout.write(JSON.stringify({ address: echo.address }) + "\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`grpc echo failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
