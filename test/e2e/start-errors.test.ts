import { existsSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, writeConfig } from "../helpers/node-process.js";
import { tempDir } from "../helpers/temp.js";

/** A node that cannot start says which setting and port are at fault, in one line, and leaves nothing behind. */
describe("creditmesh start with a port already taken", () => {
  const tmp = tempDir("cm-start-errors-");
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    tmp.remove();
  });

  const occupy = async (): Promise<number> => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return (server.address() as { port: number }).port;
  };

  it.each([
    ["metrics.port", (port: number) => ({ grpc: { host: "127.0.0.1", port: 0 }, metrics: { enabled: true, host: "127.0.0.1", port } })],
    ["grpc.port", (port: number) => ({ grpc: { host: "127.0.0.1", port }, metrics: { enabled: false } })],
  ])("names %s and the port, and creates no data dir or secrets file", { timeout: 60_000 }, async (setting, section) => {
    const port = await occupy();
    const dir = path.join(tmp.dir, setting);
    mkdirSync(dir, { recursive: true });
    const dataDir = path.join(dir, "data");
    const configFile = writeConfig(path.join(dir, "node.json"), {
      institution: { id: "busy-bank", name: "Busy Bank" },
      storage: { dataDir },
      log: { level: "warn" },
      ...section(port),
    });
    const res = await cli(["start", "--config", configFile]);
    expect(res.code).not.toBe(0);
    const errorLines = res.stderr.split("\n").filter((l) => l.startsWith("creditmesh: "));
    expect(errorLines).toEqual([`creditmesh: port ${port} is already in use (${setting} in ${configFile}): stop the process holding it, or set another port there; nothing was created`]);
    expect(existsSync(dataDir)).toBe(false);
  });
});
