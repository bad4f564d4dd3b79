import { setMaxListeners } from "node:events";
import type { Stream } from "@libp2p/interface";
import { CreditMeshError, isCreditMeshError, type ErrorCode } from "../errors.js";
import { abortError, raceSignal } from "./abort.js";
import type { Logger } from "../logger.js";
import type { PeerNode, PeerService } from "./peer-node.js";
import { FrameBatcher } from "./frame-batcher.js";
import { FrameDecoder, FrameKind, decodeErrorPayload, encodeFrame } from "./rpc-frame.js";
import { DEFAULT_RPC_MAX_FRAME_BYTES, DEFAULT_RPC_REQUEST_TIMEOUT_MS } from "./protocols.js";

export interface RpcClientOptions {
  /** Largest request or answer payload; must match what the protocol's servers use. */
  maxFrameBytes?: number;
  /** Applied when a request comes without a signal, so that nothing waits forever. */
  defaultTimeoutMs?: number;
  /** Ceiling on dialling a peer and negotiating a stream, shared by concurrent requests. */
  openTimeoutMs?: number;
  logger?: Logger;
}

/**
 * The holder answered with an error: `remoteCode`, `remoteMessage` and `field`
 * are what it reported, unchanged.
 */
export class RpcRemoteError extends CreditMeshError<{ remoteCode: string }> {
  readonly remoteCode: string;
  readonly remoteMessage: string;
  constructor(code: ErrorCode, remote: { code: string; message: string; field?: string }, message: string) {
    super(code, message, { field: remote.field, meta: { remoteCode: remote.code } });
    this.name = "RpcRemoteError";
    this.remoteCode = remote.code;
    this.remoteMessage = remote.message;
  }
}

/** Per-request options of RpcClient.request. */
export interface RpcRequestOptions {
  /** The protocol's own frame ceiling for its answers (default: the client's). */
  maxFrameBytes?: number;
}

/**
 * Sends requests over one long-lived stream per (peer, protocol): opening a
 * stream costs a protocol negotiation (~1 ms here), a frame on an open one
 * ~0.4 ms round trip. Requests are pipelined and matched to answers by id.
 *
 * Errors: P2P_UNREACHABLE (no connection, dial failed, stream lost),
 * MEMBERSHIP_DENIED (not a member), P2P_TIMEOUT (the signal timed out, or the
 * holder's handler did), P2P_PROTOCOL (bad frame, too large, the handler
 * failed). When the signal is aborted for another reason, that reason is
 * thrown as is.
 */
export class RpcClient implements PeerService {
  readonly #node: PeerNode;
  readonly #maxFrameBytes: number;
  readonly #defaultTimeoutMs: number;
  readonly #openTimeoutMs: number;
  readonly #log: Logger | undefined;
  readonly #sessions = new Map<string, ClientSession>();
  readonly #opening = new Map<string, Promise<ClientSession>>();
  #stopped = false;

  constructor(node: PeerNode, opts: RpcClientOptions = {}) {
    this.#node = node;
    this.#maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_RPC_MAX_FRAME_BYTES;
    this.#defaultTimeoutMs = opts.defaultTimeoutMs ?? DEFAULT_RPC_REQUEST_TIMEOUT_MS;
    this.#openTimeoutMs = opts.openTimeoutMs ?? 10_000;
    this.#log = opts.logger?.child({ module: "rpc-client" });
  }

  start(): void {
    this.#stopped = false;
  }

