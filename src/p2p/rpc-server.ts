import type { Connection, Stream } from "@libp2p/interface";
import { CreditMeshError, isCreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import { FrameBatcher } from "./frame-batcher.js";
import { stageNow, stageSpan } from "../stage-trace.js";
import type { PeerNode, PeerService } from "./peer-node.js";
import {
  FrameDecoder,
  FrameError,
  FrameKind,
  encodeErrorPayload,
  encodeFrame,
  type Frame,
} from "./rpc-frame.js";
import {
  DEFAULT_RPC_MAX_CONCURRENT_PER_STREAM,
  DEFAULT_RPC_PARTIAL_FRAME_TIMEOUT_MS,
  RPC_MAX_STREAMS_PER_CONNECTION,
} from "./protocols.js";

/** The part of the peer node a server needs: stream handlers, and who is a member now. */
export type RpcServerNode = Pick<PeerNode, "handle" | "unhandle" | "membership"> & Partial<Pick<PeerNode, "markUsed">>;

export type RpcHandler = (body: Uint8Array, from: { peerId: string }, signal: AbortSignal) => Promise<Uint8Array>;

export interface RpcServerOptions {
  /** Largest request or answer payload, in bytes. */
  maxFrameBytes: number;
  /** A handler still running after this is abandoned and the requester gets P2P_TIMEOUT. */
  handlerTimeoutMs: number;
  /** Requests one stream may have in handlers at once; further ones wait (the stream is paused). */
  maxConcurrentPerStream?: number;
  /** A frame that has started must be complete within this, or the stream is closed as P2P_PROTOCOL. */
  partialFrameTimeoutMs?: number;
  logger?: Logger;
}

/**
 * Serves one request/response protocol on long-lived streams: every inbound
 * stream carries many requests, each answered by id as soon as its handler
 * settles, in whatever order that happens.
 */
export class RpcServer implements PeerService {
  readonly protocol: string;
  readonly #node: RpcServerNode;
  readonly #handler: RpcHandler;
  readonly #opts: Required<Omit<RpcServerOptions, "logger">>;
  readonly #log: Logger | undefined;
  readonly #sessions = new Set<ServerSession>();
  #running = false;

  constructor(node: RpcServerNode, protocol: string, handler: RpcHandler, opts: RpcServerOptions) {
    this.#node = node;
    this.protocol = protocol;
    this.#handler = handler;
    this.#opts = {
      maxFrameBytes: opts.maxFrameBytes,
      handlerTimeoutMs: opts.handlerTimeoutMs,
      maxConcurrentPerStream: opts.maxConcurrentPerStream ?? DEFAULT_RPC_MAX_CONCURRENT_PER_STREAM,
      partialFrameTimeoutMs: opts.partialFrameTimeoutMs ?? DEFAULT_RPC_PARTIAL_FRAME_TIMEOUT_MS,
    };
    this.#log = opts.logger?.child({ module: "rpc", protocol });
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#node.handle(this.protocol, (stream, connection) => this.#accept(stream, connection), {
      maxInboundStreams: RPC_MAX_STREAMS_PER_CONNECTION,
    });
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    try {
      await this.#node.unhandle(this.protocol);
    } finally {
      for (const session of this.#sessions) session.close(new Error("rpc server stopped"));
      this.#sessions.clear();
    }
  }

  #accept(stream: Stream, connection: Connection): void {
    const peerId = connection.remotePeer.toString();
    // The gater already refused non-members; a manifest change may have raced it.
    if (!this.#running || !this.#node.membership.has(peerId)) {
      stream.abort(new Error("not a member"));
      return;
    }
    // A connection that carries requests either way is in use: the member that dialed it must not close
    // it as idle under the requests of the other (they would end as "stream to peer lost").
    const handler: RpcHandler = (body, from, signal) => {
      this.#node.markUsed?.(peerId);
      return this.#handler(body, from, signal);
    };
    const session = new ServerSession(stream, { peerId }, handler, this.#opts, this.#log);
    this.#sessions.add(session);
    stream.addEventListener("close", () => this.#sessions.delete(session), { once: true });
  }
}

