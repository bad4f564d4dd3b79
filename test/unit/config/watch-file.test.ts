import { mkdtemp, rm } from "node:fs/promises";
import { renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchFileChanges } from "../../../src/config/watch-file.js";

let dir: string;
let stops: Array<() => void>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-watch-"));
  stops = [];
});

afterEach(async () => {
  for (const stop of stops) stop();
  await rm(dir, { recursive: true, force: true });
});

function counter(file: string): { calls: () => number } {
  let n = 0;
  stops.push(watchFileChanges(file, () => n++, { settleMs: 5 }));
  return { calls: () => n };
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

describe("watchFileChanges", () => {
  it("sees a write made in the same turn as it starts watching", async () => {
    const file = join(dir, "a.json");
    writeFileSync(file, "1");
    const seen = counter(file);
    writeFileSync(file, "2");
    await until(() => seen.calls() > 0);
    expect(seen.calls()).toBe(1);
  });

  it("sees a file replaced by rename, and again after that", async () => {
    const file = join(dir, "a.json");
    writeFileSync(file, "1");
    const seen = counter(file);
    for (const round of [1, 2]) {
      writeFileSync(file + ".tmp", String(round));
      renameSync(file + ".tmp", file);
      await until(() => seen.calls() >= round);
      expect(seen.calls()).toBe(round);
    }
  });

  it("ignores other files in the directory and stops when asked", async () => {
    const file = join(dir, "a.json");
    writeFileSync(file, "1");
    let n = 0;
    const stop = watchFileChanges(file, () => n++, { settleMs: 5 });
    writeFileSync(join(dir, "b.json"), "x");
    await new Promise((r) => setTimeout(r, 100));
    expect(n).toBe(0);
    stop();
    writeFileSync(file, "2");
    await new Promise((r) => setTimeout(r, 100));
    expect(n).toBe(0);
  });
});
