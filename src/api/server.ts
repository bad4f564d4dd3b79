import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { GrpcTlsConfig, TlsMaterial } from "../config/tls.js";
import { CreditNodeService } from "../gen/creditmesh/v1/node.js";
import type { Logger } from "../logger.js";
import type { ClientAuth } from "./auth.js";
import { ReloadingTlsCredentials } from "./tls-credentials.js";
import { createHandlers, type ApiModules } from "./handlers.js";
import { createReflection } from "./reflection.js";
import { authenticateBeforeBody } from "./auth-interceptor.js";
import { guardRequests } from "./request-limits.js";
import { grpcServerChannelOptions } from "./server-options.js";

export const SERVICE_NAME = "creditmesh.v1.CreditNode";

export interface GrpcServerOptions {
  host: string;
  port: number;
  maxBatchRecords: number;
  maxMessageBytes: number;
  /** Request size limits of the other methods (see request-limits.ts). */
  maxRequestBytes: number;
  methodMaxRequestBytes: Record<string, number>;
  /** TLS (mutual when it has a client CA), reloaded when its files change; plaintext without. */
  tls?: { config: GrpcTlsConfig; material: TlsMaterial };
}

/** The node's gRPC endpoint: CreditNode, grpc.health.v1 and reflection (both open). */
export class GrpcServer {
  private server?: Server;
  private readonly health = new HealthImplementation({ "": "NOT_SERVING", [SERVICE_NAME]: "NOT_SERVING" });
  private boundPort = 0;
  private tlsCredentials?: ReloadingTlsCredentials;

  constructor(
    private readonly opts: GrpcServerOptions,
    private readonly modules: ApiModules & { auth: ClientAuth; logger: Logger },
  ) {}

  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return `${this.opts.host}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = new Server({
      ...grpcServerChannelOptions(this.opts.maxMessageBytes),
      interceptors: [authenticateBeforeBody(SERVICE_NAME, this.modules.auth, this.modules.logger, this.modules.metrics)],
    });
    const { maxBatchRecords, maxRequestBytes, methodMaxRequestBytes } = this.opts;
    server.addService(
      guardRequests(CreditNodeService, { maxBatchRecords, maxRequestBytes, methodMaxRequestBytes }, this.modules.metrics),
      createHandlers({ maxBatchRecords }, this.modules),
    );
    this.health.addToServer(server);
    createReflection([SERVICE_NAME, "grpc.health.v1.Health"]).addToServer(server);
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.opts.host}:${this.opts.port}`, this.credentials(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.server = server;
    this.health.setStatus("", "SERVING");
    this.health.setStatus(SERVICE_NAME, "SERVING");
    this.tlsCredentials?.start();
    this.modules.auth.start();
    const tls = this.opts.tls ? (this.opts.tls.material.clientCa ? "mutual" : "server") : "off";
    this.modules.logger.info({ address: this.address, tls }, "gRPC listening");
  }

  private credentials(): ServerCredentials {
    const tls = this.opts.tls;
    if (!tls) return ServerCredentials.createInsecure();
    this.tlsCredentials = new ReloadingTlsCredentials(tls.config, tls.material, this.modules.logger, this.modules.metrics);
    return this.tlsCredentials.serverCredentials();
  }

  /** Stops taking calls, lets running ones finish for `graceMs`, then cuts them. */
  async stop(graceMs = 5_000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.tlsCredentials?.stop();
    this.modules.auth.stop();
    this.health.setStatus("", "NOT_SERVING");
    this.health.setStatus(SERVICE_NAME, "NOT_SERVING");
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