/** Registers `handler` for `protocol` on `node`: served while the node runs, removed when it stops. */
export async function registerRpcHandler(
  node: PeerNode,
  protocol: string,
  handler: RpcHandler,
  opts: RpcServerOptions,
): Promise<RpcServer> {
  const server = new RpcServer(node, protocol, handler, opts);
  await node.addService(server);
  return server;
}

class ServerSession {
  readonly #stream: Stream;
  readonly #from: { peerId: string };
  readonly #handler: RpcHandler;
  readonly #opts: Required<Omit<RpcServerOptions, "logger">>;
  readonly #log: Logger | undefined;
  readonly #decoder: FrameDecoder;
  readonly #batcher: FrameBatcher;
  readonly #inFlight = new Map<number, AbortController>();
  /** Requests decoded while at capacity; the stream is paused until they fit. */
  readonly #backlog: Frame[] = [];
  #paused = false;
  #remoteDone = false;
  /** Runs while a frame is incomplete; restarted for each new frame, never by more bytes of the same one. */
  #partialTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    stream: Stream,
    from: { peerId: string },
    handler: RpcHandler,
    opts: Required<Omit<RpcServerOptions, "logger">>,
    log: Logger | undefined,
  ) {
    this.#stream = stream;
    this.#from = from;
    this.#handler = handler;
    this.#opts = opts;
    this.#log = log;
    this.#decoder = new FrameDecoder(opts.maxFrameBytes);
    // Answers released together share a message; the answer to a lone request leaves at once.
    this.#batcher = new FrameBatcher(stream, { busy: () => this.#inFlight.size > 1 || this.#backlog.length > 0 });
    // A requester that stops reading answers must not make us buffer without end.
    stream.maxWriteBufferLength = 8 * opts.maxFrameBytes;
    stream.addEventListener("message", (evt) => {
      try {
        const data = evt.data;
        if (data instanceof Uint8Array) this.#onChunk(data);
        else for (const chunk of data) this.#onChunk(chunk);
      } catch (err) {
        this.#protocolError(err);
      }
    });
    stream.addEventListener("drain", () => this.#pump());
    // The requester will send nothing more: answer what is in flight, then close.
    stream.addEventListener("remoteCloseWrite", () => {
      this.#remoteDone = true;
      this.#closeIfIdle();
    });
    stream.addEventListener(
      "close",
      () => {
        this.#clearPartialTimer();
        this.#abortAll(new Error("stream closed"));
      },
      { once: true },
    );
  }

  close(err?: Error): void {
    this.#clearPartialTimer();
    this.#abortAll(err ?? new Error("stream closed"));
    if (err !== undefined) {
      this.#batcher.clear();
      this.#stream.abort(err);
    } else {
      // Answers already given leave before the stream closes.
      this.#batcher.flush();
      this.#stream.close().catch((e: unknown) => this.#stream.abort(e as Error));
    }
  }

  #onChunk(chunk: Uint8Array): void {
    const wasPending = this.#decoder.pendingBytes > 0;
    const frames = this.#decoder.push(chunk);
    this.#armPartialTimer(!wasPending || frames.length > 0);
    for (const frame of frames) {
      switch (frame.kind) {
        case FrameKind.Request:
          if (this.#inFlight.has(frame.id) || this.#backlog.some((f) => f.id === frame.id)) {
            throw new FrameError(`request id ${frame.id} reused while in flight`);
          }
          this.#backlog.push(frame);
          break;
        case FrameKind.Cancel:
          this.#cancel(frame.id);
          break;
        default:
          throw new FrameError(`unexpected frame kind ${frame.kind} from a requester`);
      }
    }
    this.#pump();
  }

  /** `newFrame`: the bytes now pending belong to a frame that started with this chunk. */
  #armPartialTimer(newFrame: boolean): void {
    if (this.#decoder.pendingBytes === 0) {
      this.#clearPartialTimer();
      return;
    }
    if (this.#partialTimer !== undefined && !newFrame) return;
    this.#clearPartialTimer();
    const timeoutMs = this.#opts.partialFrameTimeoutMs;
    this.#partialTimer = setTimeout(() => {
      this.#partialTimer = undefined;
      this.#protocolError(new FrameError(`a frame was not completed within ${timeoutMs} ms`));
    }, timeoutMs);
  }

  #clearPartialTimer(): void {
    if (this.#partialTimer === undefined) return;
    clearTimeout(this.#partialTimer);
    this.#partialTimer = undefined;
  }

  #cancel(id: number): void {
    const queued = this.#backlog.findIndex((f) => f.id === id);
    if (queued >= 0) this.#backlog.splice(queued, 1);
    this.#inFlight.get(id)?.abort(new DOMException("cancelled by the requester", "AbortError"));
  }

  #hasCapacity(): boolean {
    return this.#inFlight.size < this.#opts.maxConcurrentPerStream && !this.#stream.writableNeedsDrain;
  }

  #pump(): void {
    while (this.#backlog.length > 0 && this.#hasCapacity()) this.#run(this.#backlog.shift()!);
    const shouldPause = this.#backlog.length > 0;
    if (shouldPause === this.#paused) return;
    if (this.#stream.readStatus !== "readable" && this.#stream.readStatus !== "paused") return;
    this.#paused = shouldPause;
    // While we are not reading, a pending frame's slowness is ours, not the peer's.
    if (shouldPause) {
      this.#clearPartialTimer();
      this.#stream.pause();
    } else {
      this.#stream.resume();
      this.#armPartialTimer(true);
    }
  }

  #run(frame: Frame): void {
    const id = frame.id;
    const t = stageNow();
    const controller = new AbortController();
    this.#inFlight.set(id, controller);
    const timer = setTimeout(
      () => controller.abort(new DOMException("handler timed out", "TimeoutError")),
      this.#opts.handlerTimeoutMs,
    );
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => undefined);
    Promise.race([this.#handler(frame.payload, this.#from, controller.signal), aborted])
      .then(
        (answer) => {
          stageSpan("rpc.server").at("handler", t);
          if (answer.length > this.#opts.maxFrameBytes) {
            this.#log?.warn({ bytes: answer.length }, "answer exceeds the frame limit");
            this.#send(id, FrameKind.Error, encodeErrorPayload("P2P_PROTOCOL", "answer too large"));
          } else {
            this.#send(id, FrameKind.Response, answer);
          }
        },
        (err: unknown) => {
          const reason = controller.signal.aborted ? controller.signal.reason : undefined;
          if (reason instanceof DOMException && reason.name === "AbortError") return; // nobody is waiting
          if (reason instanceof DOMException && reason.name === "TimeoutError") {
            this.#send(id, FrameKind.Error, encodeErrorPayload("P2P_TIMEOUT", "the holder's handler timed out"));
            return;
          }
          if (!isCreditMeshError(err)) this.#log?.warn({ err, from: this.#from.peerId }, "rpc handler failed");
          const code = isCreditMeshError(err) ? err.code : "INTERNAL";
          const message = err instanceof Error ? err.message : String(err);
          this.#send(id, FrameKind.Error, encodeErrorPayload(code, message, isCreditMeshError(err) ? err.field : undefined));
        },
      )
      .finally(() => {
        clearTimeout(timer);
        this.#inFlight.delete(id);
        this.#pump();
        this.#closeIfIdle();
      });
  }

  #closeIfIdle(): void {
    if (this.#remoteDone && this.#inFlight.size === 0 && this.#backlog.length === 0) this.close();
  }

  #send(id: number, kind: FrameKind, payload: Uint8Array): void {
    if (this.#stream.writeStatus !== "writable") return;
    this.#batcher.push(encodeFrame(id, kind, payload), (err) => this.#log?.debug({ err }, "could not send an rpc answer"));
  }

  #protocolError(err: unknown): void {
    this.#log?.warn({ from: this.#from.peerId, err: String(err) }, "closing an rpc stream that broke the protocol");
    const error = new CreditMeshError("P2P_PROTOCOL", err instanceof Error ? err.message : String(err), { cause: err });
    this.close(error);
  }

  #abortAll(reason: Error): void {
    this.#backlog.length = 0;
    for (const controller of this.#inFlight.values()) controller.abort(reason);
  }
}
