import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";

/** Prometheus text on GET /metrics. */
export class MetricsServer {
  private server?: Server;

  constructor(
    private readonly opts: { host: string; port: number },
    private readonly modules: {
      logger: Logger;
      metrics: Pick<Metrics, "registry">;
      /** Serves other paths first (the transparency log's); returns false for a path it does not own. */
      extra?: (req: IncomingMessage, res: ServerResponse) => boolean;
    },
  ) {}

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      if (this.modules.extra?.(req, res)) return;
      if (req.url !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      const { registry } = this.modules.metrics;
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    const addr = server.address();
    this.modules.logger.info({ port: typeof addr === "object" && addr ? addr.port : this.opts.port }, "metrics listening on /metrics (and the transparency log's paths)");
  }

  /** The bound address (port 0 resolved), once started. */
  get address(): string {
    const addr = this.server?.address();
    if (!addr || typeof addr !== "object") return "";
    return `${addr.address}:${addr.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
