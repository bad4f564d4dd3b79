import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitForNode } from "../../../src/testnet/processes.js";
import { tempDir } from "../../helpers/temp.js";

describe("waitForNode", () => {
  let temp: ReturnType<typeof tempDir>;
  let configFile: string;
  beforeEach(() => {
    temp = tempDir();
    configFile = path.join(temp.dir, "config.json");
    writeFileSync(configFile, JSON.stringify({ institution: { id: "bank-x", name: "Bank X" }, storage: { dataDir: path.join(temp.dir, "data") } }));
  });
  afterEach(() => temp.remove());

  it("names the log and quotes its last lines when the node exits before it is ready", async () => {
    const logFile = path.join(temp.dir, "node.log");
    writeFileSync(logFile, [...Array.from({ length: 20 }, (_, i) => `{"msg":"line ${i}"}`), `{"msg":"listen EADDRINUSE: 127.0.0.1:24001"}`, ""].join("\n"));
    const child = spawn(process.execPath, ["-e", "process.exit(3)"], { stdio: "ignore" });
    await once(child, "exit");
    const err = (await waitForNode(configFile, child.pid!, 5_000, logFile).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toContain(`exited during start; see ${logFile}`);
    expect(err.message).toContain("EADDRINUSE: 127.0.0.1:24001");
    expect(err.message).toContain('"line 9"');
    // Only the tail: a long log does not flood the error.
    expect(err.message).not.toContain('"line 8"');
  });

  it("still names the log when there is none to quote", async () => {
    const child = spawn(process.execPath, ["-e", "process.exit(1)"], { stdio: "ignore" });
    await once(child, "exit");
    const missing = path.join(temp.dir, "absent.log");
    const err = (await waitForNode(configFile, child.pid!, 5_000, missing).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(new RegExp(`exited during start; see ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
  });
});