  /** Fails every pending request with P2P_UNREACHABLE and closes the streams. */
  stop(): void {
    this.#stopped = true;
    for (const session of this.#sessions.values()) session.close(new Error("rpc client stopped"));
    this.#sessions.clear();
  }

  async request(peerId: string, protocol: string, body: Uint8Array, signal?: AbortSignal, opts: RpcRequestOptions = {}): Promise<Uint8Array> {
    const sig = signal ?? AbortSignal.timeout(this.#defaultTimeoutMs);
    if (sig.aborted) throw abortError(sig);
    // Callers commonly share one deadline across a fan-out of many requests.
    setMaxListeners(Infinity, sig);
    const maxFrameBytes = opts.maxFrameBytes ?? this.#maxFrameBytes;
    if (body.length > maxFrameBytes) {
      throw new CreditMeshError("P2P_PROTOCOL", `request of ${body.length} bytes exceeds ${maxFrameBytes}`);
    }
    // A stream can be found dead only when we try to write to it; then nothing
    // was sent and one retry on a fresh stream is safe even for signed,
    // replay-protected requests.
    for (let attempt = 0; attempt < 2; attempt++) {
      this.#node.markUsed(peerId);
      // On an open stream the frame is queued before this call returns, with no turn of the
      // microtask queue in between: a report's requests leave ahead of whatever it does next.
      const open = this.#sessions.get(`${protocol}\n${peerId}`);
      const session = open !== undefined && open.usable && !this.#stopped ? open : await this.#session(peerId, protocol, sig, maxFrameBytes);
      try {
        return await session.call(body, sig);
      } catch (err) {
        if (!(err instanceof NotSentError)) throw err;
        this.#forget(session);
      } finally {
        this.#node.markUsed(peerId);
      }
    }
    throw new CreditMeshError("P2P_UNREACHABLE", `no usable stream to ${peerId} for ${protocol}`);
  }

  async #session(peerId: string, protocol: string, signal: AbortSignal, maxFrameBytes: number): Promise<ClientSession> {
    if (this.#stopped) throw new CreditMeshError("P2P_UNREACHABLE", "the rpc client is stopped");
    const key = `${protocol}\n${peerId}`;
    const current = this.#sessions.get(key);
    if (current !== undefined && current.usable) return current;
    if (current !== undefined) this.#forget(current);
    let opening = this.#opening.get(key);
    if (opening === undefined) {
      // Shared by every request that arrives while it runs, so it has its own
      // deadline: one caller giving up must not fail the others.
      opening = this.#open(peerId, protocol, key, maxFrameBytes).finally(() => this.#opening.delete(key));
      opening.catch(() => undefined);
      this.#opening.set(key, opening);
    }
    return raceSignal(opening, signal);
  }

  async #open(peerId: string, protocol: string, key: string, maxFrameBytes: number): Promise<ClientSession> {
    const signal = AbortSignal.timeout(this.#openTimeoutMs);
    let stream: Stream;
    try {
      const connection = await this.#node.connect(peerId, signal);
      try {
        stream = await connection.newStream(protocol, { signal });
      } catch (cause) {
        // The other end closed the connection (it dialed it, and it was idle on its side) while it still
        // looked open here: nothing was sent, so a fresh connection is as good as the first.
        if (signal.aborted || !CONNECTION_CLOSING.has((cause as Error).name)) throw cause;
        stream = await (await this.#node.connect(peerId, signal, connection)).newStream(protocol, { signal });
      }
    } catch (cause) {
      if (isCreditMeshError(cause, "MEMBERSHIP_DENIED") || isCreditMeshError(cause, "P2P_UNREACHABLE")) throw cause;
      throw new CreditMeshError(
        "P2P_UNREACHABLE",
        `cannot open ${protocol} to ${peerId}: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
    const session = new ClientSession(stream, key, maxFrameBytes, this.#log, (s) => this.#forget(s));
    if (this.#stopped) {
      session.close(new Error("rpc client stopped"));
      throw new CreditMeshError("P2P_UNREACHABLE", "the rpc client is stopped");
    }
    this.#sessions.set(key, session);
    return session;
  }

  #forget(session: ClientSession): void {
    if (this.#sessions.get(session.key) === session) this.#sessions.delete(session.key);
  }
}

/** What libp2p throws when a stream is asked of a connection that is closing or closed. */
const CONNECTION_CLOSING = new Set(["ConnectionClosedError", "ConnectionClosingError", "MuxerClosedError"]);

/** The stream was already unusable; the request never left this node. */
class NotSentError extends Error {
  override name = "NotSentError";
}

interface PendingCall {
  resolve(answer: Uint8Array): void;
  reject(err: Error): void;
}

class ClientSession {
  readonly key: string;
  readonly #stream: Stream;
  readonly #decoder: FrameDecoder;
  readonly #log: Logger | undefined;
  readonly #onClosed: (s: ClientSession) => void;
  readonly #pending = new Map<number, PendingCall>();
  readonly #batcher: FrameBatcher;
  #nextId = 1;
  #closed = false;
  // One shared waiter, re-armed after every drain (stream.onDrain() resolves only once per stream).
  #drain: { promise: Promise<void>; resolve(): void; reject(err: Error): void } | undefined;

  constructor(
    stream: Stream,
    key: string,
    maxFrameBytes: number,
    log: Logger | undefined,
    onClosed: (s: ClientSession) => void,
  ) {
    this.#stream = stream;
    // Requests of concurrent reports to this peer share a message; a lone one leaves at once.
    this.#batcher = new FrameBatcher(stream, { busy: () => this.#pending.size > 1 });
    this.key = key;
    this.#decoder = new FrameDecoder(maxFrameBytes);
    this.#log = log;
    this.#onClosed = onClosed;
    stream.addEventListener("message", (evt) => {
      try {
        const data = evt.data;
        if (data instanceof Uint8Array) this.#onChunk(data);
        else for (const chunk of data) this.#onChunk(chunk);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.close(new CreditMeshError("P2P_PROTOCOL", `bad answer stream: ${message}`, { cause: err }));
      }
    });
    stream.addEventListener("drain", () => {
      const drain = this.#drain;
      this.#drain = undefined;
      drain?.resolve();
    });
    // The holder will send nothing more; whatever is still pending is lost.
    stream.addEventListener("remoteCloseWrite", () => {
      setImmediate(() => this.close(new CreditMeshError("P2P_UNREACHABLE", "the peer closed the stream")));
    });
    stream.addEventListener(
      "close",
      (evt) => {
        const cause = evt.error;
        this.#fail(
          new CreditMeshError("P2P_UNREACHABLE", `stream to peer lost${cause ? `: ${cause.message}` : ""}`, { cause }),
        );
      },
      { once: true },
    );
  }

  get usable(): boolean {
    return !this.#closed && this.#stream.status === "open" && this.#stream.writeStatus === "writable";
  }

  async call(body: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    if (this.#stream.writableNeedsDrain) await this.#waitForDrain(signal);
    if (!this.usable) throw new NotSentError("stream not writable");
    const id = this.#nextId++;
    const frame = encodeFrame(id, FrameKind.Request, body);
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.#pending.delete(id)) return;
        this.#sendCancel(id);
        reject(abortError(signal));
      };
      this.#pending.set(id, {
        resolve: (answer) => {
          signal.removeEventListener("abort", onAbort);
          resolve(answer);
        },
        reject: (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      });
      signal.addEventListener("abort", onAbort, { once: true });
      this.#batcher.push(frame, (err) => {
        if (!this.#pending.delete(id)) return;
        signal.removeEventListener("abort", onAbort);
        reject(new NotSentError(err.message));
      });
    });
  }

  close(err: Error): void {
    if (this.#closed) return;
    this.#fail(err);
    this.#stream.abort(err);
  }

  #onChunk(chunk: Uint8Array): void {
    for (const frame of this.#decoder.push(chunk)) {
      const pending = this.#pending.get(frame.id);
      if (pending === undefined) continue; // cancelled or timed out here already
      if (frame.kind === FrameKind.Response) {
        this.#pending.delete(frame.id);
        pending.resolve(frame.payload);
      } else if (frame.kind === FrameKind.Error) {
        this.#pending.delete(frame.id);
        pending.reject(remoteError(frame.payload));
      } else {
        throw new Error(`unexpected frame kind ${frame.kind} in an answer`);
      }
    }
  }

  #sendCancel(id: number): void {
    // If the stream is going away, the holder's session aborts its handlers anyway.
    if (this.usable) this.#batcher.push(encodeFrame(id, FrameKind.Cancel));
  }

  #waitForDrain(signal: AbortSignal): Promise<void> {
    if (this.#drain === undefined) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => undefined);
      this.#drain = { promise, resolve, reject };
    }
    return raceSignal(this.#drain.promise, signal);
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#batcher.clear();
    this.#onClosed(this);
    this.#drain?.reject(new NotSentError(err.message));
    this.#drain = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
    if (pending.length > 0) this.#log?.debug({ key: this.key, failed: pending.length, err: err.message }, "rpc stream lost");
  }
}

function remoteError(payload: Uint8Array): CreditMeshError {
  const remote = decodeErrorPayload(payload);
  if (remote.code === "P2P_TIMEOUT") return new RpcRemoteError("P2P_TIMEOUT", remote, `peer: ${remote.message}`);
  return new RpcRemoteError("P2P_PROTOCOL", remote, `peer answered ${remote.code || "an error"}: ${remote.message}`);
}
