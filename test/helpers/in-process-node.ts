import { Writable } from "node:stream";
import type { Clock } from "../../src/clock.js";
import { parseConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/logger.js";
import { CreditNode } from "../../src/node/credit-node.js";
import { tempDir } from "./temp.js";

/** Every log line the node wrote, for assertions on what reaches the logs. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join("\n");
  }
}

export interface InProcessNode {
  node: CreditNode;
  address: string;
  apiKey: string;
  logs: LogCapture;
  dataDir: string;
  stop(): Promise<void>;
}

/** One node in this process on a temp LevelDB and a free port. */
export async function startInProcessNode(opts: { institutionId?: string; config?: Record<string, unknown>; clock?: Clock } = {}): Promise<InProcessNode> {
  const tmp = tempDir("cm-node-");
  const logs = new LogCapture();
  const config = parseConfig({
    institution: { id: opts.institutionId ?? "test-bank", name: "Test Bank" },
    storage: { dataDir: tmp.dir },
    grpc: { host: "127.0.0.1", port: 0 },
    metrics: { enabled: false },
    log: { level: "debug" },
    ...opts.config,
  });
  const node = CreditNode.create({ config, logger: createLogger({ level: "debug", destination: logs }), clock: opts.clock });
  await node.start();
  return {
    node,
    address: node.grpcAddress,
    apiKey: node.localApiKey,
    logs,
    dataDir: tmp.dir,
    stop: async () => {
      await node.stop();
      tmp.remove();
    },
  };
}
