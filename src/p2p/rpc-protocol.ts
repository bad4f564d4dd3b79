import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { RateLimiter } from "../rate-limit.js";
import type { PeerComponents } from "./components.js";
import type { PeerService } from "./peer-node.js";
import { RpcServer } from "./rpc-server.js";

/** The limits every request/answer protocol sets for itself. */
export interface RpcProtocolInit {
  /** Largest request or answer of this protocol, in bytes. */
  maxFrameBytes: number;
  /** The handler is abandoned after this and the requester gets P2P_TIMEOUT. */
  handlerTimeoutMs: number;
  /** A started frame must be complete within this (default DEFAULT_RPC_PARTIAL_FRAME_TIMEOUT_MS). */
  partialFrameTimeoutMs?: number;
}

/**
 * One request/answer peer protocol, both ends in one class (the shape of
 * js-libp2p's protocol-fetch): `handleMessage` serves a peer's request while
 * the node runs, `request` sends one to a peer. The peer node starts and
 * stops it with the other services.
 *
 * A new protocol: add its versioned id and limits to protocols.ts, extend
 * this class, open requests with `openSignedRequest()` (signed-request.ts)
 * and seal answers with `sealSigned()`, then register it in the composition
 * root (node/credit-node.ts) with `peer.addService()`.
 */
export abstract class RpcProtocol implements PeerService {
  abstract readonly protocol: string;
  #server: RpcServer | undefined;

  protected constructor(
    protected readonly components: Pick<PeerComponents, "peer" | "rpc" | "logger">,
    protected readonly limits: RpcProtocolInit,
  ) {}

  /** Answers one request from `from`; a thrown CreditMeshError reaches the requester as an error frame (code, message, field). */
  abstract handleMessage(body: Uint8Array, from: { peerId: string }, signal: AbortSignal): Promise<Uint8Array>;

  async start(): Promise<void> {
    if (this.#server) return;
    const server = new RpcServer(this.components.peer, this.protocol, (body, from, signal) => this.handleMessage(body, from, signal), {
      maxFrameBytes: this.limits.maxFrameBytes,
      handlerTimeoutMs: this.limits.handlerTimeoutMs,
      ...(this.limits.partialFrameTimeoutMs === undefined ? {} : { partialFrameTimeoutMs: this.limits.partialFrameTimeoutMs }),
      logger: this.components.logger,
    });
    await server.start();
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    await server?.stop();
  }

  /**
   * Opens an unsigned request, whose only sender is the connection's member:
   * past `key`'s budget it is refused RATE_LIMITED before a byte is read, and
   * bytes that do not decode are P2P_PROTOCOL ("malformed <what>"). Signed
   * requests go through `openSignedRequest()` instead.
   */
  protected openUnsigned<T>(body: Uint8Array, what: string, decode: (bytes: Uint8Array) => T, rate: { limiter?: RateLimiter; key: string }): T {
    if (rate.limiter && !rate.limiter.tryTake(rate.key)) throw new CreditMeshError("RATE_LIMITED", `${what} rate limit exceeded; retry later`);
    try {
      return decode(body);
    } catch (cause) {
      throw new CreditMeshError("P2P_PROTOCOL", `malformed ${what}`, { cause });
    }
  }

  /** Sends one request of this protocol to `peerId` and returns the answer's bytes. */
  protected request(peerId: string, body: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    return this.components.rpc.request(peerId, this.protocol, body, signal, { maxFrameBytes: this.limits.maxFrameBytes });
  }

  protected get log(): Logger {
    return this.components.logger;
  }
}
