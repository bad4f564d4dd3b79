import { writeFileSync } from "node:fs";
import path from "node:path";
import iconv from "iconv-lite";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { decodedChunks, FileEncodingError, fileEncodingOf } from "../../../src/cli/record-file-decode.js";
import { tempDir } from "../../helpers/temp.js";

const tmp = tempDir("cm-decode-");
afterAll(() => tmp.remove());
let n = 0;
function file(bytes: Uint8Array): string {
  const p = path.join(tmp.dir, `f${n++}.csv`);
  writeFileSync(p, bytes);
  return p;
}

async function decode(p: string, encoding: "utf-8" | "gb18030" | "gbk" = "utf-8"): Promise<string> {
  let text = "";
  for await (const chunk of decodedChunks(p, encoding)) text += chunk;
  return text;
}

async function failure(p: string): Promise<FileEncodingError> {
  try {
    await decode(p);
  } catch (err) {
    expect(err).toBeInstanceOf(FileEncodingError);
    return err as FileEncodingError;
  }
  throw new Error("decoded without error");
}

describe("decodedChunks", () => {
  it("decodes UTF-8 whole across 64 KiB chunk boundaries and drops a BOM", async () => {
    const text = "record_type,name\n" + "account,欧阳𠀀娜\n".repeat(20_000);
    expect(await decode(file(Buffer.from("\uFEFF" + text)))).toBe(text);
  });

  it("reads GB18030 and GBK with --encoding, BOM or not", async () => {
    const text = "record_type,name\naccount,张伟\naccount,欧阳娜娜\n";
    expect(await decode(file(iconv.encode(text, "gb18030")), "gb18030")).toBe(text);
    expect(await decode(file(iconv.encode(text, "gbk")), "gbk")).toBe(text);
    expect(await decode(file(iconv.encode(text, "gb18030", { addBOM: true })), "gb18030")).toBe(text);
  });

  it("names the line and byte offset of the first invalid UTF-8 byte, wherever it falls", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: "grapheme", maxLength: 30 }), { minLength: 1, maxLength: 3000 }), fc.nat(), async (lines, at) => {
        const good = Buffer.from(lines.map((l) => l.replaceAll("\n", " ")).join("\n") + "\n");
        const offset = at % good.length;
        // 0xFF is never valid in UTF-8; insert it at a character boundary.
        const boundary = Buffer.from(good.subarray(0, offset).toString("utf8").replace(/\uFFFD$/, "")).length;
        const bad = Buffer.concat([good.subarray(0, boundary), Buffer.from([0xff]), good.subarray(boundary)]);
        const err = await failure(file(bad));
        expect(err.byteOffset).toBe(boundary);
        expect(err.line).toBe(good.subarray(0, boundary).filter((b) => b === 10).length + 1);
        expect(err.message).toContain(`byte offset ${boundary}`);
      }),
      { numRuns: 40 },
    );
  });

  it("refuses a file ending inside a character, and a NUL in the first line as a binary file", async () => {
    const cut = Buffer.from("a,b\n张");
    expect((await failure(file(cut.subarray(0, cut.length - 1)))).line).toBe(2);
    const bin = await failure(file(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00])));
    expect(bin.message).toContain("line 1: header: not a text file");
  });

  it("accepts only the encodings it knows", () => {
    expect(fileEncodingOf("UTF8")).toBe("utf-8");
    expect(fileEncodingOf("GB18030")).toBe("gb18030");
    expect(() => fileEncodingOf("latin1")).toThrow(/encoding: must be one of utf-8, gb18030, gbk/);
  });
});
