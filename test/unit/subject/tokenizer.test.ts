import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HmacSubjectTokenizer, nameForms, tokenKeyedNameTag, tokenKeyedNameTags } from "../../../src/subject/tokenizer.js";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const SUBJECT = { idTypeName: "CN_RESIDENT_ID", normalizedId: "11010519491231002X" };

describe("HmacSubjectTokenizer", () => {
  it("matches an independently computed HMAC-SHA256 vector", () => {
    expect(new HmacSubjectTokenizer(KEY).token(SUBJECT)).toBe(
      "664a3bf5b1cb4e8a06d2050cb2baa3f01d551eb1e232f6b7b3f589f8d2b22c02",
    );
  });

  it("is deterministic across instances with the same key", () => {
    const a = new HmacSubjectTokenizer(KEY).token(SUBJECT);
    const b = new HmacSubjectTokenizer(Uint8Array.from(KEY)).token({ ...SUBJECT });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it("depends on the key", () => {
    const other = Uint8Array.from(KEY);
    other[0] ^= 1;
    expect(new HmacSubjectTokenizer(other).token(SUBJECT)).not.toBe(new HmacSubjectTokenizer(KEY).token(SUBJECT));
  });

  it("depends on both the id type and the id", () => {
    const t = new HmacSubjectTokenizer(KEY);
    const base = t.token(SUBJECT);
    expect(t.token({ ...SUBJECT, idTypeName: "PASSPORT" })).not.toBe(base);
    expect(t.token({ ...SUBJECT, normalizedId: "110105194912310030" })).not.toBe(base);
  });

  it("hashes idTypeName ':' normalizedId", () => {
    const expected = createHmac("sha256", KEY).update("PASSPORT:E12345678").digest("hex");
    expect(new HmacSubjectTokenizer(KEY).token({ idTypeName: "PASSPORT", normalizedId: "E12345678" })).toBe(expected);
  });

  it("is not affected by later changes to the caller's key buffer", () => {
    const key = Uint8Array.from(KEY);
    const t = new HmacSubjectTokenizer(key);
    const before = t.token(SUBJECT);
    key.fill(0);
    expect(t.token(SUBJECT)).toBe(before);
  });

  it("refuses a key shorter than 16 bytes", () => {
    for (const length of [0, 15]) {
      expect(() => new HmacSubjectTokenizer(new Uint8Array(length))).toThrow(
        expect.objectContaining({ code: "CONFIG_INVALID" }),
      );
    }
    expect(() => new HmacSubjectTokenizer(new Uint8Array(16))).not.toThrow();
  });
});

describe("tokenKeyedNameTag", () => {
  const token = "c".repeat(64);

  it("ignores case, width and spaces, and is keyed by the token: another token or name gives another tag", () => {
    const tag = tokenKeyedNameTag(token, "Li Na");
    expect(tag).toMatch(/^[0-9a-f]{32}$/);
    expect(tokenKeyedNameTag(token, " ＬＩ　na ")).toBe(tag);
    expect(tokenKeyedNameTag("d".repeat(64), "Li Na")).not.toBe(tag);
    expect(tokenKeyedNameTag(token, "Li Nan")).not.toBe(tag);
  });

  it("ignores invisible format characters an export left in, and no visible character but name separators", () => {
    const tag = tokenKeyedNameTag(token, "陈思远");
    for (const spelled of ["陈思远\u200b", "\ufeff陈思远", "陈\u200d思\u00ad远", "陈思远\u2060"]) expect(tokenKeyedNameTag(token, spelled)).toBe(tag);
    for (const other of ["陈思远1", "陈思远,", "陈思远_", "陈思", "陈思远远"]) expect(tokenKeyedNameTag(token, other)).not.toBe(tag);
  });

  it("ignores the separators core systems put in a minority or foreign name, or leave out", () => {
    const tag = tokenKeyedNameTag(token, "阿卜杜拉·买买提");
    const spellings = [
      "阿卜杜拉买买提", // left out
      "阿卜杜拉•买买提", // bullet
      "阿卜杜拉・买买提", // katakana middle dot
      "阿卜杜拉･买买提", // its half-width form
      "阿卜杜拉‧买买提", // hyphenation point
      "阿卜杜拉∙买买提", // bullet operator
      "阿卜杜拉⋅买买提", // dot operator
      "阿卜杜拉\u0387买买提", // Greek ano teleia, NFKC's middle dot
      "阿卜杜拉.买买提",
      "阿卜杜拉．买买提", // full-width full stop
      "阿卜杜拉。买买提", // ideographic full stop
      "阿卜杜拉-买买提",
      "阿卜杜拉 · 买买提",
      "阿卜杜拉··买买提",
    ];
    for (const spelled of spellings) expect(tokenKeyedNameTag(token, spelled), spelled).toBe(tag);
    expect(tokenKeyedNameTag(token, "阿卜杜拉·买买")).not.toBe(tag);
    expect(tokenKeyedNameTag(token, "JEAN-PIERRE")).toBe(tokenKeyedNameTag(token, "Jean Pierre"));
  });

  it("gives, besides the tag made now, the tags nodes made before separators were ignored, so their stored tags still match", () => {
    const key = createHash("sha256").update(`creditmesh-token-derived-key/v1\0name-tag\0${token}`).digest();
    /** A tag as a node stored it before: the name upper-cased without spaces, its separator kept. */
    const earlier = (normalized: string) => createHmac("sha256", key).update(normalized).digest("hex").slice(0, 32);
    const tags = tokenKeyedNameTags(token, "阿卜杜拉•买买提");
    expect(tags[0]).toBe(tokenKeyedNameTag(token, "阿卜杜拉•买买提"));
    expect(tags[0]).toBe(earlier("阿卜杜拉买买提"));
    for (const stored of ["阿卜杜拉·买买提", "阿卜杜拉•买买提", "阿卜杜拉・买买提", "阿卜杜拉.买买提", "阿卜杜拉-买买提"]) expect(tags, stored).toContain(earlier(stored));
    expect(new Set(tags).size).toBe(tags.length);
    expect(tags).not.toContain(earlier("阿卜杜拉·买买"));
    // A name without separators was tagged then as now: one tag.
    expect(tokenKeyedNameTags(token, "陈思远")).toEqual([tokenKeyedNameTag(token, "陈思远")]);
    expect(nameForms(" Li  na ")).toEqual(["LINA"]);
    expect(nameForms("ＪＥＡＮ－Pierre")).toEqual(["JEANPIERRE", "JEAN-PIERRE", "JEAN·PIERRE", "JEAN•PIERRE", "JEAN・PIERRE", "JEAN.PIERRE"]);
    // The shared-key tokenizer of legacy networks gives the same forms, under its own key.
    const hmac = new HmacSubjectTokenizer(Buffer.alloc(32, 1));
    expect(hmac.nameTags(token, "阿卜杜拉•买买提")[0]).toBe(hmac.nameTag(token, "阿卜杜拉买买提"));
    expect(hmac.nameTags(token, "阿卜杜拉•买买提")).toHaveLength(tags.length);
  });

  it("matches an independently computed HMAC over the name with the token-derived key", () => {
    const key = createHash("sha256").update(`creditmesh-token-derived-key/v1\0name-tag\0${token}`).digest();
    expect(tokenKeyedNameTag(token, "陈思远")).toBe(createHmac("sha256", key).update("陈思远").digest("hex").slice(0, 32));
    expect(tokenKeyedNameTag(token, "陈思远")).not.toBe(new HmacSubjectTokenizer(Buffer.alloc(32, 1)).nameTag(token, "陈思远"));
  });
});
