import { mkdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { backupDirUnder } from "../../../src/config/backup-root.js";
import { isCreditMeshError } from "../../../src/errors.js";
import { tempDir } from "../../helpers/temp.js";

const tmp = tempDir("cm-backup-root-");
afterAll(() => tmp.remove());
const root = path.join(tmp.dir, "backups");
mkdirSync(root);

function refusal(outDir: string): unknown {
  try {
    backupDirUnder(root, outDir);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("backupDirUnder", () => {
  it("resolves relative and absolute paths inside the root", () => {
    expect(backupDirUnder(root, "nightly/2026-12-03")).toBe(path.join(root, "nightly", "2026-12-03"));
    expect(backupDirUnder(root, path.join(root, "b1"))).toBe(path.join(root, "b1"));
  });

  it("refuses the root itself, parents, absolute paths elsewhere and NUL, as a field error on out_dir", () => {
    for (const outDir of [".", "..", "../../..", "a/../../x", "/etc", path.join(tmp.dir, "beside"), "x\0y"]) {
      const err = refusal(outDir);
      expect(isCreditMeshError(err, "VALIDATION_FAILED"), outDir).toBe(true);
      expect((err as { field?: string }).field).toBe("out_dir");
    }
  });

  it("refuses a symlink inside the root that points out of it", () => {
    const outside = path.join(tmp.dir, "outside");
    mkdirSync(outside);
    symlinkSync(outside, path.join(root, "escape"));
    expect(isCreditMeshError(refusal("escape/b2"), "VALIDATION_FAILED")).toBe(true);
  });
});
