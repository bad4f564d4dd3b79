import { createServer, type Server } from "node:http";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";

/** Prometheus text on GET /metrics. */
export class MetricsServer {
  private server?: Server;

  constructor(
    private readonly opts: { host: string; port: number },
    private readonly modules: { logger: Logger; metrics: Pick<Metrics, "registry"> },
  ) {}

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
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
    this.modules.logger.info({ port: typeof addr === "object" && addr ? addr.port : this.opts.port }, "metrics listening on /metrics");
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
