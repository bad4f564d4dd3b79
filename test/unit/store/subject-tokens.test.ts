import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelInquiryStore } from "../../../src/store/level-inquiry-store.js";
import { subjectTokens } from "../../../src/store/subject-tokens.js";

let dir: string;
let db: NodeDatabase;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "creditmesh-subject-tokens-"));
  db = await NodeDatabase.open(dir);
});

afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const token = (c: string) => c.repeat(64);

async function all(signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  for await (const t of subjectTokens(db, signal)) out.push(t);
  return out;
}

describe("subjectTokens", () => {
  it("lists each subject once, whether it has accounts, inquiries or both", async () => {
    await db.levels.subj.batch([
      { type: "put", key: `${token("b")}!acct-1`, value: "x" },
      { type: "put", key: `${token("b")}!acct-2`, value: "x" },
      { type: "put", key: `${token("a")}!acct-9`, value: "x" },
    ]);
    await new LevelInquiryStore(db).add(token("c"), {
      inquiryId: "q-1",
      requesterInstitutionId: "bank-b",
      requesterName: "",
      purpose: Purpose.LOAN_ORIGINATION,
      inquiredAt: new Date("2026-12-01T00:00:00Z"),
    });
    await new LevelInquiryStore(db).add(token("b"), {
      inquiryId: "q-2",
      requesterInstitutionId: "bank-b",
      requesterName: "",
      purpose: Purpose.LOAN_ORIGINATION,
      inquiredAt: new Date("2026-12-01T00:00:00Z"),
    });
    expect(await all()).toEqual([token("a"), token("b"), token("c")]);
  });

  it("lists nothing for an empty index, and stops when aborted", async () => {
    expect(await all()).toEqual([]);
    await db.levels.subj.put(`${token("d")}!acct-1`, "x");
    const controller = new AbortController();
    controller.abort();
    await expect(all(controller.signal)).rejects.toThrow();
  });
});
